"""Capacity search steps and ranking logic, with a scripted engine response (no engine, no workers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import CapacitySearch, LoadProfile, Selection, Slo
from harness.studies.capacity import client_bound_text, search_capacity
from harness.studies.select import Measured, load_traits, rank, ranking_text
from harness.studies.slo import parse_slo
from tests.compare.records import invalid, synthetic_run

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
                      load=LoadProfile(users=4, duration_s=1, warmup_s=0))
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
        "postgres": Measured((synthetic_run(3000, run_id="pg"),), (capacity("postgres", 4000.0),)),
        "redis": Measured((synthetic_run(1000, run_id="rd"),), (capacity("redis", 9000.0),)),
        "neo4j": Measured(unsupported="no mapping for 'scan'"),
    }
    result = rank(selection, measured, load_traits())
    assert [r.engine for r in result.ranking] == ["redis", "postgres", "neo4j"]
    assert result.ranking[0].reasons[0] == "sustains 9,000 ops/s within p99<=10ms (one round)"
    assert "the best" not in ranking_text(result)  # one sample ranks nothing: it says so
    assert result.order == ("capacity: redis 9,000 ops/s ≥ postgres 4,000 ops/s on one round only: no probability "
                            "(use --repeats 3 or more)",)
    assert result.ranking[2].unsupported
    text = ranking_text(result)
    assert "qualitative traits (judgement, not measured)" in text and "redis" in result.traits


def _base() -> RunRequest:
    return RunRequest(engine="fake", url="fake://", workload=load_workload(ROOT / "workloads" / "kv-cache.yaml"),
                      load=LoadProfile(users=4, duration_s=1, warmup_s=0))


def marked_engine(knee: float, cause: str, reason: str):  # type: ignore[no-untyped-def]
    """Latency stays low at every rate, but above `knee` ops/s the step's record is invalid with `cause`."""
    def run(request: RunRequest, progress: Progress) -> RunRecord:
        rate = request.load.target_rate or 0
        record = synthetic_run(2000, seconds=4, per_second=int(rate), run_id=f"r{rate:.0f}")
        record = record.model_copy(update={"total_throughput_ops_s": rate})
        return invalid(record, reason, causes=(cause,)) if rate > knee else record
    return run


def test_an_invalid_step_counts_as_missed_with_its_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path))
    result = search_capacity(_base(), parse_slo("p99=10ms"), CapacitySearch(start_rate=100, max_rate=10_000, refine=2),
                             Progress(), run=marked_engine(700, "engine", "engine stalled: no call succeeded for 3 s"))
    assert result.capacity_ops_s is not None and 600 <= result.capacity_ops_s <= 700
    assert not result.client_bound and client_bound_text(result) is None
    bad = [p for p in result.curve if p.target_rate > 700]
    assert bad and all(not p.slo_met and not p.valid and not p.client_bound for p in bad)
    assert all(p.invalid_reasons == ("engine stalled: no call succeeded for 3 s",) for p in bad)


def test_a_client_bound_search_says_so_and_advises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path))
    result = search_capacity(_base(), parse_slo("p99=10ms"), CapacitySearch(start_rate=100, max_rate=10_000, refine=2),
                             Progress(), run=marked_engine(700, "client", "load generator fell behind"))
    assert result.client_bound and result.capacity_ops_s == 700  # 400 good, 800 client-bound, 600 and 700 good
    text = client_bound_text(result) or ""
    first_bound = min(p.target_rate for p in result.curve if p.client_bound)
    assert text.startswith(f"client-bound at {result.capacity_ops_s:,.0f} ops/s: the load generator saturated at "
                           f"{first_bound:,.0f} ops/s offered")
    assert "not fake's capacity" in text and "--processes" in text and "dbarena worker" in text


def test_a_genuine_miss_below_a_client_bound_step_is_the_engines_capacity(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """800 is client-bound, but bisecting finds the engine missing its SLO at 700: the engine's own limit."""
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path))
    client = marked_engine(750, "client", "load generator fell behind")
    slow = scripted_engine(knee=650)

    def run(request: RunRequest, progress: Progress) -> RunRecord:
        rate = request.load.target_rate or 0
        return client(request, progress) if rate > 750 else slow(request, progress)
    result = search_capacity(_base(), parse_slo("p99=10ms"), CapacitySearch(start_rate=100, max_rate=10_000, refine=2),
                             Progress(), run=run)
    assert not result.client_bound and result.capacity_ops_s == 600


def test_ranking_marks_invalid_reference_runs_and_client_bound_capacity() -> None:
    from harness.studies.models import CapacityResult, CurvePoint

    point = CurvePoint(target_rate=8000, achieved_ops_s=5000, p50_us=1, p99_us=2, p999_us=3, slo_met=False,
                       valid=False, run_id="x", invalid_reasons=("load generator fell behind",), client_bound=True)
    bound = CapacityResult(capacity_id="c-redis", engine="redis", workload="kv-cache", slo="p99<=10ms",
                           capacity_ops_s=4000.0, curve=(point,), started_at="2026-01-01T00:00:00+00:00",
                           client_bound=True)
    plain = bound.model_copy(update={"capacity_id": "c-postgres", "engine": "postgres", "client_bound": False,
                                     "curve": (), "capacity_ops_s": 2000.0})
    selection = Selection(version=1, name="kv", use_case="cache", workload="kv-cache",
                          engines=("postgres", "redis"), slo=Slo(max_ms=10))
    stalled = invalid(synthetic_run(1000, run_id="pg"), "engine stalled for 2 s", causes=("engine",))
    result = rank(selection, {"postgres": Measured((stalled,), (plain,)),
                              "redis": Measured((synthetic_run(1000, run_id="rd"),), (bound,))}, {})
    redis, postgres = result.ranking
    assert redis.engine == "redis" and redis.client_bound
    assert redis.reasons[0].startswith("client-bound at 4,000 ops/s: the load generator saturated at 8,000 ops/s")
    assert "the best" not in " ".join(redis.reasons)
    assert postgres.invalid_reasons == ("engine stalled for 2 s",) and postgres.throughput_ops_s is None
    assert any("reference run pg INVALID (engine stalled for 2 s)" in r for r in postgres.reasons)
    assert "client-bound at 4,000 ops/s" in ranking_text(result)
