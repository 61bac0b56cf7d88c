"""`select` under noise: engines interleaved in rounds, misses confirmed, rankings with a probability or "≈",
a busy host said — with scripted engine responses (no server, no workers)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import harness.studies.host
import harness.studies.select
from harness.errors import UserError
from harness.provision.endpoint import Endpoint
from harness.results import store
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import CapacitySearch, LoadProfile, Selection, Slo
from harness.studies.capacity import search_capacity
from harness.studies.host import OTHERS_BUSY, HostWatch
from harness.studies.models import SelectionResult
from harness.studies.select import probability_greater, ranking_text, run_selection
from tests.compare.records import invalid, synthetic_run

ROOT = Path(__file__).resolve().parents[2]
SELECTION = Selection(version=1, name="kv", use_case="cache", workload="kv-cache", engines=("redis", "postgres"),
                      slo=Slo(max_ms=10), load=LoadProfile(users=2, processes=1, duration_s=1, warmup_s=0),
                      capacity=CapacitySearch(start_rate=100, max_rate=1600, refine=1), scale=0.01)


def knees(per_engine: dict[str, list[float]], calls: list[tuple[str, float | None]]) -> Callable[..., RunRecord]:
    """Latency 2 ms up to the engine's knee of the current round (one per reference run), 50 ms above it.
    Every call is appended to `calls` as (engine, target rate or None for a reference run)."""
    rounds: dict[str, int] = {}

    def run(request: RunRequest, progress: Progress) -> RunRecord:
        rate = request.load.target_rate
        calls.append((request.engine, rate))
        if rate is None:
            rounds[request.engine] = rounds.get(request.engine, -1) + 1
        knee = per_engine[request.engine][rounds[request.engine]]
        record = synthetic_run(2000 if (rate or 0) <= knee else 50_000, seconds=2, per_second=40,
                               run_id=f"{request.engine}-{len(calls)}")
        return record.model_copy(update={"engine": request.engine, "total_throughput_ops_s": rate or 1000.0})
    return run


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Results in tmp; engines reached in-process; an idle host without /proc/stat steal (unless a test says else)."""
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path))

    @contextmanager
    def provisioned(engine: str, *args: Any, **kwargs: Any) -> Iterator[Endpoint]:
        yield Endpoint(engine, "fake://", "in-process")

    monkeypatch.setattr(harness.studies.select, "provisioned", provisioned)
    monkeypatch.setattr(harness.studies.select, "choose_mode", lambda *a: "external")
    monkeypatch.setattr(harness.studies.host, "load_average", lambda: (0.2, 2))
    monkeypatch.setattr(harness.studies.host, "busy_ticks", lambda: None)  # the others' CPU: not judged here
    monkeypatch.setattr(harness.studies.host, "cpu_times", lambda: None)


@pytest.mark.usefixtures("quiet")
def test_two_equal_engines_are_within_noise_and_measured_interleaved() -> None:
    calls: list[tuple[str, float | None]] = []
    run = knees({"redis": [500, 900, 500], "postgres": [900, 500, 500]}, calls)
    result = run_selection(SELECTION, run=run, repeats=3)
    assert [engine for engine, rate in calls if rate is None] == ["redis", "postgres"] * 3  # A B A B A B
    redis, postgres = result.ranking
    # knee 500: 100..400 meet, 800 misses (confirmed), 600 misses (confirmed) -> 400; knee 900: 800 meets -> 800
    assert redis.capacity_rounds == (400.0, 800.0, 400.0) and postgres.capacity_rounds == (800.0, 400.0, 400.0)
    assert redis.capacity_ops_s == postgres.capacity_ops_s == 400.0
    assert (redis.capacity_low, redis.capacity_high) == (400.0, 800.0)
    (order,) = result.order
    assert order.startswith("capacity: redis ≈ postgres (within noise: P(redis > postgres) = ")
    # equal medians: what orders them is said (the reference runs' throughput, 1,000 ops/s each here)
    assert order.endswith("; ordered by reference-run throughput: redis 1.0× postgres, P(redis > postgres) = 0.50 "
                          "over 3 rounds")
    assert "within p99<=10ms (median of 3 rounds, range 400–800)" in redis.reasons[0]
    text = ranking_text(result)
    assert "the best" not in text and "HOST BUSY" not in text and not result.host_busy


@pytest.mark.usefixtures("quiet")
def test_a_clearly_faster_engine_ranks_first_with_its_probability() -> None:
    calls: list[tuple[str, float | None]] = []
    result = run_selection(SELECTION, run=knees({"redis": [1000] * 3, "postgres": [300] * 3}, calls), repeats=3)
    assert [r.engine for r in result.ranking] == ["redis", "postgres"]
    assert [r.capacity_ops_s for r in result.ranking] == [800.0, 300.0]  # 1,600 and 1,200 miss; 400 misses, 300 meets
    assert result.order == ("capacity: redis > postgres with probability 1.00 (bootstrap over 3 rounds)",)
    assert "ranking (what each order rests on):\n  capacity: redis > postgres with probability 1.00" in ranking_text(result)


