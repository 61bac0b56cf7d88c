"""A worker process: Locust users driving one engine, reporting JSON lines on stdout.

Run as `python -m harness.runner.worker`. Locust is imported first so that gevent patches
sockets before any database driver is imported (psycopg picks its wait function at import;
unpatched, all users of a process would run one at a time).

Protocol (harness.runner.protocol, one JSON object per line): stdin gets the WorkerConfig, then
Go or Stop; stdout gets Ready (or Failed), a Tick per second, and finally the WorkerResult.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
import time
from typing import Any

import gevent
import locust  # noqa: F401  (imported for its gevent monkey-patching, before any driver)
from gevent.event import Event
from gevent.socket import wait_read
from locust import User, constant, task
from locust.env import Environment

from harness.engines.base import EngineAdapter, Executor
from harness.engines.calls import Change
from harness.engines.registry import adapter_class, create_adapter
from harness.models import Frozen
from harness.runner.driver import OperationMix
from harness.runner.pacing import NS_PER_S, schedule_for
from harness.runner.protocol import Failed, Go, Ready, Tick, WorkerConfig, decode_parent, encode
from harness.runner.recorder import Recorder
from harness.spec.models import Operation, OperationKind, ReadOp, UpdateOp, Workload

RECONNECT_PAUSE_S = 0.2
YIELD_EVERY = 64  # ops between voluntary yields, so no user starves the others


def emit(message: Frozen) -> None:
    sys.stdout.write(encode(message) + "\n")
    sys.stdout.flush()


class WorkerState:
    """Shared by the users of this process."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.workload: Workload = config.workload
        self.go = Event()
        self.stopping = False
        self.connected = 0
        self.failed: list[str] = []
        self.next_local = 0
        self.t0_ns = 0
        self.recorder: Recorder | None = None

    def claim_slot(self) -> int:
        slot = self.config.first_user_slot + self.next_local
        self.next_local += 1
        return slot

    def bind_all(self, adapter: EngineAdapter[Any]) -> list[Executor]:
        return [bind_operation(adapter, op, self.workload) for op in self.workload.operations]


def bind_operation(adapter: EngineAdapter[Any], op: Operation, workload: Workload) -> Executor:
    """The adapter's executor; a read-first update reads then writes, timed as one (YCSB F)."""
    write = adapter.bind(op, workload)
    if not (isinstance(op, UpdateOp) and op.read_first):
        return write
    read = adapter.bind(ReadOp(name=f"{op.name}-read", kind=OperationKind.READ, entity=op.entity, weight=0), workload)

    def read_modify_write(change: Change) -> int:
        read(change.key)
        return write(change)

    return read_modify_write


def build_user_class(state: WorkerState) -> type[User]:
    config = state.config

    class ArenaUser(User):
        """One connection executing the operation mix until the run ends."""

        wait_time = constant(0)

        def on_start(self) -> None:
            self.slot = state.claim_slot()
            self.adapter = create_adapter(config.engine, config.url)
            try:
                self.adapter.connect()
                self.executors = state.bind_all(self.adapter)
            except Exception as exc:  # reported to the parent, which refuses the run
                state.failed.append(f"{type(exc).__name__}: {exc}")
                raise
            state.connected += 1

        def on_stop(self) -> None:
            try:
                self.adapter.close()
            except Exception:
                pass

        @task
        def run_mix(self) -> None:
            state.go.wait()
            recorder = state.recorder
            assert recorder is not None
            rng = random.Random(config.seed * 104_729 + self.slot)
            mix = OperationMix(state.workload, self.slot, config.total_users, config.seed, config.insert_offset)
            schedule = schedule_for(
                config.load.target_rate, config.load.schedule, total_users=config.total_users,
                user_slot=self.slot, start_ns=state.t0_ns, rng=rng,
            )
            drivers, stats = mix.drivers, recorder.stats
            until = recorder.measure_until_ns
            clock = time.perf_counter_ns
            n = 0
            while not state.stopping:
                n += 1
                if n % YIELD_EVERY == 0:  # also when every call fails fast: the others must run too
                    gevent.sleep(0)
                index = mix.next_index()
                argument = drivers[index].arguments()
                intended = schedule.next_ns()
                if intended:
                    if intended >= until:
                        break
                    now = clock()
                    if intended > now:
                        gevent.sleep((intended - now) / NS_PER_S)
                start = clock()
                if start >= until:
                    break
                try:
                    self.executors[index](argument)
                except Exception as exc:
                    recorder.record_error(stats[index], clock(), exc)
                    if self.adapter.is_disconnect(exc):
                        self._reconnect()
                    continue
                end = clock()
                recorder.record(stats[index], intended, start, end)
            while not state.stopping:  # run over; idle until the process stops us
                gevent.sleep(0.05)

        def _reconnect(self) -> None:
            try:
                self.adapter.close()
            except Exception:
                pass
            try:
                self.adapter.connect()
                self.executors = state.bind_all(self.adapter)
            except Exception:
                gevent.sleep(RECONNECT_PAUSE_S)

    return ArenaUser


