"""One benchmark run: prepare the schema, start a Locust master and its workers, measure, merge.

The parent (the `dbarena` process) never imports Locust or gevent. It prepares the schema
with a plain connection, then starts `python -m harness.runner.master` and speaks the run
protocol with it over a pipe (harness.runner.protocol). The master starts `processes` local
workers (or waits for `expect_workers` started on other hosts), has them load disjoint ranges
of the dataset and then measure; the parent finishes the load (ANALYZE, refresh, ...), merges
the workers' encoded histograms exactly and collects telemetry. Ctrl-C (or a lost worker)
ends the run cleanly and what was measured is still returned, marked incomplete.
"""

from __future__ import annotations

import math
import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import IO, Any, NamedTuple

from pydantic import Field, ValidationError

from harness.engines.base import EngineAdapter, LockHolder
from harness.engines.registry import create_adapter
from harness.errors import EngineUnavailable, HarnessBug, SpecError, UnsupportedOperation
from harness.metrics.models import LoadPhase, OperationResult, ScenarioResult, StageResult, TimePoint
from harness.metrics.outages import Outage, measured_per_second, outages, seconds_text
from harness.models import Frozen
from harness.redact import redact_text
from harness.runner.merge import lag_share, merge_operations, merge_scenarios, merge_stages, merge_timeseries
from harness.runner.outcomes import MAX_MISS_SHARE, drain_s
from harness.runner.progress import Progress, fmt_clock, fmt_us, tick_clock
from harness.runner.protocol import (
    Exited,
    Failed,
    Go,
    Loaded,
    Measure,
    Message,
    RunPlan,
    RunResults,
    Stop,
    Tick,
    WorkerInfo,
    WorkerResult,
    decode,
    encode,
)
from harness.runner.protocol import (
    Progress as ProgressLine,
)
from harness.signals import deferred_signals, interruption_name
from harness.spec.hints import did_you_mean
from harness.spec.models import UpdateOp, Workload, single_field_updates
from harness.spec.suite import LoadProfile

READY_TIMEOUT_S = 120.0
RESULT_GRACE_S = 60.0
MAX_LAG_SHARE = 0.05
CPU_SATURATED = 0.97
CLIENT_BUSY = 0.9  # a worker process this busy over the window is the bottleneck when starts lag
STALL_US = 1_000_000  # a measured second whose slowest operation took this long is a slow second of the engine
STOPPED_BY = {"SIGINT": "interrupted by the user (Ctrl-C, SIGINT)",
              "SIGTERM": "interrupted by SIGTERM (a stop request: kill, timeout, a CI cancellation)",
              "SIGHUP": "interrupted by SIGHUP (the terminal closed)"}  # the note of each stop signal

Inbox = queue.Queue[Message]


class LoadWorkersFailed(EngineUnavailable):
    """The master or a load worker could not go on (no workers, a lost master, a port in use, the engine refused a
    load batch); says why. `invalid_cause`: engine when the engine's client raised, else workers (the invalid cause)."""

    def __init__(self, message: str, cause: str = "workers") -> None:
        super().__init__(message)
        self.invalid_cause = cause


@dataclass(frozen=True)
class RunRequest:
    """One run to perform: an engine at a URL, a prepared workload, a load profile."""

    engine: str
    url: str
    workload: Workload  # preset and scale already applied
    load: LoadProfile
    scale: float = 1.0
    preset: str | None = None
    suite: str | None = None
    seed: int | None = None
    provisioner: dict[str, Any] = field(default_factory=dict)
    skip_load: bool = False
    expect_workers: int = 0  # workers on other hosts (`dbarena worker --master HOST:PORT`); 0: local processes
    master_bind: str = "127.0.0.1:0"  # where the master listens (HOST:PORT, port 0: a free one)
    web: str | None = None  # HOST:PORT of the live page during the run (port 0: a free one); None: none
    notes: tuple[str, ...] = ()  # said by whoever planned the run (e.g. an engine's default warm-up); in the record


class Measurement(Frozen):
    """What one run measured, before it becomes a run record (harness.results.build)."""

    run_id: str
    started_at: str  # ISO 8601, UTC
    seed: int
    engine_version: str
    client_library: str
    engine_settings: dict[str, Any] = Field(default_factory=dict)
    load_phase: LoadPhase | None = None
    operations: dict[str, OperationResult]
    timeseries: tuple[TimePoint, ...] = ()
    measured_s: float = 0.0  # seconds of the measurement window actually run
    stopped_by: str = "duration"  # what ended the window: duration | operationcount | interrupted | failure
    complete: bool
    interrupted: bool = False
    invalid_reasons: tuple[str, ...] = ()
    invalid_causes: tuple[str, ...] = ()  # one per reason: client | engine | errors | misses | interrupted | workers | other
    outages: tuple[Outage, ...] = ()  # measured seconds in which nothing succeeded, with the recovery after each
    workers: tuple[WorkerInfo, ...] = ()  # who measured, with clock offsets
    phase: str = "done"  # where the run ended: done, or prepare | load | warmup | measure | telemetry when cut short
    failure: str | None = None  # why the engine or the workers failed (phase, error), when they did
    stages: tuple[StageResult, ...] = ()  # per stage of the load shape
    scenarios: tuple[ScenarioResult, ...] = ()
    telemetry: dict[str, Any] = Field(default_factory=dict)
    notes: tuple[str, ...] = ()


