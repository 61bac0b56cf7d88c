"""What the studies share (plan, request, execute) and bench's flow, with a scripted run: no engine, no workers."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.engines.registry import ENGINES, NEO4J_WARMUP_S
from harness.errors import SpecError
from harness.provision.endpoint import Endpoint
from harness.results import store
from harness.results.baselines import promote
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_suite
from harness.spec.suite import CapacitySearch, Slo
from harness.studies.bench import bench
from harness.studies.capacity import search_capacity
from harness.studies.runs import Overrides, execute, plan_runs, prepared_workload, request_for, stop_if_interrupted
from harness.studies.sweep import sweep
from tests.compare.records import synthetic_run

ROOT = Path(__file__).resolve().parents[2]
_IDS = itertools.count(1)


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's workloads and suites; results in a scratch folder."""
    monkeypatch.setenv("DBARENA_HOME", str(ROOT))
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def scripted(median_us: float = 1000, interrupted_after: int | None = None) -> tuple[Callable[..., RunRecord], list[RunRequest]]:
    """A stand-in for measuring a request: a synthetic record per call; the n-th call (1-based) is interrupted."""
    seen: list[RunRequest] = []

    def run(request: RunRequest, progress: Progress) -> RunRecord:
        seen.append(request)
        record = synthetic_run(median_us, seconds=4, run_id=f"run{next(_IDS)}", seed=len(seen))
        record = record.model_copy(update={"engine": request.engine, "workload": request.workload.name,
                                           "preset": request.preset})
        if interrupted_after is not None and len(seen) >= interrupted_after:
            record = record.model_copy(update={"complete": False, "interrupted": True, "valid": False})
        return record
    return run, seen


def test_flags_alone_plan_one_run_with_the_defaults() -> None:
    (run,) = plan_runs(None, Overrides())
    assert run.workload == "kv-cache" and run.engines == ("postgres",)
    (run,) = plan_runs(None, Overrides(engine="redis", workload="audit-log", duration="3s", users=2, rate=500,
                                       schedule="deterministic", scale=0.5, preset=None))
    assert run.engines == ("redis",) and run.load.duration_s == 3 and run.load.users == 2
    assert run.load.target_rate == 500 and run.load.schedule == "deterministic" and run.scale == 0.5


def test_flags_override_every_run_of_a_suite_and_rate_zero_means_closed_loop() -> None:
    suite = load_suite(ROOT / "benchmarks" / "default.yaml")
    runs = plan_runs(suite, Overrides(engine="fake", rate=0, warmup="0s"))
    assert len(runs) == len(suite.runs)
    assert all(r.engines == ("fake",) and r.load.target_rate is None and r.load.warmup_s == 0 for r in runs)


def test_a_bad_flag_value_is_one_line() -> None:
    with pytest.raises(SpecError) as caught:
        plan_runs(None, Overrides(duration="10parsecs"))
    assert caught.value.problems[0].startswith("--duration: ")


def test_an_unknown_preset_names_the_known_ones() -> None:
    (run,) = plan_runs(None, Overrides(workload="kv-cache", preset="ycsb-z"))
    with pytest.raises(SpecError, match="preset 'ycsb-z' is not defined by workload kv-cache; defined: ycsb-a"):
        prepared_workload(run)


def test_a_request_carries_the_endpoint_and_the_prepared_workload() -> None:
    (run,) = plan_runs(None, Overrides(engine="fake", preset="ycsb-c", scale=0.5))
    request = request_for(run, "fake", Endpoint("fake", "fake://x", "in-process", {"a": 1}), suite="s")
    assert request.url == "fake://x" and request.provisioner == {"mode": "in-process", "a": 1}
    assert [op.name for op in request.workload.operations] == ["read"] and request.scale == 0.5
    assert request.suite == "s" and request.preset == "ycsb-c"


def test_execute_saves_the_record_and_an_interrupted_one_stops_the_study(project: Path) -> None:
    run, _ = scripted(interrupted_after=1)
    (planned,) = plan_runs(None, Overrides(engine="fake"))
    saved = execute(request_for(planned, "fake", Endpoint("fake", "fake://", "in-process")), Progress(), run)
    assert saved.path == project / "runs" / f"{saved.record.run_id}.json"
    assert store.load(saved.path) == saved.record
    with pytest.raises(KeyboardInterrupt):
        stop_if_interrupted(saved.record)


def test_bench_yields_each_saved_run_with_its_verdict(project: Path) -> None:
    run, seen = scripted(median_us=1000)
    (first,) = bench(None, Overrides(engine="fake", workload="kv-cache"), run=run, progress=Progress())
    assert first.comparison is None and first.not_compared is None and not first.regressed  # no baseline yet
    assert first.path.exists()
    promote(first.record)
    slower, _ = scripted(median_us=3000)
    (second,) = bench(None, Overrides(engine="fake", workload="kv-cache"), run=slower, progress=Progress())
    assert second.comparison is not None and second.regressed
    assert len(seen) == 1


def test_bench_checks_everything_before_starting_anything() -> None:
    run, seen = scripted()
    with pytest.raises(Exception, match="unknown engine 'nope'"):
        list(bench(None, Overrides(engine="nope", workload="kv-cache"), run=run, progress=Progress()))
    assert seen == []


def test_an_interrupted_run_is_yielded_then_the_suite_stops(project: Path) -> None:
    run, seen = scripted(interrupted_after=1)
    suite = ROOT / "benchmarks" / "default.yaml"
    assert len(load_suite(suite).runs) > 1 or len(load_suite(suite).runs[0].engines) > 1
    runs = bench(suite, Overrides(engine="fake", warmup="0s"), run=run, progress=Progress())
    done = next(runs)
    assert done.record.interrupted and done.path.exists()
    with pytest.raises(KeyboardInterrupt):
        next(runs)
    assert len(seen) == 1