@pytest.mark.usefixtures("quiet")
def test_a_busy_host_is_said_in_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.studies.host, "load_average", lambda: (9.0, 2))  # a CPU hog beside us
    result = run_selection(SELECTION.model_copy(update={"engines": ("redis",)}),
                           run=knees({"redis": [500] * 2}, []), repeats=2)
    assert result.host_busy
    assert result.host_reasons[0] == "before the study: load average 9.0 on 2 cores"
    assert any(r.startswith("during run redis-") and "load average 9.0 on 2 cores" in r for r in result.host_reasons)
    assert "HOST BUSY: the host was loaded by something else" in ranking_text(result)


def test_probability_greater_is_a_bootstrap_of_medians() -> None:
    assert probability_greater((5.0, 5.0, 5.0), (1.0, 1.0, 1.0)) == 1.0
    assert probability_greater((1.0, 1.0, 1.0), (1.0, 1.0, 1.0)) == 0.5  # ties count half
    assert 0.3 < probability_greater((1.0, 2.0, 3.0), (1.5, 2.5, 2.0)) < 0.7


def test_a_step_that_misses_once_is_rerun_before_it_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path))
    stalled: set[float] = set()

    def once(request: RunRequest, progress: Progress) -> RunRecord:  # one stall at 200 ops/s, else 2 ms below 500
        rate = request.load.target_rate or 0
        slow = rate > 500 or (rate not in stalled and rate == 200)
        stalled.add(rate)
        record = synthetic_run(50_000 if slow else 2000, seconds=2, per_second=40, run_id=f"s{len(stalled)}")
        return record.model_copy(update={"total_throughput_ops_s": rate})

    base = RunRequest(engine="fake", url="fake://", workload=load_workload(ROOT / "workloads" / "kv-cache.yaml"),
                      load=LoadProfile(users=2, duration_s=1, warmup_s=0))
    search = CapacitySearch(start_rate=100, max_rate=1600, refine=0)
    result = search_capacity(base, Slo(max_ms=10), search, run=once, confirm=True)
    assert result.capacity_ops_s == 400  # the one stall at 200 did not end the search
    assert [(p.target_rate, p.slo_met) for p in result.curve if p.target_rate == 200] == [(200, False), (200, True)]
    stalled.clear()
    assert search_capacity(base, Slo(max_ms=10), search, run=once).capacity_ops_s == 100  # without confirming


def test_host_watch_reads_steal_and_the_harness_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    times = iter([(0, 1000), (100, 2000), (110, 3000)])  # (steal, total) jiffies
    monkeypatch.setattr(harness.studies.host, "cpu_times", lambda: next(times))
    monkeypatch.setattr(harness.studies.host, "load_average", lambda: (3.5, 2))
    monkeypatch.setattr(harness.studies.host, "busy_ticks", lambda: None)
    watch = HostWatch()
    watch.before()  # 10% stolen; load 3.5 > 2 cores
    record = invalid(synthetic_run(1000, seconds=2, per_second=10, run_id="r1"), "fell behind", causes=("client",))
    watch.after(record, own_processes=2)  # 1% stolen; 3.5 <= 2 + 2 of our own; short of CPU
    assert watch.reasons == ["before the study: load average 3.5 on 2 cores",
                             "before the study: 10% of CPU time stolen by the hypervisor",
                             "during run r1: the harness was short of CPU (load generator saturated)"]


def test_select_on_the_fake_engine_end_to_end_on_a_busy_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The real runner and the fake engine (0.5 ms service time): one round, a reference run and a one-step capacity
    search, with an injected busy host (the load probe says 9 on 2 cores) said in the result."""
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path))
    monkeypatch.setenv("DBARENA_FAKE_URL", "fake://e2e?latency_us=500")
    monkeypatch.setattr(harness.studies.host, "load_average", lambda: (9.0, 2))
    monkeypatch.setattr(harness.studies.host, "busy_ticks", lambda: None)
    selection = SELECTION.model_copy(update={"engines": ("fake",), "slo": Slo(max_ms=200),
                                             "capacity": CapacitySearch(start_rate=400, max_rate=400, refine=0)})
    result = run_selection(selection, repeats=1)
    (fake,) = result.ranking
    (reference,) = [r for _, r in store.all_runs() if r.load.target_rate is None]
    assert reference.valid and fake.throughput_ops_s == reference.total_throughput_ops_s > 0
    # the fake engine's data lives in each worker process: its capacity step loads again (data_outlives_run
    # False) instead of skipping the load and missing every must-hit read; 400 ops/s is met at once
    (step,) = [r for _, r in store.all_runs() if r.load.target_rate]
    assert step.valid and step.load_phase is not None and step.load.target_rate == 400
    assert sum(op.not_found for op in step.operations.values()) == 0
    assert fake.capacity_ops_s == 400
    assert result.host_busy and result.host_reasons[0] == "before the study: load average 9.0 on 2 cores"
    assert "HOST BUSY" in ranking_text(result)


def _throughput(run: Callable[..., RunRecord], per_engine: dict[str, float]) -> Callable[..., RunRecord]:
    """`run` with each engine's closed-loop reference run at its own throughput (ops/s)."""
    def measured(request: RunRequest, progress: Progress) -> RunRecord:
        record = run(request, progress)
        if request.load.target_rate is None:
            record = record.model_copy(update={"total_throughput_ops_s": per_engine[request.engine]})
        return record
    return measured


