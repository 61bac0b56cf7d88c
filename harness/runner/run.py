"""One benchmark run: load the data, start worker processes, measure, build the record.

The parent never imports Locust or gevent: it loads the data with a plain connection,
then drives `python -m harness.runner.worker` processes over pipes. Ctrl-C (or an
engine that dies) ends the run cleanly and the record is still saved, marked incomplete.
"""

from __future__ import annotations

import queue
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import IO, Any

from pydantic import Field, ValidationError

from harness.engines.base import EngineAdapter
from harness.engines.registry import create_adapter
from harness.errors import EngineUnavailable, UnsupportedOperation
from harness.metrics.models import LoadPhase, OperationResult, TimePoint
from harness.models import Frozen
from harness.runner.loading import load_dataset
from harness.runner.merge import lag_share, merge_operations, merge_timeseries
from harness.runner.progress import Progress, fmt_clock, fmt_us
from harness.runner.protocol import (
    Exited,
    Failed,
    Go,
    Ready,
    Stop,
    Tick,
    WorkerConfig,
    WorkerMessage,
    WorkerResult,
    decode_worker,
    encode,
)
from harness.spec.models import Workload
from harness.spec.suite import LoadProfile

READY_TIMEOUT_S = 120.0
RESULT_GRACE_S = 60.0
MAX_LAG_SHARE = 0.05
CPU_SATURATED = 0.97
INTERRUPTED = "interrupted by the user (Ctrl-C)"

Inbox = queue.Queue[tuple[int, WorkerMessage]]


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
    complete: bool
    interrupted: bool = False
    invalid_reasons: tuple[str, ...] = ()
    telemetry: dict[str, Any] = Field(default_factory=dict)
    notes: tuple[str, ...] = ()


def explain_plans(adapter: EngineAdapter[Any], workload: Workload, seed: int) -> dict[str, str]:
    """One execution plan per operation, with arguments the runner would generate."""
    from harness.runner.driver import OperationMix

    mix = OperationMix(workload, user_slot=0, total_users=1, seed=seed)
    plans = {}
    for op, driver in zip(workload.operations, mix.drivers, strict=True):
        try:
            plan = adapter.explain(op, workload, driver.arguments())
        except Exception as exc:
            plan = f"(no plan: {type(exc).__name__}: {exc})"
        if plan:
            plans[op.name] = plan
    return plans


def refuse_unsupported(adapter: EngineAdapter[Any], workload: Workload) -> None:
    """UnsupportedOperation naming every operation the engine cannot express, before anything runs."""
    reasons = [f"{op.name} ({op.kind.value}): {reason}" for op in workload.operations
               if (reason := adapter.unsupported_reason(op, workload))]
    if reasons:
        raise UnsupportedOperation(
            f"{adapter.name} cannot run workload {workload.name!r}: " + "; ".join(reasons)
        )