def explain_plans(adapter: EngineAdapter[Any], workload: Workload, seed: int) -> dict[str, str]:
    """One execution plan per operation, with arguments the runner would generate.

    Inserts get a fresh key, one no run loaded or inserted (2**40 slots past the loaded records,
    at a random multiple: an insert of a key the run already wrote would only show the unique
    violation). Each adapter keeps a capture within the operation's timeout and leaves no
    trace of a write (PostgreSQL: EXPLAIN ANALYZE in a rolled-back transaction).
    """
    from harness.runner.driver import OperationMix

    fresh = (1 + secrets.randbelow(1 << 20)) << 40
    mix = OperationMix(workload, user_slot=0, total_users=1, seed=seed, insert_offset=fresh)
    plans = {}
    for op, driver in zip(workload.operations, mix.drivers, strict=True):
        try:
            argument = driver.arguments()
            if isinstance(op, UpdateOp) and op.write == "one" and len(op.set) > 1:  # the one field this call sets
                plan = adapter.explain(single_field_updates(op)[next(iter(argument.values))], workload, argument)
            else:
                plan = adapter.explain(op, workload, argument)
        except Exception as exc:
            plan = f"(no plan: {type(exc).__name__}: {exc})"
        if plan:
            plans[op.name] = plan
    return plans


def check_shape(workload: Workload, load: LoadProfile) -> None:
    """SpecError (one line) when a scenario names an operation the (preset-applied) mix does not run, or a mix
    deletes from an entity it does not insert into (see driver.check_deletes)."""
    from harness.runner.driver import check_deletes

    names = [op.name for op in workload.operations]
    for scenario in load.scenarios:
        unknown = [name for name in scenario.operations if name not in names]
        if unknown:
            raise SpecError([f"load.scenarios.{scenario.name}.operations: {', '.join(map(repr, unknown))} not in the "
                             f"mix of {workload.name} (running: {', '.join(names)}){did_you_mean(unknown[0], names)}"])
    mixes: dict[str, tuple[str, ...] | None] = {f"load.scenarios.{s.name}": s.operations for s in load.scenarios}
    problems = check_deletes(workload, mixes or {f"the mix of {workload.name}": None})
    if problems:
        raise SpecError(problems[:1])
    check_insert_range(workload, load)


def check_insert_range(workload: Workload, load: LoadProfile) -> None:
    """SpecError (one line) when insertstart / insertcount select no record, or a workload of several entities
    (their records refer to each other by index: a part of each would leave references dangling)."""
    if load.insert_start == 0 and load.insert_count is None:
        return
    if len(workload.dataset.entities) > 1:
        raise SpecError([f"load.insertstart/insertcount: {workload.name} has {len(workload.dataset.entities)} entities; "
                         "a part of the records can be loaded only for a workload of one (YCSB's one table)"])
    try:
        load.insert_range(workload.dataset.entities[0].count)
    except ValueError as exc:
        raise SpecError([f"load.insertstart: {exc}"]) from None


def refuse_unsupported(adapter: EngineAdapter[Any], workload: Workload) -> None:
    """UnsupportedOperation naming every operation the engine cannot express, before anything runs."""
    reasons = [f"{op.name} ({op.kind.value}): {reason}" for op in workload.operations
               if (reason := adapter.unsupported_reason(op, workload))]
    if reasons:
        raise UnsupportedOperation(
            f"{adapter.name} cannot run workload {workload.name!r}: " + "; ".join(reasons)
        )


class _MasterProcess:
    """The master process and a thread turning its stdout lines into inbox messages."""

    def __init__(self, plan: RunPlan, inbox: Inbox) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness.runner.master"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True, bufsize=1,
            start_new_session=True,  # Ctrl-C reaches the parent only; it stops the run in order
        )
        if self.proc.stdin is None or self.proc.stdout is None:
            raise HarnessBug("the master process was started without pipes")
        self.stdin: IO[str] = self.proc.stdin
        self.send(plan)
        self._thread = threading.Thread(target=self._pump, args=(self.proc.stdout, inbox), daemon=True)
        self._thread.start()

    def _pump(self, stdout: IO[str], inbox: Inbox) -> None:
        for line in stdout:
            line = line.strip()
            if line.startswith("{"):
                try:
                    inbox.put(decode(line))
                except ValidationError as exc:
                    if line.startswith('{"type":'):  # ours but unreadable: a dbarena of another version?
                        inbox.put(Failed(error=f"unreadable message from the master: {exc.errors()[0]['msg']}"))
        inbox.put(Exited(code=self.proc.wait()))

    def send(self, message: Frozen) -> None:
        try:
            self.stdin.write(encode(message) + "\n")
            self.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def stop(self, timeout_s: float) -> None:
        """Wait for the master to end (it stops its workers); past `timeout_s`, kill its whole process group."""
        self.send(Stop())  # ignored once the run is over
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
        try:  # local workers share the master's process group (its own session): none may outlive the run
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()