@pytest.mark.usefixtures("quiet")
def test_a_capacity_never_found_is_below_the_start_rate_and_the_tie_break_is_said() -> None:
    run = _throughput(knees({"redis": [50] * 2, "postgres": [50] * 2}, []), {"redis": 4000.0, "postgres": 1000.0})
    result = run_selection(SELECTION, run=run, repeats=2)
    redis, postgres = result.ranking
    assert postgres.capacity_rounds == (None, None) and postgres.capacity_below_ops_s == 100.0
    assert redis.capacity_rounds == (None, None) and redis.capacity_ops_s is None and redis.capacity_low is None
    assert redis.capacity_below_ops_s == 100.0  # the selection's start rate
    assert redis.reasons[0].startswith("capacity below 100 ops/s: missed p99<=10ms even at 100 ops/s")
    assert result.order == ("capacity: redis ≈ postgres (both below 100 ops/s); ordered by "
                            "reference-run throughput: redis 4.0× postgres, P(redis > postgres) = 1.00 over 2 rounds",)
    text = ranking_text(result)
    assert " 0 ops/s" not in text and "below 100 ops/s" in text


@pytest.mark.usefixtures("quiet")
def test_a_refused_step_ends_the_study_with_the_partial_result_saved(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[tuple[str, float | None]] = []
    inner = knees({"redis": [500] * 2, "postgres": [500] * 2}, calls)

    def run(request: RunRequest, progress: Progress) -> RunRecord:
        references = sum(1 for e, r in calls if e == "postgres" and r is None)
        if request.engine == "postgres" and request.load.target_rate is None and references == 1:
            raise UserError("dataset kv-cache on postgres is locked by run X")  # round 2, postgres refused
        return inner(request, progress)

    with pytest.raises(UserError, match=r"select stopped \(dataset kv-cache on postgres is locked by run X\); "
                                        r"partial selection \S+ saved"):
        run_selection(SELECTION, run=run, repeats=2)
    (path,) = (tmp_path / "selections").glob("*.json")
    saved = SelectionResult.model_validate_json(path.read_text())
    assert saved.stopped == "dataset kv-cache on postgres is locked by run X"
    by_engine = {r.engine: r for r in saved.ranking}
    assert len(by_engine["redis"].capacity_ids) == 2 and len(by_engine["postgres"].capacity_ids) == 1
    assert len(by_engine["redis"].reference_ids) == 2
    assert f"PARTIAL selection {saved.selection_id} saved" in capsys.readouterr().err


@pytest.mark.usefixtures("quiet")
def test_a_selection_only_one_engine_can_run_says_there_is_no_ranking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.studies.select, "support",
                        lambda workload, engine: (engine == "redis", [] if engine == "redis" else ["no mapping"]))
    result = run_selection(SELECTION, run=knees({"redis": [500]}, []), repeats=1)
    assert result.order == ("only redis could be measured (postgres: no mapping): no ranking, its figures stand alone",)
    text = ranking_text(result)
    assert "no ranking:" in text and "1. redis" not in text and "- redis" in text


@pytest.mark.usefixtures("quiet")
def test_the_selection_id_is_said_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_selection(SELECTION.model_copy(update={"engines": ("redis",)}), run=knees({"redis": [500]}, []),
                           repeats=1)
    assert f"selection {result.selection_id} saved: " in capsys.readouterr().err


def test_host_watch_tells_a_neighbours_cpu_from_the_studys_own() -> None:
    """A busy loop of this study (a child) is its own; the same loop orphaned (a neighbour) makes the host busy.

    The load average could not tell: two busy loops on 2 cores raised it to 3.5 against a threshold of 5.
    """
    hog = "import time\nend = time.monotonic() + 20\nwhile time.monotonic() < end: pass"
    child = subprocess.Popen([sys.executable, "-c", hog])
    try:
        watch = HostWatch()
        watch.before(sample_s=1.5)
        assert not any("other processes" in r for r in watch.reasons), watch.reasons
    finally:
        child.kill()
        child.wait()
    # the shell exits at once: the loop's parent becomes init, so it is nobody's child here
    started = subprocess.run(["sh", "-c", f'{shlex.quote(sys.executable)} -c {shlex.quote(hog)} >/dev/null 2>&1 & echo $!'],
                             capture_output=True, text=True, check=True)
    neighbour = int(started.stdout)
    try:
        watch = HostWatch()
        watch.before(sample_s=1.5)
        share = OTHERS_BUSY * (os.cpu_count() or 1)  # one busy core of `cores`
        assert any(r.startswith("before the study: other processes used") for r in watch.reasons), (watch.reasons, share)
    finally:
        os.kill(neighbour, signal.SIGKILL)
