"""Run records round-trip through JSON, are written atomically, and refuse unknown schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import UserError
from harness.results import store
from harness.results.record import LoadSettings, OperationResult, Percentiles, RunRecord


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
    with pytest.raises(UserError, match="not a readable run record"):
        store.load(path)
    assert store.all_runs(tmp_path) == []


def test_unknown_run_id(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no run 'nope'"):
        store.find_run("nope", tmp_path)