def run_benchmark(request: RunRequest, progress: Progress | None = None) -> Measurement:
    """Load (unless `skip_load`), measure with worker processes, collect telemetry and plans.

    Raises UnsupportedOperation before anything runs when the engine cannot express an
    operation, EngineUnavailable when the engine or the workers cannot be reached. Ctrl-C
    during the measurement returns what was measured, `interrupted` and not `complete`.
    """
    progress = progress or Progress()
    request = replace(request, workload=request.workload.active())  # zero-weight operations never run
    workload = request.workload
    seed = request.seed if request.seed is not None else workload.dataset.seed
    started_at = datetime.now(timezone.utc)
    run_id = f"{started_at:%Y%m%dT%H%M%SZ}-{request.engine}-{workload.name}-{secrets.token_hex(2)}"

    check_shape(workload, request.load)
    adapter = create_adapter(request.engine, request.url, request.load.op_timeout_s)
    refuse_unsupported(adapter, workload)
    if request.skip_load and not adapter.data_outlives_run:  # nothing of an earlier run is left to measure
        request = replace(request, skip_load=False)
    adapter.connect()  # unreachable: EngineUnavailable, nothing was measured
    _lock_dataset(adapter, workload, LockHolder.here(run_id, workload.name, started_at))
    outcome = _Outcome()
    engine_version = "unknown"
    settings: dict[str, Any] = {}
    telemetry: dict[str, Any] = {}
    try:
        engine_version = adapter.server_version()
        outcome.phase = "prepare"
        if not request.skip_load:
            adapter.prepare(workload)
        _Session(request, seed, adapter, progress, outcome).run()
        outcome.phase = "telemetry"
        settings, telemetry = _after_run(adapter, workload, seed)
        outcome.phase = "done"
    except KeyboardInterrupt as exc:
        outcome.interrupt(interruption_name(exc), progress)
    except HarnessBug:
        raise
    except LoadWorkersFailed as exc:  # the master or a worker could not go on: its own words
        outcome.fail(redact_text(str(exc)), cause=exc.invalid_cause)
    except Exception as exc:  # the engine failed: a record of the attempt, one line for the user
        detail = f"{type(exc).__name__}: {str(exc).strip() or 'no message'}".splitlines()[0]
        outcome.fail(redact_text(f"{request.engine} failed: {detail} — check that the engine is up and healthy "
                                 "(its log), then run again"))
    finally:
        # also on Ctrl-C or SIGTERM (Interrupted); a killed run's lock expires. A lock another run took is said
        outcome.lock_lost = adapter.unlock_dataset()
        adapter.close()
    return _measurement(request, outcome, run_id=run_id, started_at=started_at, seed=seed,
                        engine_version=engine_version, client_library=adapter.client_library,
                        settings=settings, telemetry=telemetry)


def _lock_dataset(adapter: EngineAdapter[Any], workload: Workload, holder: LockHolder) -> None:
    """Take the engine-side lock on the workload's data (held until the run ends); DatasetInUse (one line) when
    another run holds it, and nothing of this run was dropped or loaded."""
    try:
        adapter.lock_dataset(workload, holder)
    except BaseException:
        adapter.close()
        raise


def _measurement(request: RunRequest, outcome: _Outcome, *, run_id: str, started_at: datetime, seed: int,
                 engine_version: str, client_library: str, settings: dict[str, Any],
                 telemetry: dict[str, Any]) -> Measurement:
    """What the run measured (possibly nothing, when it failed or was stopped before measuring)."""
    workload = request.workload
    results = list(outcome.results.results) if outcome.results else []
    complete = outcome.complete and outcome.failure is None and bool(results) and all(r.complete for r in results)
    measured_s = max((r.measured_s for r in results), default=0.0)
    operations = merge_operations(workload, results, measured_s)
    stages = merge_stages(workload, request.load, results, measured_s)
    scenarios = merge_scenarios(request.load, operations, measured_s)
    timeseries = tuple(merge_timeseries(results))
    found = _invalid_reasons(request, results, complete, outcome)
    found += _outage(timeseries, request.load.warmup_s, measured_s, request.engine, results)
    if results and complete:
        found += _stalls(request, results, operations, timeseries)
        found += _offered_load(request.load, operations, stages, scenarios, measured_s, _client_busy(results),
                               _behind(results) is not None)
        found += _misses(request, operations, len(results))
    if outcome.failure is not None:
        found.insert(0, Invalid(f"failed during {outcome.phase}: {outcome.failure}", outcome.failure_cause))
    if outcome.lock_lost is not None:
        found.insert(0, Invalid(outcome.lock_lost, "other"))
    found = list(dict.fromkeys(Invalid(one_line(f.reason), f.cause) for f in found))
    cut_short = outcome.phase not in ("telemetry", "done")  # after the window, a signal or failure ended nothing
    stopped_by = ("interrupted" if outcome.interrupted and cut_short else
                  "failure" if outcome.failure is not None and cut_short else
                  "operationcount" if results and all(r.quota_reached for r in results) else "duration")
    found_outages = outages(timeseries, _dark_seconds(timeseries, request.load.warmup_s, measured_s)[0])
    return Measurement(
        run_id=run_id, started_at=started_at.isoformat(timespec="seconds"), seed=seed,
        engine_version=engine_version, client_library=client_library, engine_settings=settings,
        load_phase=outcome.load_phase, operations=operations,
        stages=stages, scenarios=scenarios,
        timeseries=timeseries, measured_s=round(measured_s, 3), stopped_by=stopped_by,
        complete=complete, interrupted=outcome.interrupted, invalid_reasons=tuple(f.reason for f in found),
        invalid_causes=tuple(f.cause for f in found), outages=found_outages,
        telemetry=telemetry, notes=request.notes + outcome.all_notes() + _clamped_note(operations)
        + tuple(o.describe() for o in found_outages),
        workers=outcome.results.workers if outcome.results else (), phase=outcome.phase, failure=outcome.failure,
    )


