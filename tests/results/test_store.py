"""Run records round-trip through JSON, are written atomically and exclusively, and broken ones are skipped with a reason."""

from __future__ import annotations

import errno
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.errors import UserError
from harness.results import store
from harness.results.migrate import migrate
from harness.results.record import SCHEMA_VERSION, LoadSettings, OperationResult, Percentiles, RunRecord
from tests.results.corpus import write_corpus


def sample_record(run_id: str = "20260101T000000Z-fake-kv-cache-abcd") -> RunRecord:
    return RunRecord(
        run_id=run_id, started_at="2026-01-01T00:00:00+00:00", complete=True, engine="fake",
        engine_version="fake-1", workload="kv-cache", workload_hash="0123456789abcdef", seed=42, scale=1.0,
        load=LoadSettings(users=2, processes=1, duration_s=1, warmup_s=0, target_rate=None, schedule="poisson"),
        manifest={"python": "3.11"}, valid=True,
        operations={"read": OperationResult(kind="read", count=10, throughput_ops_s=10.0,
                                            latency_us=Percentiles(p50=1, p90=2, p99=3, p999=4, max=5, mean=1.5))},
    )


def test_round_trip(tmp_path: Path) -> None:
    record = sample_record()
    path = store.save(record, tmp_path)
    assert store.load(path) == record
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    assert store.find_run("20260101T000000Z-fake", tmp_path) == record


def test_newer_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    data = json.loads(sample_record().model_dump_json())
    data["schema_version"] = 99
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="newer than this dbarena reads"):
        store.load(path)


def test_not_a_record_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.json"
    path.write_text("{not json")
    with pytest.raises(UserError, match=r"junk.json: not JSON \(Expecting property name"):
        store.load(path)
    assert store.all_runs(tmp_path) == []


def test_every_broken_record_is_skipped_with_its_reason_in_one_line(tmp_path: Path) -> None:
    good = store.save(sample_record(), tmp_path)
    expected = write_corpus(tmp_path, sample_record())
    skipped: list[store.Unreadable] = []
    assert store.all_runs(tmp_path, on_skip=skipped.append) == [(good, sample_record())]
    assert sorted(p.path.name for p in skipped) == sorted(expected)  # each broken file once, none silently
    for problem in skipped:
        assert problem.reason.startswith(expected[problem.path.name]), problem
        assert str(problem) == f"{problem.path}: {problem.reason}" and "\n" not in str(problem)
        with pytest.raises(store.Unreadable) as raised:  # `show FILE` says the same line
            store.find_run(str(problem.path))
        assert str(raised.value) == str(problem)


def test_future_and_missing_versions_are_clear_reasons() -> None:
    with pytest.raises(UserError, match=f"schema version {SCHEMA_VERSION + 1} is newer than this dbarena reads"):
        migrate({"schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(UserError, match="no schema_version"):
        migrate({})
    with pytest.raises(UserError, match="schema_version is True, not a whole number"):
        migrate({"schema_version": True})


def test_save_never_overwrites_and_the_run_id_is_the_file_name(tmp_path: Path) -> None:
    first = sample_record()
    path = store.save(first, tmp_path)
    second = first.model_copy(update={"seed": 7})  # another run, same second, same suffix drawn
    other_path, saved = store.save_unique(second, tmp_path)
    assert other_path != path and store.load(path) == first  # the first run is untouched
    assert saved.run_id == other_path.stem != first.run_id
    assert saved.run_id.startswith("20260101T000000Z-fake-kv-cache-") and len(saved.run_id) == len(first.run_id)
    assert store.load(other_path) == saved == second.model_copy(update={"run_id": saved.run_id})
    plain = store.save(sample_record("run"), tmp_path)
    assert store.save(sample_record("run"), tmp_path).stem.startswith("run-")  # no suffix to replace: one is added
    assert plain.stem == "run"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".json")) == []  # no temporary files


def test_runs_saved_at_once_under_one_id_all_survive(tmp_path: Path) -> None:
    records = [sample_record().model_copy(update={"seed": seed}) for seed in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        saved = list(pool.map(lambda record: store.save_unique(record, tmp_path), records, timeout=60))
    assert len({path for path, _ in saved}) == len(records)
    assert sorted(store.load(path).seed for path, _ in saved) == list(range(24))
    assert all(store.load(path).run_id == path.stem == record.run_id for path, record in saved)


def test_taken_ids_are_retried_a_bounded_number_of_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store.secrets, "token_hex", lambda _n: "abcd")
    store.save(sample_record(), tmp_path)
    with pytest.raises(UserError, match=f"{store.ID_ATTEMPTS} run ids in a row were taken"):
        store.save(sample_record(), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["20260101T000000Z-fake-kv-cache-abcd.json"]


def test_exclusive_write_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(_src: object, _dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(store.os, "link", no_links)
    path = tmp_path / "x.json"
    store.write_new(path, "first")
    with pytest.raises(FileExistsError):
        store.write_new(path, "second")
    assert path.read_text() == "first" and [p.name for p in tmp_path.iterdir()] == ["x.json"]
    assert store.save(sample_record(), tmp_path) != store.save(sample_record(), tmp_path)


def test_find_run_by_exact_id_prefix_or_file_name(tmp_path: Path) -> None:
    short = store.save(sample_record("20260101T000000Z-fake-kv-cache-abcd"), tmp_path)
    store.save(sample_record("20260101T000000Z-fake-kv-cache-abcd-2"), tmp_path)
    assert store.find_run(short.stem, tmp_path).run_id == short.stem  # exact beats a longer id it prefixes
    assert store.find_run(short.name, tmp_path).run_id == short.stem  # a file name, folder left out
    with pytest.raises(UserError, match="ambiguous"):
        store.find_run("20260101T000000Z", tmp_path)
    with pytest.raises(store.Unreadable, match=r"nothing\.json: no such file"):
        store.find_run(str(tmp_path / "nothing.json"), tmp_path)
    with pytest.raises(UserError, match=r"no run '\[x'"):
        store.find_run("[x", tmp_path)  # glob characters are not a pattern


def test_unknown_run_id(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no run 'nope'"):
        store.find_run("nope", tmp_path)