class _Worker:
    """One worker process and a thread turning its stdout lines into inbox messages."""

    def __init__(self, config: WorkerConfig, inbox: Inbox) -> None:
        self.index = config.process_index
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness.runner.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True, bufsize=1,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[str] = self.proc.stdin
        self.send(config)
        self._thread = threading.Thread(target=self._pump, args=(self.proc.stdout, inbox), daemon=True)
        self._thread.start()

    def _pump(self, stdout: IO[str], inbox: Inbox) -> None:
        for line in stdout:
            line = line.strip()
            if line.startswith("{"):
                try:
                    inbox.put((self.index, decode_worker(line)))
                except ValidationError:
                    continue  # a driver or library printed something JSON-like: not ours
        inbox.put((self.index, Exited(code=self.proc.wait())))

    def send(self, message: Frozen) -> None:
        try:
            self.stdin.write(encode(message) + "\n")
            self.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _split_users(users: int, processes: int) -> list[int]:
    processes = min(processes, users)
    return [users // processes + (1 if i < users % processes else 0) for i in range(processes)]


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

    adapter = create_adapter(request.engine, request.url)
    refuse_unsupported(adapter, workload)
    adapter.connect()
    try:
        engine_version = adapter.server_version()
        settings = adapter.settings()
        load_phase = None if request.skip_load else load_dataset(adapter, workload, progress)
        results, complete, interrupted, notes = _measure(request, seed, progress)
        telemetry = _telemetry(adapter, workload, seed)
    finally:
        adapter.close()

    measured_s = max((r.measured_s for r in results), default=0.0)
    return Measurement(
        run_id=run_id, started_at=started_at.isoformat(timespec="seconds"), seed=seed,
        engine_version=engine_version, client_library=adapter.client_library, engine_settings=settings,
        load_phase=load_phase, operations=merge_operations(workload, results, measured_s),
        timeseries=tuple(merge_timeseries(results)), measured_s=round(measured_s, 3),
        complete=complete, interrupted=interrupted,
        invalid_reasons=tuple(_invalid_reasons(request, results, complete)),
        telemetry=telemetry, notes=tuple(notes),
    )


def _telemetry(adapter: EngineAdapter[Any], workload: Workload, seed: int) -> dict[str, Any]:
    """Server statistics and one plan per operation; a failure here is a note, not a lost run."""
    try:
        telemetry = adapter.telemetry(workload)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    plans = explain_plans(adapter, workload, seed)
    if plans:
        telemetry["plans"] = plans
    return telemetry


def _invalid_reasons(request: RunRequest, results: list[WorkerResult], complete: bool) -> list[str]:
    reasons: list[str] = []
    if not complete:
        reasons.append("run interrupted before the end of the measurement window")
    if not results:
        reasons.append("no worker process returned results")
        return reasons
    lagging = lag_share(results)
    if lagging is not None and lagging > MAX_LAG_SHARE:
        reasons.append(
            f"load generator fell behind: {lagging:.1%} of operations started more than 1 s late "
            f"(limit {MAX_LAG_SHARE:.0%}); lower target_rate or add processes"
        )
    busy = [r.cpu_fraction for r in results if r.cpu_fraction is not None]
    if busy and max(busy) >= CPU_SATURATED and request.load.target_rate is not None:
        reasons.append(
            f"harness process CPU at {max(busy):.0%} of a core: the load generator was the bottleneck; add processes"
        )
    return reasons


def _measure(request: RunRequest, seed: int, progress: Progress) -> tuple[list[WorkerResult], bool, bool, list[str]]:
    """Start workers, run warm-up and measurement, collect their results.

    Returns (results, complete, interrupted, notes).
    """
    load = request.load
    inbox: Inbox = queue.Queue()
    workers: list[_Worker] = []
    first = 0
    # On data loaded by an earlier run, earlier inserts may occupy the indexes after the loaded
    # records: start this run's inserts far past them (2**40 slots apart, chosen at random).
    insert_offset = 0 if not request.skip_load else secrets.randbelow(1 << 20) << 40
    for index, users in enumerate(_split_users(load.users, load.processes)):
        config = WorkerConfig(engine=request.engine, url=request.url, workload=request.workload, load=load,
                              process_index=index, first_user_slot=first, users=users,
                              total_users=load.users, seed=seed, insert_offset=insert_offset)
        workers.append(_Worker(config, inbox))
        first += users
    results: dict[int, WorkerResult] = {}
    notes: list[str] = []
    complete, interrupted = True, False
    try:
        _await_ready(workers, inbox, progress)
        start_epoch = time.time() + 0.3
        for worker in workers:
            worker.send(Go(start_epoch=start_epoch))
        complete = _follow(workers, inbox, results, progress, start_epoch, load)
    except KeyboardInterrupt:
        complete, interrupted = False, True
        progress.say("interrupted: stopping workers and saving what was measured")
        notes.append(INTERRUPTED)
        for worker in workers:
            worker.send(Stop())
        _collect(workers, inbox, results, RESULT_GRACE_S)
    finally:
        for worker in workers:
            worker.kill()
    if len(results) < len(workers):
        complete = False
        notes.append(f"{len(workers) - len(results)} of {len(workers)} worker processes returned no result")
    return list(results.values()), complete and all(r.complete for r in results.values()), interrupted, notes


def _await_ready(workers: list[_Worker], inbox: Inbox, progress: Progress) -> None:
    ready: set[int] = set()
    deadline = time.monotonic() + READY_TIMEOUT_S
    progress.update(f"starting {len(workers)} worker process(es)", force=True)
    while len(ready) < len(workers):
        try:
            index, message = inbox.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise EngineUnavailable(f"worker processes were not ready within {READY_TIMEOUT_S:.0f}s") from None
        if isinstance(message, Ready):
            ready.add(index)
        elif isinstance(message, Failed):
            raise EngineUnavailable(f"worker {index} could not connect: {message.error}")
        elif isinstance(message, Exited):
            raise EngineUnavailable(f"worker {index} exited with code {message.code} before it was ready")


def _follow(workers: list[_Worker], inbox: Inbox, results: dict[int, WorkerResult],
            progress: Progress, start_epoch: float, load: LoadProfile) -> bool:
    ticks: dict[int, Tick] = {}
    total_s = load.warmup_s + load.duration_s
    exited: set[int] = set()
    while len(results) + len(exited - set(results)) < len(workers):
        try:
            index, message = inbox.get(timeout=total_s + RESULT_GRACE_S)
        except queue.Empty:
            progress.say("workers stopped reporting; ending the run")
            return False
        if isinstance(message, Tick):
            ticks[index] = message
            _show(ticks, progress, start_epoch, load, total_s)
        elif isinstance(message, WorkerResult):
            results[index] = message
        elif isinstance(message, Exited):
            exited.add(index)
    progress.done()
    return True


def _collect(workers: list[_Worker], inbox: Inbox, results: dict[int, WorkerResult], grace_s: float) -> None:
    deadline = time.monotonic() + grace_s
    exited: set[int] = set()
    while len(results) + len(exited - set(results)) < len(workers) and time.monotonic() < deadline:
        try:
            index, message = inbox.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if isinstance(message, WorkerResult):
            results[index] = message
        elif isinstance(message, Exited):
            exited.add(index)


def _show(ticks: dict[int, Tick], progress: Progress, start_epoch: float, load: LoadProfile, total_s: float) -> None:
    elapsed = time.time() - start_epoch
    phase = "warm-up" if elapsed < load.warmup_s else "measure"
    ops = sum(t.ops for t in ticks.values())
    errors = sum(t.errors for t in ticks.values())
    p99s = [t.p99_us for t in ticks.values() if t.p99_us is not None]
    progress.update(
        f"[{phase} {fmt_clock(elapsed)}/{fmt_clock(total_s)}] {ops:,} ops/s  "
        f"p99 {fmt_us(max(p99s) if p99s else None)}  errors {errors}"
    )