def _clamped_note(operations: dict[str, OperationResult]) -> tuple[str, ...]:
    clamped = {name: op.clamped for name, op in operations.items() if op.clamped}
    if not clamped:
        return ()
    return (f"{sum(clamped.values()):,} latencies above the histogram's ceiling were recorded as the ceiling ("
            + ", ".join(f"{name}: {n:,}" for name, n in clamped.items()) + "); their true values are higher",)


def _after_run(adapter: EngineAdapter[Any], workload: Workload, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Settings and telemetry on a fresh connection: the engine may have restarted during the run."""
    try:
        adapter.connect()
    except EngineUnavailable as exc:
        gone = redact_text(str(exc))
        return {"unavailable": gone}, {"error": gone}
    return _settings(adapter), _telemetry(adapter, workload, seed)


def _settings(adapter: EngineAdapter[Any]) -> dict[str, Any]:
    """The engine's durability settings; an engine gone after the measurement is a note, not a lost run."""
    try:
        return adapter.settings()
    except Exception as exc:
        return {"unavailable": redact_text(f"{type(exc).__name__}: {exc}")}


def _telemetry(adapter: EngineAdapter[Any], workload: Workload, seed: int) -> dict[str, Any]:
    """Server statistics and one plan per operation; a failure here is a note, not a lost run."""
    try:
        telemetry = adapter.telemetry(workload)
    except Exception as exc:
        return {"error": redact_text(f"{type(exc).__name__}: {exc}")}
    plans = explain_plans(adapter, workload, seed)
    if plans:
        telemetry["plans"] = plans
    return telemetry


class Invalid(NamedTuple):
    """One reason a run is invalid and its cause (client | engine | errors | misses | interrupted | workers | other)."""

    reason: str
    cause: str


def one_line(text: str) -> str:
    """`text` with its line breaks (a driver's multi-line message) collapsed to blanks: reasons are shown one a line."""
    return re.sub(r"\s*\n\s*", " ", text.strip())


def _behind(results: list[WorkerResult]) -> str | None:
    """Why the load generator, not the engine, fell behind its schedule, or None when it did not.

    Intended starts of the window were never issued while the calls that were made answered
    quickly: the users spent more time in calls that took under 1 s than in calls that took
    longer or timed out. An engine that stalls holds its callers instead (harness.runner.recorder).
    """
    unissued = sum(r.unissued for r in results)
    quick, quick_s, stalled_s = (sum(r.quick for r in results), sum(r.quick_s for r in results),
                                 sum(r.stalled_s for r in results))
    if not unissued or not quick or stalled_s >= quick_s:
        return None
    return (f"{unissued:,} intended starts of the window were never issued while the {quick:,} calls made took "
            f"{fmt_us(quick_s / quick * 1e6)} on average ({stalled_s:.1f} s in calls of 1 s or more)")


GENERATOR_ADVICE = ("the load generator fell behind, not the engine: add processes (--processes) or workers "
                    "(--expect-workers), or lower the rate")


def _client_busy(results: list[WorkerResult]) -> float | None:
    """The busiest worker process's CPU over the window (share of a core), if known."""
    busy = [r.cpu_fraction for r in results if r.cpu_fraction is not None]
    return max(busy) if busy else None


def _invalid_reasons(request: RunRequest, results: list[WorkerResult], complete: bool,
                     outcome: _Outcome) -> list[Invalid]:
    reasons = [Invalid(line, "workers") for line in outcome.lost]
    if not complete and not outcome.lost and (outcome.interrupted or outcome.failure is None):
        reasons.append(Invalid("run interrupted before the end of the measurement window", "interrupted"))
    if not results:
        if outcome.failure is None and not outcome.stopped_before_measuring():  # else the failure or signal says why
            reasons.append(Invalid("no worker process returned results", "workers"))
        return reasons
    busy = _client_busy(results)
    if busy is not None and busy >= CPU_SATURATED and request.load.open_loop:
        reasons.append(Invalid(
            f"load generator saturated: harness process CPU at {busy:.0%} of a core; add processes (--processes) "
            "or workers (--expect-workers)", "client"))
    if not (outcome.interrupted and outcome.phase == "warmup"):  # stopped before its window: none was made, rightly
        reasons += _error_budget(request, results)
    return reasons


def _stalls(request: RunRequest, results: list[WorkerResult], operations: dict[str, OperationResult],
            timeseries: tuple[TimePoint, ...]) -> list[Invalid]:
    """Open-loop starts more than 1 s late: the generator saturated (busy CPU, low service time) or the engine stalled.

    Users start late when the process cannot keep up (its CPU near a core) or when their calls
    block (the engine stops answering while the process idles): the cause is told apart by the
    harness's CPU, and the engine's slow seconds are named from the per-second series.
    """
    lagging = lag_share(results)
    if lagging is None or lagging <= MAX_LAG_SHARE:
        return []
    late = f"{lagging:.1%} of operations started more than 1 s after their intended start (limit {MAX_LAG_SHARE:.0%})"
    busy = _client_busy(results)
    services = [op.service_us for op in operations.values() if op.service_us]
    service_p99 = max((s.p99 for s in services), default=0)
    service_max = max((s.max for s in services), default=0)
    in_calls, outside = sum(r.late_service_s for r in results), sum(r.late_gap_s for r in results)
    if (busy is not None and busy >= CLIENT_BUSY) or outside > in_calls:
        cpu = f" with the harness process at {busy:.0%} CPU" if busy is not None else ""
        return [Invalid(f"load generator fell behind: {late}{cpu}; the late users spent {outside:.1f} s in the "
                        f"harness's own work and {in_calls:.1f} s in calls (service time p99 {fmt_us(service_p99)}); "
                        "add processes (--processes) or workers (--expect-workers), or lower the rate", "client")]
    slow = sorted({p.t for p in timeseries if p.phase == "measure" and (p.max_us or 0) >= STALL_US})
    when = f"; slow {seconds_text(slow)} from the start of warm-up" if slow else ""
    idle = f" while the harness process idled at {busy:.0%} CPU" if busy is not None else ""
    return [Invalid(f"engine could not keep up or stalled: {late}{idle}; service time up to {fmt_us(service_max)} "
                    f"(p99 {fmt_us(service_p99)}){when}: {request.engine} did not answer in time, not the load "
                    "generator's fault; see the per-second series and the engine's log", "engine")]


def _misses(request: RunRequest, operations: dict[str, OperationResult], processes: int) -> list[Invalid]:
    """Must-hit operations (harness.runner.outcomes) that found nothing in more than MAX_MISS_SHARE of their calls."""
    if request.engine == "fake" and processes > 1:
        return []  # the fake engine's data lives in each worker process: a record another process loaded is absent
    hits = {name: op for name, op in operations.items() if op.must_hit and op.count}
    missed, calls = sum(op.not_found for op in hits.values()), sum(op.count for op in hits.values())
    if not calls or missed / calls <= MAX_MISS_SHARE:
        return []
    worst = max(hits, key=lambda name: hits[name].not_found / hits[name].count)
    return [Invalid(f"misses: {missed / calls:.1%} of the calls that must find a record found nothing ({missed:,} of "
                    f"{calls:,}; limit {MAX_MISS_SHARE:.0%}; worst {worst}: {hits[worst].not_found:,} of "
                    f"{hits[worst].count:,}): the data was not what the workload loaded (another run's prepare, "
                    "expiry, eviction or a lost write); check the engine's data and run again", "misses")]


def _outage(timeseries: tuple[TimePoint, ...], warmup_s: float, measured_s: float, engine: str,
            results: list[WorkerResult]) -> list[Invalid]:
    """Measured seconds in which nothing succeeded, and whose fault that was.

    A second counts when calls failed or timed out in it and none succeeded, or when nothing at all
    completed in two or more seconds in a row of a run that averaged 5 completions a second or more;
    every second of the window counts when no measured call succeeded at all. The cause: the load
    generator when it fell behind its schedule while the calls it made answered quickly (`_behind`);
    errors when the calls failed with errors that were not lost connections (a wrong statement);
    else the engine (unavailable or stalled).
    """
    dark, failures = _dark_seconds(timeseries, warmup_s, measured_s)
    if not dark:
        return []
    if not any(p.count for p in timeseries if p.phase == "measure"):
        span = f"during the whole measurement ({measured_s:.3g} s; {failures:,} calls failed or timed out)"
    else:
        span = (f"during {len(dark)} s of the measurement ({seconds_text(dark)} from the start of warm-up, "
                f"{failures:,} calls failed or timed out then)")
    behind = _behind(results)
    if behind is not None:
        return [Invalid(f"no call succeeded {span}: {behind}; {GENERATOR_ADVICE}", "client")]
    parts = [part for r in results for part in r.operations.values()]
    errors, timeouts = sum(p.errors for p in parts), sum(p.timeouts for p in parts)
    if errors and not timeouts and not sum(r.disconnects for r in results):
        sample = next((s for p in parts for s in p.errors_sample), "")
        return [Invalid(f"no call succeeded {span}: the calls failed with errors, e.g. {redact_text(sample)}",
                        "errors")]
    return [Invalid(f"no call succeeded {span}: {engine} was unavailable or stalled, not the load generator; see the "
                    "per-second series and the engine's log", "engine")]


BUSY_SECOND = 20  # successes in a second around which an empty second cannot be chance


def _dark_seconds(timeseries: tuple[TimePoint, ...], warmup_s: float, measured_s: float) -> tuple[list[int], int]:
    """The measurement's seconds (from the start of warm-up) in which nothing succeeded (see `_outage`), and how
    many calls failed or timed out in them."""
    if measured_s <= 0 or not any(p.phase == "measure" for p in timeseries):
        return [], 0
    ok, failed = measured_per_second(timeseries)
    first, last = math.floor(warmup_s), math.ceil(warmup_s + measured_s) - 1  # the seconds the window touches
    if not sum(ok.values()):  # nothing measured succeeded: the whole window, whenever its failures were counted
        return list(range(first, last + 1)), sum(failed.values())
    busy = sum(ok.values()) / measured_s >= 5
    window = range(min([first, *failed]), max([last, *ok, *failed]) + 1)
    empty = [t for t in window if ok.get(t, 0) == 0]
    dark = [t for t in empty if failed.get(t, 0) > 0
            or (first <= t <= last and busy and (t - 1 in empty or t + 1 in empty))
            or _gap(ok, t, warmup_s, measured_s)]
    return dark, sum(failed.get(t, 0) for t in dark)


def _gap(ok: dict[int, int], t: int, warmup_s: float, measured_s: float) -> bool:
    """Whether empty second `t` lies whole in the window between two seconds of BUSY_SECOND successes or more:
    no Poisson chance empties it (e^-20), the calls were blocked (a restart whose callers waited, not failed)."""
    whole = math.ceil(warmup_s) <= t <= math.floor(warmup_s + measured_s) - 1
    return whole and ok.get(t - 1, 0) >= BUSY_SECOND and ok.get(t + 1, 0) >= BUSY_SECOND


def _short(done: int, rate: float, seconds: float) -> bool:
    """Fewer operations than an open-loop `rate` offers over `seconds`, beyond Poisson noise (4 sigma) and 10%."""
    expected = rate * seconds
    return expected >= 1 and done < expected - max(0.1 * expected, 4 * math.sqrt(expected))


def _offered_load(load: LoadProfile, operations: dict[str, OperationResult], stages: tuple[StageResult, ...],
                  scenarios: tuple[ScenarioResult, ...], measured_s: float, busy: float | None,
                  behind: bool = False) -> list[Invalid]:
    """Open-loop targets that were not reached: the numbers then describe a different load than the one asked.

    Every intended start of the window is accounted for (done, failed or timed out), so a shortfall
    means the generator could not even schedule them: the client's fault when its CPU was busy or
    it fell behind its schedule while the engine answered quickly (`behind`, see `_behind`).
    """
    if busy is not None and busy >= CLIENT_BUSY:
        advice, cause = (f"the harness process was at {busy:.0%} CPU: add processes (--processes) or workers "
                         "(--expect-workers)"), "client"
    elif behind:
        advice, cause = GENERATOR_ADVICE, "client"
    else:
        advice, cause = ("compare response and service time: a low service time means the load generator fell behind "
                         "(add processes or workers), a high one that the engine could not keep up"), "other"
    found: list[Invalid] = []
    if load.target_rate is not None:
        done = sum(op.count + op.errors + op.timeouts for op in operations.values())
        if _short(done, load.target_rate, measured_s):
            found.append(Invalid(f"offered load not reached: {done / measured_s:,.0f} of {load.target_rate:,.0f} "
                                 f"ops/s; {advice}", cause))
    for stage in stages:
        done = sum(op.count + op.errors + op.timeouts for op in stage.operations.values())
        if stage.target_rate and _short(done, stage.target_rate, stage.duration_s):
            found.append(Invalid(f"stage {stage.index + 1}: offered load not reached: {done / stage.duration_s:,.0f} "
                                 f"of {stage.target_rate:,.0f} ops/s; {advice}", cause))
    for scenario in scenarios:
        done = scenario.count + scenario.errors + scenario.timeouts
        if scenario.target_rate and _short(done, scenario.target_rate, measured_s):
            found.append(Invalid(f"scenario {scenario.name}: offered load not reached: {scenario.throughput_ops_s:,.0f} "
                                 f"of {scenario.target_rate:,.0f} ops/s; {advice}", cause))
    return found


def _error_budget(request: RunRequest, results: list[WorkerResult]) -> list[Invalid]:
    """An error + timeout share over the budget, or a window in which nothing succeeded, invalidates the run."""
    parts = [part for r in results for part in r.operations.values()]
    ok, failed, timeouts = (sum(p.count for p in parts), sum(p.errors for p in parts), sum(p.timeouts for p in parts))
    calls = ok + failed + timeouts
    if calls == 0:
        held_s = sum(r.stalled_s for r in results)
        if held_s:  # every user sat in a call made before the window, failing or timing out during or after it
            return [Invalid(f"no operation completed in the measurement window: its users were held in calls made "
                            f"before it ({held_s:.1f} s in calls of 1 s or more that failed, timed out or ended after "
                            f"it); {request.engine} was unavailable or stalled, see the per-second series", "engine")]
        return [Invalid("no operation completed in the measurement window (none was made)", "other")]
    share = (failed + timeouts) / calls
    if share > request.load.max_error_rate or ok == 0:
        sample = next((s for p in parts for s in p.errors_sample), "")
        what = " and ".join(x for x in (f"{failed:,} failed" if failed else "",
                                         f"{timeouts:,} timed out" if timeouts else "") if x)
        reason = (f"errors: {share:.1%} of calls failed or timed out ({what} of {calls:,}; budget "
                  f"{request.load.max_error_rate:.1%})" + (f", e.g. {redact_text(sample)}" if sample and failed else ""))
        unissued = sum(r.unissued for r in results)
        if _behind(results) is not None and 2 * unissued >= failed + timeouts:
            return [Invalid(f"{reason}: {unissued:,} of them intended starts never issued; {GENERATOR_ADVICE}",
                            "client")]
        return [Invalid(reason, "errors")]
    return []


@dataclass
class _Outcome:
    """What one run got to, filled in as it goes (so an interruption or a failure keeps all of it)."""

    results: RunResults | None = None
    load_phase: LoadPhase | None = None
    complete: bool = True
    interrupted: bool = False
    lost: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    phase: str = "connect"
    last_progress: str = ""  # the last progress line (how far the load got)
    failure: str | None = None
    failure_cause: str = "engine"  # engine | workers (an invalid cause, see Measurement.invalid_causes)
    lock_lost: str | None = None  # another run took the dataset lock during this one (harness.engines.locks)
    signal_name: str = ""  # the stop signal that interrupted the run (SIGINT, SIGTERM, SIGHUP)

    def interrupt(self, signal_name: str, progress: Progress) -> None:
        """A stop signal arrived in this phase: note it; whatever was measured stays."""
        if self.interrupted:
            return
        self.interrupted, self.signal_name = True, signal_name
        if self.phase != "telemetry":
            self.complete = False
        progress.say(f"interrupted ({signal_name}) during {self.phase}: saving what was measured")

    def load_cut_short(self, records: int, seconds: float) -> None:
        """The load stopped before its end (a stop signal, a failed worker or engine) after `records`."""
        self.load_phase = LoadPhase(records=records, seconds=round(seconds, 3),
                                    records_per_s=round(records / max(seconds, 1e-9), 1), complete=False)

    def stopped_before_measuring(self) -> bool:
        """Interrupted or failed before the workers were asked to measure."""
        return (self.interrupted or self.failure is not None) and self.phase in ("connect", "prepare", "load")

    def all_notes(self) -> tuple[str, ...]:
        """The notes, the interruption's first: its signal, its phase and, in the load, how far it got."""
        if not self.interrupted:
            return tuple(self.notes)
        where = f"during {self.phase}"
        if self.phase == "load":
            lp = self.load_phase
            so_far = f"{lp.records:,} records loaded so far" if lp is not None and not lp.complete else self.last_progress
            where += f" ({so_far})" if so_far else ""
        elif self.phase == "telemetry":
            where += "; server statistics and plans not collected"
        note = STOPPED_BY.get(self.signal_name, f"interrupted by {self.signal_name}")
        return (f"{note} {where}", *self.notes)

    def fail(self, error: str, cause: str = "engine") -> None:
        self.failure, self.failure_cause, self.complete = error, cause, False
        self.notes.append(f"failed during {self.phase}: {error}")


class _Session:
    """The parent's side of one run: plan, load hand-off, live line, results; Ctrl-C stops in order."""

    def __init__(self, request: RunRequest, seed: int, adapter: EngineAdapter[Any], progress: Progress,
                 outcome: _Outcome) -> None:
        self.request, self.seed, self.adapter, self.progress = request, seed, adapter, progress
        self.inbox: Inbox = queue.Queue()
        self.outcome = outcome
        self._last_tick: tuple[float, float] | None = None  # the last Tick's t and when it came (time.monotonic)
        self._window_start_epoch: float | None = None  # when the warm-up begins (the master's Go), Unix seconds

    def plan(self) -> RunPlan:
        request, load = self.request, self.request.load
        host, _, port = request.master_bind.rpartition(":")
        # On data loaded by an earlier run, earlier inserts may occupy the indexes after the loaded
        # records: start this run's inserts far past them (2**40 slots apart, chosen at random).
        insert_offset = 0 if not request.skip_load else secrets.randbelow(1 << 20) << 40
        return RunPlan(engine=request.engine, url=request.url, workload=request.workload, load=load, seed=self.seed,
                       insert_offset=insert_offset, load_data=not request.skip_load,
                       local_workers=0 if request.expect_workers else min(load.processes, load.users),
                       expect_workers=request.expect_workers, bind_host=host or "127.0.0.1",
                       bind_port=int(port or 0), web=request.web,
                       connect_timeout_s=600.0 if request.expect_workers else 120.0,  # people start remote workers
                       run_label=f"{request.engine} · {request.workload.name}{':' + request.preset if request.preset else ''}")

    def run(self) -> None:
        """Load and measure through the master; a stop signal stops the workers, then re-raises once results are in."""
        self.outcome.phase = "load" if not self.request.skip_load else "measure"
        master = _MasterProcess(self.plan(), self.inbox)
        self.progress.update("starting the master and its workers", force=True)
        try:
            self._follow(master)
        except KeyboardInterrupt as exc:
            if self.outcome.phase == "measure" and self._in_warmup():
                self.outcome.phase = "warmup"
            self.outcome.interrupt(interruption_name(exc), self.progress)
            master.send(Stop())
            with deferred_signals():  # a second Ctrl-C waits until the workers' results are in
                self._drain(RESULT_GRACE_S)
            raise
        finally:
            master.stop(timeout_s=10)

    def _follow(self, master: _MasterProcess) -> None:
        load = self.request.load
        while self.outcome.results is None:
            try:
                message = self.inbox.get(timeout=load.warmup_s + load.duration_s + READY_TIMEOUT_S + RESULT_GRACE_S
                                         + drain_s(self.request.workload, load.op_timeout_s))
            except queue.Empty:
                raise LoadWorkersFailed("the master stopped answering; no result") from None
            if isinstance(message, Loaded) and not message.complete:
                self._load_cut_short(message)
            elif isinstance(message, Loaded):
                self._finish_load(message)
                self.adapter.before_measure(self.request.workload)  # also when the load was skipped
                self.outcome.phase = "measure"
                master.send(Measure())
            else:
                self._handle(message)
        self.progress.done()

    def _finish_load(self, loaded: Loaded) -> None:
        if not self.request.skip_load:
            began = time.perf_counter()
            self.adapter.finish_load(self.request.workload)
            seconds = loaded.seconds + (time.perf_counter() - began)
            rate = loaded.records / max(seconds, 1e-9)
            self.outcome.load_phase = LoadPhase(records=loaded.records, seconds=round(seconds, 3),
                                                records_per_s=round(rate, 1))
            self.progress.done(f"loaded {loaded.records:,} records in {seconds:.1f}s ({rate:,.0f} records/s)")

    def _load_cut_short(self, loaded: Loaded) -> None:
        self.outcome.load_cut_short(loaded.records, loaded.seconds)
        self.progress.say(f"the load stopped after {loaded.records:,} records ({loaded.seconds:.1f}s)")

    def _in_warmup(self) -> bool:
        """Whether the window is still in its warm-up (or not begun): by the warm-up's start the master
        announced (Go, on this host's clock), else by the last second relayed (Tick.t, the end of the second
        it covers, from the start of warm-up) plus the time since it came."""
        warmup_s = self.request.load.warmup_s
        if self._window_start_epoch is not None:
            return time.time() < self._window_start_epoch + warmup_s
        if warmup_s <= 0:
            return False
        if self._last_tick is None:
            return True
        t, received = self._last_tick
        return t + (time.monotonic() - received) < warmup_s

    def _handle(self, message: Message) -> None:
        if isinstance(message, ProgressLine):
            self.outcome.last_progress = message.text
            if message.final:
                self.progress.say(message.text)
            else:
                self.progress.update(message.text)
        elif isinstance(message, Go):
            self._window_start_epoch = message.start_epoch
        elif isinstance(message, Tick):
            self._last_tick = (message.t, time.monotonic())
            self._show(message)
        elif isinstance(message, RunResults):
            self.outcome.results = message
            self.outcome.lost = message.lost
            if message.lost:
                self.outcome.complete = False
                self.outcome.notes.append(f"{len(message.lost)} of {len(message.workers)} worker(s) lost; "
                                          "merged what the others measured")
        elif isinstance(message, Failed):
            raise LoadWorkersFailed(message.error, message.cause)
        elif isinstance(message, Exited) and self.outcome.results is None:
            raise LoadWorkersFailed(f"the master exited with code {message.code} before the run ended (see its lines above)")

    def _drain(self, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        while self.outcome.results is None and time.monotonic() < deadline:
            try:
                message = self.inbox.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                return
            if isinstance(message, (Failed, Exited)):
                return
            if isinstance(message, Loaded) and not message.complete:
                self._load_cut_short(message)
            if isinstance(message, RunResults):
                self._handle(message)

    def _show(self, tick: Tick) -> None:
        load = self.request.load
        phase, elapsed_s, total_s = tick_clock(tick.t, load.warmup_s, load.duration_s)  # the covered second's phase
        self.progress.update(f"[{phase} {fmt_clock(elapsed_s)}/{fmt_clock(total_s)}] {tick.ops:,} ops/s  "
                             f"p99 {fmt_us(tick.p99_us)}  errors+timeouts {tick.errors}", force=True)
