"""Capacity search steps and ranking logic, with a scripted engine response (no engine, no workers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import CapacitySearch, LoadProfile, Selection, Slo
from harness.studies.capacity import search_capacity
from harness.studies.select import load_traits, rank, ranking_text
from harness.studies.slo import parse_slo
from tests.compare.records import synthetic_run

ROOT = Path(__file__).resolve().parents[2]


def scripted_engine(knee: float):  # type: ignore[no-untyped-def]
    """A stand-in for run_benchmark: latency stays low below `knee` ops/s and explodes above it."""
    def run(request: RunRequest, progress: Progress) -> RunRecord:
        rate = request.load.target_rate or 0
        record = synthetic_run(2000 if rate <= knee else 50_000, seconds=4, per_second=int(rate),
                               run_id=f"r{rate:.0f}")
        return record.model_copy(update={"total_throughput_ops_s": rate})
    return run


def test_capacity_search_doubles_then_bisects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path))
    base = RunRequest(engine="fake", url="fake://", workload=load_workload(ROOT / "workloads" / "kv-cache.yaml"),
                      load=LoadProfile(users=4, duration=1, warmup=0))
    result = search_capacity(base, parse_slo("p99=10ms"), CapacitySearch(start_rate=100, max_rate=10_000, refine=3),
                             Progress(), run=scripted_engine(knee=700))
    rates = [p.target_rate for p in result.curve]
    assert {100, 200, 400, 800} <= set(rates) and 1600 not in rates  # doubled until the first miss
    assert result.capacity_ops_s is not None and 600 <= result.capacity_ops_s <= 700
    assert all(p.slo_met == (p.target_rate <= 700) for p in result.curve)


def test_slo_parsing() -> None:
    assert parse_slo("p99=5ms") == Slo(percentile="p99", max_ms=5)
    assert parse_slo("p999<=250us").max_ms == pytest.approx(0.25)
    with pytest.raises(Exception, match="not an SLO"):
        parse_slo("fast please")


def test_ranking_orders_by_capacity_and_puts_unsupported_last() -> None:
    from harness.studies.models import CapacityResult

    def capacity(engine: str, value: float | None) -> CapacityResult:
        return CapacityResult(capacity_id=f"c-{engine}", engine=engine, workload="kv-cache", slo="p99<=10ms",
                              capacity_ops_s=value, curve=(), started_at="2026-01-01T00:00:00+00:00")

    selection = Selection(version=1, name="kv", use_case="cache", workload="kv-cache",
                          engines=("postgres", "redis", "neo4j"), slo=Slo(max_ms=10))
    measured = {
        "postgres": (synthetic_run(3000, run_id="pg"), capacity("postgres", 4000.0), None),
        "redis": (synthetic_run(1000, run_id="rd"), capacity("redis", 9000.0), None),
        "neo4j": (None, None, "no mapping for 'scan'"),
    }
    result = rank(selection, measured, load_traits())
    assert [r.engine for r in result.ranking] == ["redis", "postgres", "neo4j"]
    assert "the best" in result.ranking[0].reasons[0]
    assert "0.44× the best" in result.ranking[1].reasons[0]
    assert result.ranking[2].unsupported
    text = ranking_text(result)
    assert "qualitative traits (judgement, not measured)" in text and "redis" in result.traits