def _listen_for_stop(state: WorkerState) -> None:
    """Any command after Go (a Stop) or the parent closing stdin stops the run."""
    try:
        _read_line()
    except SystemExit:
        pass
    state.stopping = True


def _read_line() -> str:
    fd = sys.stdin.fileno()
    data = b""
    while not data.endswith(b"\n"):
        wait_read(fd)
        chunk = os.read(fd, 1)
        if not chunk:
            raise SystemExit("parent closed stdin")
        data += chunk
    return data.decode().strip()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    config = WorkerConfig.model_validate_json(_read_line())
    adapter_class(config.engine).patch_process()
    state = WorkerState(config)
    env = Environment(user_classes=[build_user_class(state)])
    runner = env.create_local_runner()
    logging.getLogger("locust.runners").setLevel(logging.ERROR)  # no ramp-up advice: users start at once
    runner.start(config.users, spawn_rate=config.users, wait=False)
    deadline = time.monotonic() + 60
    while state.connected + len(state.failed) < config.users and time.monotonic() < deadline:
        gevent.sleep(0.01)
    if state.failed or state.connected < config.users:
        emit(Failed(error=state.failed[0] if state.failed else "users did not connect within 60s"))
        runner.quit()
        return
    emit(Ready())
    command = decode_parent(_read_line())
    if not isinstance(command, Go):
        runner.quit()
        return
    start_epoch = command.start_epoch
    load = config.load
    state.t0_ns = time.perf_counter_ns() + int((start_epoch - time.time()) * NS_PER_S)
    recorder = Recorder([op.name for op in state.workload.operations], state.t0_ns,
                        load.warmup_s, load.duration_s, open_loop=load.target_rate is not None)
    state.recorder = recorder
    gevent.spawn(_listen_for_stop, state)
    while time.perf_counter_ns() < state.t0_ns:
        gevent.sleep(0.001)
    state.go.set()
    cpu_at_measure: float | None = None
    wall_at_measure = 0
    next_tick = state.t0_ns + NS_PER_S
    while not state.stopping:
        now = time.perf_counter_ns()
        if cpu_at_measure is None and now >= recorder.measure_from_ns:
            cpu_at_measure, wall_at_measure = time.process_time(), now
        if now >= recorder.measure_until_ns:
            break
        if now >= next_tick:
            ops, errors, p99 = recorder.last_second(now)
            emit(Tick(t=(now - state.t0_ns) / NS_PER_S, ops=ops, errors=errors, p99_us=p99))
            next_tick += NS_PER_S
        gevent.sleep(min(0.1, max(0.0, (min(next_tick, recorder.measure_until_ns) - now) / NS_PER_S)))
    complete = not state.stopping
    end_ns = time.perf_counter_ns()
    cpu_fraction = None
    if cpu_at_measure is not None and end_ns > wall_at_measure:
        cpu_fraction = (time.process_time() - cpu_at_measure) / ((end_ns - wall_at_measure) / NS_PER_S)
    state.stopping = True
    measured_s = max(0.0, min(end_ns, recorder.measure_until_ns) - recorder.measure_from_ns) / NS_PER_S
    runner.quit()
    emit(recorder.result(process=config.process_index, complete=complete, measured_s=measured_s,
                         cpu_fraction=cpu_fraction))


if __name__ == "__main__":
    main()
