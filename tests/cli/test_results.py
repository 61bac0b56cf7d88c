"""`dbarena runs | show | compare | baseline | history`: stored runs listed, shown, compared, promoted, exported."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.exit_codes import ExitCode
from harness.results import store
from harness.results.record import RunRecord
from tests.compare.records import synthetic_run
from tests.results.corpus import write_corpus


@functools.cache
def _records() -> tuple[RunRecord, RunRecord]:
    return (synthetic_run(1000, seconds=8, per_second=200, run_id="20260101T000000Z-fake-kv-cache-aaaa", seed=1),
            synthetic_run(3000, seconds=8, per_second=200, run_id="20260101T000100Z-fake-kv-cache-bbbb", seed=2))


@pytest.fixture
def two_runs(results: Path) -> tuple[RunRecord, RunRecord]:
    fast, slow = _records()
    store.save(fast)
    store.save(slow)
    return fast, slow


def test_runs_lists_and_filters(two_runs: tuple[RunRecord, RunRecord], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert all(r.run_id in out for r in two_runs)
    assert main(["runs", "--engine", "redis"]) == ExitCode.OK
    assert "no runs stored yet" in capsys.readouterr().out


def test_show_finds_a_run_by_prefix(two_runs: tuple[RunRecord, RunRecord], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "20260101T000100Z"]) == ExitCode.OK
    assert "fake 1 · kv-cache" in capsys.readouterr().out
    assert main(["show", "20260101"]) == ExitCode.USER_ERROR  # ambiguous
    assert "ambiguous" in capsys.readouterr().err


def test_compare_gates_on_regression(two_runs: tuple[RunRecord, RunRecord], capsys: pytest.CaptureFixture[str]) -> None:
    fast, slow = two_runs
    assert main(["compare", fast.run_id, slow.run_id]) == ExitCode.OK
    assert "verdict: REGRESSED" in capsys.readouterr().out
    assert main(["compare", fast.run_id, slow.run_id, "--fail-on-regression"]) == ExitCode.REGRESSED
    assert main(["compare", slow.run_id, fast.run_id, "--fail-on-regression"]) == ExitCode.OK
    capsys.readouterr()
    assert main(["compare", slow.run_id]) == ExitCode.USER_ERROR  # no baseline yet
    assert "no baseline for fake/kv-cache" in capsys.readouterr().err


def test_compare_names_the_presets_baseline(two_runs: tuple[RunRecord, RunRecord], results: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A run of a preset is judged against that preset's baseline, and the message names it (not the workload's)."""
    fast, _ = two_runs
    assert main(["baseline", "promote", fast.run_id]) == ExitCode.OK  # fake/kv-cache exists
    preset = fast.model_copy(update={"run_id": "20260101T000200Z-fake-kv-cache-cccc", "preset": "ycsb-c"})
    store.save(preset)
    capsys.readouterr()
    assert main(["compare", preset.run_id]) == ExitCode.USER_ERROR
    assert "no baseline for fake/kv-cache-ycsb-c;" in capsys.readouterr().err