def _base() -> RunRequest:
    (planned,) = plan_runs(None, Overrides(engine="fake", workload="kv-cache"))
    return request_for(planned, "fake", Endpoint("fake", "fake://", "in-process"))


def test_an_interrupted_capacity_step_is_saved_and_ends_the_search(project: Path) -> None:
    run, seen = scripted(interrupted_after=2)
    with pytest.raises(KeyboardInterrupt):
        search_capacity(_base(), Slo(max_ms=10), CapacitySearch(start_rate=100, max_rate=10_000), Progress(), run=run)
    assert len(seen) == 2 and len(list((project / "runs").glob("*.json"))) == 2


def test_sweep_saves_one_run_per_size(project: Path) -> None:
    run, seen = scripted()
    base = _base()
    records = sweep(base, [100, 1000], Progress(), run=run)
    unscaled = base.workload.dataset.entities[0].count
    assert [r.workload.dataset.entities[0].count for r in seen] == [100, 1000]
    assert [r.scale for r in seen] == [100 / unscaled, 1000 / unscaled] and {r.suite for r in seen} == {"sweep"}
    assert len(records) == 2 and len(list((project / "runs").glob("*.json"))) == 2


def test_a_suites_thresholds_are_checked_before_and_after_each_run(tmp_path: Path) -> None:
    suite = tmp_path / "gated.yaml"
    suite.write_text("version: 1\nname: gated\nruns:\n  - workload: kv-cache\n    engines: [fake]\n"
                     "    thresholds: ['read.p50<100us', 'errors<1%', 'p99<1h']\n")
    run, seen = scripted(median_us=1000)
    (done,) = bench(suite, Overrides(), run=run, progress=Progress())
    names = [(c.name, c.passed) for c in done.checks]
    latency = done.record.operations["read"].latency_us
    assert latency is not None and latency.p50 > 100
    assert names[:2] == [("read.p50<100us", False), ("errors<1%", True)]
    assert {name for name, passed in names[2:] if passed} == {f"{op}.p99<1h" for op in done.record.operations}
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: bad\nruns:\n  - workload: kv-cache\n    engines: [fake]\n"
                   "    thresholds: ['read.p99<5', 'raed.p99<5ms', 'read.throughput>1e3']\n")  # 1e3: accepted
    with pytest.raises(SpecError) as caught:
        list(bench(bad, Overrides(), run=run, progress=Progress()))
    assert caught.value.problems == (
        f"{bad}: runs[0].thresholds: 'read.p99<5': '5' has no unit; write a duration with its unit, such as "
        "250us, 5ms, 1.5e3us or 1s (ns, us, µs, ms, s, min, h)",
        f"{bad}: runs[0].thresholds: 'raed.p99<5ms': no operation 'raed' in this workload (operations: "
        + ", ".join(sorted(op.name for op in prepared_workload(load_suite(bad).runs[0]).operations)) + ")")
    assert len(seen) == 1  # the bad suite ran nothing


NEO4J = Endpoint("neo4j", "bolt://x", "external")


@pytest.mark.parametrize(("overrides", "suite_load", "expected"), [
    ({}, None, NEO4J_WARMUP_S),  # nothing given: the engine's own default
    ({"duration": "3s", "users": 2}, None, NEO4J_WARMUP_S),  # other flags do not count as a warm-up
    ({"warmup": "0s"}, None, 0.0),  # --warmup wins, even 0
    ({}, "{users: 4, warmup: 1s}", 1.0),  # the suite's warmup wins
    ({"users": 2}, "{users: 4, warmup: 1s}", 1.0),  # ... also when a flag changes the load
    ({}, "{users: 4}", NEO4J_WARMUP_S),  # a suite load without warmup: the engine's
])
def test_neo4j_gets_its_longer_default_warm_up_only_when_none_was_given(
        tmp_path: Path, overrides: dict[str, Any], suite_load: str | None, expected: float) -> None:
    suite = None
    if suite_load is not None:
        path = tmp_path / "suite.yaml"
        path.write_text(f"version: 1\nname: s\nruns:\n  - {{workload: social-graph, engines: [neo4j], load: {suite_load}}}\n")
        suite = load_suite(path)
    (run,) = plan_runs(suite, Overrides(engine="neo4j", workload="social-graph" if suite is None else None, **overrides))
    request = request_for(run, "neo4j", NEO4J)
    assert request.load.warmup_s == expected
    if expected == NEO4J_WARMUP_S:
        assert request.notes == (f"warm-up {NEO4J_WARMUP_S:g}s: neo4j's default (its throughput ramps while queries "
                                 "and the JVM compile); no --warmup or suite warmup was given",)
    else:
        assert request.notes == ()
    assert request_for(run, "postgres", NEO4J).load.warmup_s == (2.0 if expected == NEO4J_WARMUP_S else expected)


def test_an_engines_default_warm_up_is_run_and_noted_in_the_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.cli import main

    monkeypatch.setitem(ENGINES, "fake", replace(ENGINES["fake"], warmup_s=3.0))
    assert main(["bench", "--engine", "fake", "--workload", "kv-cache", "--duration", "1s", "--users", "2"]) == 0
    ((_, record),) = store.all_runs()
    assert record.load.warmup_s == 3.0
    assert record.notes[0].startswith("warm-up 3s: fake's default")
    assert {point.phase for point in record.timeseries} >= {"warmup", "measure"}