def test_baseline_promote_then_compare_against_it(two_runs: tuple[RunRecord, RunRecord], results: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    fast, slow = two_runs
    assert main(["baseline", "promote"]) == ExitCode.USER_ERROR
    assert main(["baseline", "promote", fast.run_id]) == ExitCode.OK
    assert f"baseline written: {results / 'baselines' / 'fake' / 'kv-cache.json'}" in capsys.readouterr().out
    assert main(["baseline", "list"]) == ExitCode.OK
    assert fast.run_id in capsys.readouterr().out
    assert main(["compare", slow.run_id, "--fail-on-regression"]) == ExitCode.REGRESSED


def test_history_prints_and_exports(two_runs: tuple[RunRecord, RunRecord], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--engine", "fake"]) == ExitCode.OK
    assert two_runs[0].run_id in capsys.readouterr().out
    target = tmp_path / "h.csv"
    assert main(["history", "--csv", str(target)]) == ExitCode.OK
    assert f"2 rows written to {target}" in capsys.readouterr().out and target.exists()
    assert main(["history", "--workload", "nothing"]) == ExitCode.OK
    assert "no runs match" in capsys.readouterr().out


def test_history_keeps_each_configuration_in_its_own_table(two_runs: tuple[RunRecord, RunRecord],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A preset run and a 24-user run are not rows of one trend with the plain runs: each series its own table."""
    fast, _ = two_runs
    store.save(fast.model_copy(update={"run_id": "20260101T000200Z-fake-kv-cache-cccc", "preset": "ycsb-c"}))
    store.save(fast.model_copy(update={"run_id": "20260101T000300Z-fake-kv-cache-dddd",
                                       "load": fast.load.model_copy(update={"users": 24})}))
    assert main(["history", "--engine", "fake"]) == ExitCode.OK
    blocks = capsys.readouterr().out.split("\n\n")
    headings = [block.splitlines()[0] for block in blocks]
    assert len(headings) == 3 and all(h.startswith("== fake kv-cache") for h in headings), headings
    assert sum(":ycsb-c" in h for h in headings) == 1 and sum("24 users" in h for h in headings) == 1
    plain = next(b for b in blocks if ":ycsb-c" not in b.splitlines()[0] and "24 users" not in b.splitlines()[0])
    assert all(r.run_id in plain for r in two_runs) and "cccc" not in plain and "dddd" not in plain


def _lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return err.splitlines()


def test_listings_skip_each_broken_record_in_one_line(two_runs: tuple[RunRecord, RunRecord], results: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    expected = write_corpus(results / "runs", two_runs[0])
    for command in (["runs"], ["history"], ["history", "--csv", str(results / "h.csv")]):
        assert main(command) == ExitCode.OK, command
        out, err = capsys.readouterr()
        assert all(r.run_id in out for r in two_runs) or "2 rows" in out
        lines = _lines(err)
        assert len(lines) == len(expected), command
        for name, reason in expected.items():
            assert sum(line.startswith(f"dbarena: skipped {results / 'runs' / name}: {reason}") for line in lines) == 1
    fast, slow = two_runs
    assert main(["compare", fast.run_id, slow.run_id]) == ExitCode.OK  # named runs: the broken ones are not read
    assert _lines(capsys.readouterr().err) == []


def test_report_skips_broken_runs_baselines_capacity_and_selections(two_runs: tuple[RunRecord, RunRecord], results: Path,
                                                                     tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    expected = write_corpus(results / "runs", two_runs[0])
    broken = {results / "baselines" / "fake" / "kv-cache.json": b"[1,2,3]",
              results / "capacity" / "c.json": b"\xff\xfe",
              results / "selections" / "s.json": b'{"selection_id": 1}'}
    for path, content in broken.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    assert main(["report", "--out", str(tmp_path / "report")]) == ExitCode.OK
    lines = _lines(capsys.readouterr().err)
    assert len(lines) == len(expected) + len(broken)  # each file once, though the runs are read for two purposes
    assert f"dbarena: skipped {results / 'baselines' / 'fake' / 'kv-cache.json'}: a JSON array, not a JSON object " \
           "(not a dbarena record)" in lines
    assert any(line.startswith(f"dbarena: skipped {results / 'capacity' / 'c.json'}: not UTF-8 (byte 0xff at 0)")
               for line in lines)
    assert any(line.startswith(f"dbarena: skipped {results / 'selections' / 's.json'}: selection_id: ") for line in lines)
    assert (tmp_path / "report" / "report.md").exists()
    assert main(["baseline", "list"]) == ExitCode.OK
    assert _lines(capsys.readouterr().err) == [
        f"dbarena: skipped {results / 'baselines' / 'fake' / 'kv-cache.json'}: "
        "a JSON array, not a JSON object (not a dbarena record)"]


def test_show_or_compare_of_a_broken_record_is_one_line(two_runs: tuple[RunRecord, RunRecord], results: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    expected = write_corpus(results / "runs", two_runs[0])
    for name, reason in expected.items():
        path = results / "runs" / name
        assert main(["show", str(path)]) == ExitCode.USER_ERROR, name
        (line,) = _lines(capsys.readouterr().err)
        assert line.startswith(f"dbarena: {path}: {reason}"), line
    path = results / "runs" / "null.json"
    assert main(["compare", str(path), two_runs[1].run_id]) == ExitCode.USER_ERROR
    assert _lines(capsys.readouterr().err) == [f"dbarena: {path}: JSON null, not a JSON object (not a dbarena record)"]
    assert main(["show", "null"]) == ExitCode.USER_ERROR  # an id prefix naming a broken file
    assert _lines(capsys.readouterr().err) == [f"dbarena: {path}: JSON null, not a JSON object (not a dbarena record)"]


def test_history_marks_a_percentile_from_too_few_samples(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = synthetic_run(1000, seconds=2, per_second=100, run_id="20260101T000200Z-fake-kv-cache-cccc")  # ~200
    store.save(short)
    assert main(["history"]) == ExitCode.OK
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if short.run_id in line]
    latency = short.operations["read"].latency_us
    assert latency is not None
    assert f"{latency.p50:,.0f} " in row + " " and f"{latency.p99:,.0f}*" in row  # p50 needs 20, p99 1,000
    assert "* from fewer than 10/(1-q) samples" in out
    target = results / "h.csv"
    assert main(["history", "--csv", str(target)]) == ExitCode.OK
    assert "*" not in target.read_text(encoding="utf-8")  # the export keeps the numbers


def test_runs_shows_the_group_and_the_study_a_run_belongs_to(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """group: the record's `bench --repeat` group (repeat/repeats); study: the stored capacity curve or selection."""
    from harness.studies.capacity import save_capacity
    from harness.studies.models import CapacityResult, CurvePoint, Ranked, SelectionResult
    from harness.studies.select import selections_dir

    plain, repeat, step, reference, select_step = (
        synthetic_run(1000, seconds=2, per_second=50, run_id=f"20260101T00000{i}Z-fake-kv-cache-{name}", seed=i)
        for i, name in enumerate(("plain", "rep", "capstep", "ref", "selstep")))
    repeat = repeat.model_copy(update={"group": "grp-1234", "repeat": 2, "repeats": 3})
    for record in (plain, repeat, step, reference, select_step):
        store.save(record)

    def point(run_id: str) -> CurvePoint:
        return CurvePoint(target_rate=100, achieved_ops_s=100, p50_us=1, p99_us=2, p999_us=3, slo_met=True,
                          valid=True, run_id=run_id)

    for cap_id, run_id in (("cap-own", step.run_id), ("cap-sel", select_step.run_id)):
        save_capacity(CapacityResult(capacity_id=cap_id, engine="fake", workload="kv-cache", slo="p99<=5ms",
                                     capacity_ops_s=100, curve=(point(run_id),), started_at="2026-01-01T00:00:00Z"))
    selection = SelectionResult(selection_id="sel-1", use_case="cache", workload="kv-cache", slo="p99<=5ms",
                                ranking=(Ranked(rank=1, engine="fake", capacity_ops_s=100, throughput_ops_s=1000,
                                                p99_us=2, reasons=(), capacity_ids=("cap-sel",),
                                                reference_ids=(reference.run_id,)),),
                                traits={}, started_at="2026-01-01T00:00:00Z")
    selections_dir().mkdir(parents=True, exist_ok=True)
    (selections_dir() / "sel-1.json").write_text(selection.model_dump_json())
    assert main(["runs"]) == ExitCode.OK
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if "kv-cache-" in line}
    assert lines[repeat.run_id].rstrip().endswith("grp-1234 2/3")
    assert lines[step.run_id].rstrip().endswith("capacity cap-own")
    assert lines[reference.run_id].rstrip().endswith("select sel-1")
    assert lines[select_step.run_id].rstrip().endswith("select sel-1")
    assert lines[plain.run_id].rstrip().endswith("yes")  # neither group nor study
