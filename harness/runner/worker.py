"""A worker: Locust users driving one engine, under a Locust master (local or on another host).

Run as `python -m harness.runner.worker --master HOST:PORT` (or `dbarena worker --master
HOST:PORT` on a load host). Locust is imported first so that gevent patches sockets before
any database driver is imported (psycopg picks its wait function at import; unpatched, all
users of a process would run one at a time).

The worker is a Locust `WorkerRunner`: Locust's ZeroMQ channel carries heartbeats and the
run's custom messages (harness.runner.protocol): the master sends the WorkerConfig (this
worker's index and user slots), the record ranges to load, clock pings, Spawn, Go and Stop;
the worker answers Hello, load progress, Pong, Ready or Failed, a Tick per second and, at the
end, its WorkerResult (encoded HDR histograms). Its users are spawned here, with the slots the
master assigned, so the operation stream is the same function of seed and slot on any host.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import gevent
import locust  # noqa: F401  (imported for its gevent monkey-patching, before any driver)
from gevent.event import Event
from greenlet import greenlet
from locust import User, constant, task
from locust import runners as locust_runners
from locust.env import Environment
from locust.runners import WorkerRunner

from harness.dataset.generate import dataset_factories
from harness.engines.base import EngineAdapter, Executor
from harness.engines.registry import adapter_class, create_adapter
from harness.engines.updates import bind_call
from harness.errors import HarnessBug
from harness.metrics.histogram import ceiling_us
from harness.models import Frozen
from harness.redact import redact_output
from harness.runner.driver import OperationMix, key_spaces
from harness.runner.guard import CallTimedOut, Guard
from harness.runner.outcomes import GUARD_GRACE_S, GUARD_PERIOD_S, drain_s, must_hit
from harness.runner.pacing import (
    NS_PER_S,
    Schedule,
    Segment,
    operation_share,
    scenario_of,
    schedule_for,
    segments_for,
)
from harness.runner.protocol import (
    CUSTOM_PREFIX,
    MESSAGE_TYPES,
    Failed,
    Go,
    Hello,
    LoadDone,
    LoadProgress,
    LoadRange,
    Message,
    Ping,
    Pong,
    Ready,
    Spawn,
    Stop,
    WorkerConfig,
    from_data,
    to_data,
)
from harness.runner.recorder import LAG_LIMIT_NS, Recorder
from harness.runner.waiting import new_waiter
from harness.spec.models import Operation, Workload, timeout_of

RECONNECT_PAUSE_S = 0.2
BACKOFF_FIRST_S = 0.001  # after a failed call; doubles per consecutive failure, with jitter
BACKOFF_MAX_S = 1.0  # so no failing call can spin, and a recovered engine is found within a second
CONNECT_WAIT_S = 120.0  # a worker started before its master waits this long for it
GIVE_UP_GRACE_S = 10.0  # the most the result waits past the drain for users recording their unreached starts
YIELD_EVERY = 64  # ops between voluntary yields, so no user starves the others

READY_TIMEOUT_S = 60.0


class Window(NamedTuple):
    """How the measurement window went in this process."""

    measured_s: float
    cpu_fraction: float | None  # process CPU / wall time over the window
    quota_reached: bool  # every user ran its operationcount share before the duration


def _never(error: BaseException) -> bool:
    """An adapter without `is_timeout`: no driver error is a timeout."""
    return False


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
        self.users: list[ArenaUser] = []  # connected users, watched by the guard
        self.running = 0  # users still running operations
        self.giving_up = 0  # users recording the starts they never reached (`ArenaUser._give_up`)
        self.drain_end_ns = 0  # no call started in the window runs past this (perf_counter_ns)
        # near-real-time engines: a query may rightly miss a fresh insert (harness.runner.outcomes.must_hit)
        self.queries_see_writes = create_adapter(config.engine, config.url).queries_see_writes_at_once
        self.key_spaces = key_spaces(config.workload, config.first_user_slot, config.users, config.total_users,
                                     config.insert_offset, config.load)  # shared by the users: acknowledged inserts
        # operationcount: this process's share, spent by whichever user starts next, so the window ends with the
        # process's N-th start (its users' merged schedule), not with its slowest user's own share
        slots = range(config.first_user_slot, config.first_user_slot + config.users)
        count = config.load.operation_count
        self.quota = None if count is None else sum(operation_share(count, s, config.total_users) or 0 for s in slots)

    def claim_slot(self) -> int:
        slot = self.config.first_user_slot + self.next_local
        self.next_local += 1
        return slot

    def bind_all(self, adapter: EngineAdapter[Any]) -> list[Executor]:
        return [bind_operation(adapter, op, self.workload) for op in self.workload.operations]


def bind_operation(adapter: EngineAdapter[Any], op: Operation, workload: Workload) -> Executor:
    """The adapter's executor; a read-first update reads then writes, timed as one (YCSB F).

    An update that writes one field per call (`write: one`) has one executor per field of `set`,
    chosen by the field the call's Change carries (harness.engines.updates.bind_call: `dbarena
    explain` renders the same steps).
    """
    return bind_call(adapter, op, workload)


class ArenaUser(User):
    """One connection executing the operation mix until the run ends (`state` set by the config)."""

    wait_time = constant(0)
    state: WorkerState

    def on_start(self) -> None:
        state, config = self.state, self.state.config
        self.slot = state.claim_slot()
        self.op_greenlet: greenlet | None = None
        self.call: tuple[int, int, int] | None = None  # (operation, intended, start) of the call in flight
        self.quota_done = False
        self.failed = False
        self.adapter = create_adapter(config.engine, config.url, config.load.op_timeout_s)
        try:
            self.adapter.connect()
            self.executors = state.bind_all(self.adapter)
        except Exception as exc:  # reported to the parent, which refuses the run (one line: the engine's words)
            state.failed.append(f"{type(exc).__name__}: {exc}")
            self.failed = True  # not raised: Locust would log a traceback for what is the engine's refusal
            return
        state.connected += 1
        state.users.append(self)

    def on_stop(self) -> None:
        self.adapter.close()

    @task
    def run_mix(self) -> None:
        state = self.state
        if not self.failed:  # a user that could not connect never runs (its worker reported Failed)
            state.go.wait()
            state.running += 1
            try:
                self._drive()
            finally:
                state.running -= 1
        while not state.stopping:  # run over; idle until the process stops us
            gevent.sleep(0.05)

    def _drive(self) -> None:
        """The user's segments in order (one, unless the load has stages); idle where it is not active."""
        state, config = self.state, self.state.config
        recorder = state.recorder
        if recorder is None:
            raise HarnessBug("a user started measuring before Go set up the recorder")
        scenario = scenario_of(config.load, self.slot)
        mix = OperationMix(state.workload, self.slot, config.total_users, config.seed, config.insert_offset,
                           only=scenario.operations if scenario else None, spaces=state.key_spaces)
        rng = random.Random(config.seed * 104_729 + self.slot)
        waiter = new_waiter()  # the user's timer for intended starts; its descriptor is closed when the user ends
        try:
            for segment in segments_for(config.load, user_slot=self.slot, t0_ns=state.t0_ns,
                                        measure_from_ns=recorder.measure_from_ns,
                                        measure_until_ns=recorder.measure_until_ns):
                if state.stopping or self.quota_done:
                    return
                if not segment.active:
                    while not state.stopping and time.perf_counter_ns() < segment.end_ns:
                        gevent.sleep(min(0.05, max(0.0, (segment.end_ns - time.perf_counter_ns()) / NS_PER_S)))
                    continue
                schedule = schedule_for(segment.rate, config.load.schedule, total_users=segment.group_users,
                                        user_slot=segment.position, start_ns=segment.start_ns, rng=rng)
                self._run(mix, schedule, segment, recorder, waiter.until)
        finally:
            waiter.close()

    def _run(self, mix: OperationMix, schedule: Schedule, segment: Segment, recorder: Recorder,
             wait_until: Callable[[int], None]) -> None:
        """The one timer: pick, wait for the intended start (open loop), call, record, until the segment ends.

        `wait_until(ns)` returns once the clock reaches ns, never before (harness.runner.waiting: a
        timerfd, so the start lags its intended time by µs, not gevent.sleep's millisecond).

        Closed loop: no call starts after the segment's end. Open loop: every start intended before
        it is issued, however late (the engine may have stalled), until the drain ends; the ones
        still due then are timeouts (`_give_up`). A call in flight is given up by the guard.
        """
        state = self.state
        drivers, stats = mix.drivers, recorder.stats
        until, think_s, drain_end = segment.end_ns, segment.think_time_s, state.drain_end_ns
        clock = time.perf_counter_ns
        jitter = random.Random(self.slot).random
        self.op_greenlet = gevent.getcurrent()
        n = failures = 0
        last_end = clock()
        while not state.stopping:
            n += 1
            if n % YIELD_EVERY == 0:  # also when every call fails fast: the others must run too
                gevent.sleep(0)
            index = mix.next_index()
            argument = drivers[index].arguments()
            intended = schedule.next_ns()
            if intended:
                if intended >= until:
                    return
                now = clock()
                if intended > now:
                    wait_until(intended)
                elif now >= drain_end:
                    self._give_up(mix, schedule, recorder, index, intended, until)
                    return
            start = clock()
            if not intended and start >= until:
                return
            if state.quota is not None and self._quota_spent(intended or start, recorder):
                return
            self.call = (index, intended, start)
            try:
                rows = self.executors[index](argument)
            except (CallTimedOut, Exception) as exc:
                self.call = None
                failures = self._failed(exc, recorder, (index, intended, start), failures, jitter())
                last_end = clock()
                continue
            self.call = None
            failures = 0
            end = clock()
            recorder.record(stats[index], intended, start, end, rows)
            if intended and start - intended > LAG_LIMIT_NS:
                recorder.late(start - last_end, end - start)
            last_end = end
            drivers[index].acknowledge()  # an insert's record may now be named by the process's calls
            if think_s:
                gevent.sleep(think_s)  # closed loop: the user's pause between operations, not measured

    def _failed(self, error: BaseException, recorder: Recorder, call: tuple[int, int, int], failures: int,
                jitter: float) -> int:
        """A call raised: a timeout (the guard's or the driver's) or an error; reconnect if the connection is
        gone (or mid-call, after the guard); back off after an error. The consecutive errors so far."""
        index, intended, start = call
        if isinstance(error, CallTimedOut):
            recorder.record_timeout(recorder.stats[index], intended, start, time.perf_counter_ns())
            self._reconnect()  # the connection is mid-call: start afresh
            return failures  # the call waited its timeout out: nothing spins, no back-off
        timed_out = getattr(self.adapter, "is_timeout", _never)(error)
        gone = self.adapter.is_disconnect(error)
        if timed_out:
            recorder.record_timeout(recorder.stats[index], intended, start, time.perf_counter_ns())
        else:
            recorder.record_error(recorder.stats[index], intended, start, time.perf_counter_ns(), error,
                                  disconnect=gone)
        if gone and not (timed_out and self.adapter.reconnects_in_call):
            self._reconnect()
        if timed_out:
            return failures
        # bounded exponential back-off with jitter: failing fast must not spin
        gevent.sleep(min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** min(failures + 1, 10)) * (0.5 + jitter))
        return failures + 1

    def _give_up(self, mix: OperationMix, schedule: Schedule, recorder: Recorder, index: int, intended: int,
                 until: int) -> None:
        """The drain is over: every start still due before `until` is a timeout, its latency counted from then."""
        now = time.perf_counter_ns()
        n = 0
        self.state.giving_up += 1  # the result waits for these records (`WorkerSession._drain`)
        try:
            while 0 < intended < until:  # bounded: the starts left in the window at the schedule's rate
                recorder.record_timeout(recorder.stats[index], intended, 0, now)
                index, intended = mix.next_index(), schedule.next_ns()
                n += 1
                if n % 4096 == 0:
                    gevent.sleep(0)  # heartbeats and the other users go on
        finally:
            self.state.giving_up -= 1

    def _quota_spent(self, anchor_ns: int, recorder: Recorder) -> bool:
        """operationcount: count a measured operation against this process's share; True once the share is spent."""
        if anchor_ns < recorder.measure_from_ns:
            return False
        state = self.state
        if not state.quota:
            self.quota_done = True
            return True
        state.quota -= 1
        return False

    def _reconnect(self) -> None:
        """Reconnect and rebind everything the adapter prepared; pause a little when the engine is still gone."""
        self.adapter.close()
        try:
            self.adapter.connect()
            self.executors = self.state.bind_all(self.adapter)
        except Exception:
            gevent.sleep(RECONNECT_PAUSE_S)


Handler = Callable[[Any], None]


def send(runner: WorkerRunner, message: Message) -> None:
    """One custom message to the master."""
    runner.send_message(CUSTOM_PREFIX + message.type, to_data(message))


class WorkerSession:
    """This worker's side of the run: answers the master's messages, runs loading and measuring."""

    def __init__(self, runner: WorkerRunner) -> None:
        self.runner = runner
        self.state: WorkerState | None = None
        self.handlers: dict[type[Frozen], Handler] = {
            WorkerConfig: self.on_config, LoadRange: self.on_load, Ping: self.on_ping, Spawn: self.on_spawn,
            Go: self.on_go, Stop: self.on_stop,
        }
        for name in MESSAGE_TYPES:
            runner.register_message(CUSTOM_PREFIX + name, self._dispatch)

    def _dispatch(self, environment: Environment, msg: Any, **_: Any) -> None:
        message = from_data(msg.data)
        handler = self.handlers.get(type(message))
        if handler is not None:
            handler(message)

    def _state(self) -> WorkerState:
        if self.state is None:
            raise HarnessBug("a run message arrived before the worker's config")
        return self.state

    def on_config(self, config: WorkerConfig) -> None:
        adapter_class(config.engine).patch_process()
        self.state = WorkerState(config)
        ArenaUser.state = self.state
        send(self.runner, Hello(host=socket.gethostname(), pid=os.getpid()))

    def on_ping(self, ping: Ping) -> None:
        send(self.runner, Pong(master_time=ping.master_time, worker_time=time.time()))

    def on_load(self, load: LoadRange) -> None:
        gevent.spawn(self._load, load)

    def _load(self, load: LoadRange) -> None:
        """Bulk-load records [start, stop) of one entity with a connection of this worker's own.

        Stops between batches on a Stop (LoadDone, not complete); on a failure it reports the records loaded
        until then (LoadProgress) before its Failed: the master counts what is in the engine either way.
        """
        state = self._state()
        began = time.perf_counter()
        adapter = create_adapter(state.config.engine, state.config.url)
        done = 0
        try:
            adapter.connect()
            entity = state.workload.entity(load.entity)
            factory = dataset_factories(state.workload)[load.entity]
            last_report, size = began, adapter.load_batch
            for start in range(load.start, load.stop, size):
                if state.stopping:
                    break
                batch = factory.columns(start, min(start + size, load.stop))
                adapter.load_columns(state.workload, entity, batch)
                done += len(batch)
                if time.perf_counter() - last_report >= 0.5:
                    send(self.runner, LoadProgress(entity=load.entity, done=done))
                    last_report = time.perf_counter()
        except Exception as exc:
            send(self.runner, LoadProgress(entity=load.entity, done=done))
            send(self.runner, Failed(error=f"loading {load.entity}: {type(exc).__name__}: {exc}", cause="engine"))
            return
        finally:
            adapter.close()
        send(self.runner, LoadDone(entity=load.entity, records=done, seconds=round(time.perf_counter() - began, 3),
                                   complete=done == load.stop - load.start))

    def on_spawn(self, _: Spawn) -> None:
        state = self._state()
        if state.config.users:
            self.runner.spawn_users({ArenaUser.__name__: state.config.users})
        gevent.spawn(self._await_connected)

    def _await_connected(self) -> None:
        state = self._state()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while state.connected + len(state.failed) < state.config.users and time.monotonic() < deadline:
            gevent.sleep(0.01)
        if state.failed or state.connected < state.config.users:
            send(self.runner, Failed(error=state.failed[0], cause="engine") if state.failed
                 else Failed(error=f"users did not connect within {READY_TIMEOUT_S:.0f}s"))
            return
        send(self.runner, Ready())

    def on_go(self, go: Go) -> None:
        gevent.spawn(self._measure, go.start_epoch)

    def on_stop(self, _: Stop) -> None:
        if self.state is not None:
            self.state.stopping = True

    def _measure(self, start_epoch: float) -> None:
        """Warm-up, measurement and drain on this worker's clock (`start_epoch` is already in it)."""
        state = self._state()
        config, load, workload = state.config, state.config.load, state.workload
        state.t0_ns = time.perf_counter_ns() + int((start_epoch - time.time()) * NS_PER_S)
        drain = drain_s(workload, load.op_timeout_s)
        recorder = Recorder([op.name for op in workload.operations], state.t0_ns,
                            load.warmup_s, load.duration_s, open_loop=load.open_loop,
                            stage_durations_s=tuple(stage.duration_s for stage in load.stages),
                            must_hit=[must_hit(op, workload, state.queries_see_writes) for op in workload.operations],
                            highest_us=ceiling_us(load.warmup_s, load.duration_s, drain, load.op_timeout_s),
                            pause=lambda: gevent.sleep(0))  # heartbeats go on while a result is built
        state.drain_end_ns = recorder.measure_until_ns + int(drain * NS_PER_S)
        state.recorder = recorder
        limits = [int((timeout_of(op, load.op_timeout_s) + GUARD_GRACE_S) * NS_PER_S) for op in workload.operations]
        guard = Guard(state.users, limits, state.drain_end_ns)
        while time.perf_counter_ns() < state.t0_ns:
            gevent.sleep(0.001)
        state.go.set()
        try:
            window = self._window(recorder)
            self._drain(recorder)
        finally:
            guard.stop()
        complete = not state.stopping
        state.stopping = True
        send(self.runner, recorder.result(process=config.process_index, complete=complete, measured_s=window.measured_s,
                                          cpu_fraction=window.cpu_fraction, quota_reached=window.quota_reached))

    def _window(self, recorder: Recorder) -> Window:
        """Until the window's end (or every user's operationcount share): a tick a second, CPU over the window."""
        state = self._state()
        cpu_at_measure: float | None = None
        wall_at_measure = 0
        next_tick = state.t0_ns + NS_PER_S
        quota = state.config.load.operation_count is not None
        while not state.stopping:
            now = time.perf_counter_ns()
            if cpu_at_measure is None and now >= recorder.measure_from_ns:
                cpu_at_measure, wall_at_measure = time.process_time(), now
            if now >= recorder.measure_until_ns or (quota and state.users and all(u.quota_done for u in state.users)):
                break
            if now >= next_tick:
                send(self.runner, recorder.tick(now))
                next_tick += NS_PER_S
            gevent.sleep(min(0.1 if not quota else 0.01,
                             max(0.0, (min(next_tick, recorder.measure_until_ns) - now) / NS_PER_S)))
        end_ns = time.perf_counter_ns()
        if not state.stopping:  # the window's last (maybe partial) second: shown too, as the record has it
            send(self.runner, recorder.tick(next_tick))
        cpu_fraction = None
        if cpu_at_measure is not None and end_ns > wall_at_measure:
            cpu_fraction = (time.process_time() - cpu_at_measure) / ((end_ns - wall_at_measure) / NS_PER_S)
        reached = quota and end_ns < recorder.measure_until_ns and not state.stopping
        # operationcount: the window ended with the last measured operation, not when the users noticed their share
        stop_ns = recorder.last_end_ns if reached and recorder.last_end_ns else end_ns
        measured_s = max(0.0, min(stop_ns, recorder.measure_until_ns) - recorder.measure_from_ns) / NS_PER_S
        return Window(measured_s, cpu_fraction, reached)

    def _drain(self, recorder: Recorder) -> None:
        """Let the calls anchored in the window finish (up to the drain's end); a call still running then is a timeout."""
        state = self._state()
        deadline = state.drain_end_ns + int(2 * GUARD_PERIOD_S * NS_PER_S)
        late = deadline + int(GIVE_UP_GRACE_S * NS_PER_S)  # users still recording their unreached starts
        while not state.stopping and state.running and (
                time.perf_counter_ns() < deadline or (state.giving_up and time.perf_counter_ns() < late)):
            gevent.sleep(0.01)
        if state.stopping:
            return
        now = time.perf_counter_ns()
        for user in state.users:  # the guard could not stop these calls (a driver that never yields)
            if user.call is not None:
                index, intended, start = user.call
                recorder.record_timeout(recorder.stats[index], intended, start, now)
                user.call = None


def parse_master(address: str) -> tuple[str, int]:
    """"HOST:PORT" (IPv6 as [addr]:port) -> (host, port); ValueError with what is wrong."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--master {address!r}: expected HOST:PORT, e.g. 10.0.0.5:5557")
    return host.strip("[]"), int(port)


def main(argv: list[str] | None = None) -> int:
    """Connect to the master and serve the run until the master quits (exit 0) or is lost (exit 1)."""
    redact_output(stdout=False)  # what a worker prints (logging, tracebacks of its greenlets) masks secrets
    parser = argparse.ArgumentParser(prog="dbarena worker", description="Serve a dbarena master as a load worker.")
    parser.add_argument("--master", required=True, help="the master's HOST:PORT (printed by `dbarena bench --expect-workers`)")
    parser.add_argument("--quiet", action="store_true", help="say nothing unless something fails (local workers)")
    parser.add_argument("--engine", help="import this engine's driver before joining (local workers: a driver's "
                                         "import would otherwise hold up the heartbeats once the run is configured)")
    args = parser.parse_args(argv)
    try:
        host, port = parse_master(args.master)
    except ValueError as exc:
        print(f"dbarena worker: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("locust").setLevel(logging.ERROR)
    if args.engine:
        try:
            adapter_class(args.engine)  # the driver's import, before any heartbeat is due (on_config finds it loaded)
        except Exception:  # an unknown engine is the configuration's to refuse, with its own message
            pass
    env = Environment(user_classes=[ArenaUser])
    if not args.quiet:
        print(f"dbarena worker: connecting to the master at {host}:{port} (up to {CONNECT_WAIT_S:.0f}s)",
              file=sys.stderr, flush=True)
    locust_runners.CONNECT_RETRY_COUNT = int(CONNECT_WAIT_S / locust_runners.CONNECT_TIMEOUT)
    try:
        runner = env.create_worker_runner(host, port)
    except Exception as exc:  # Locust raises ConnectionError after its connect timeout
        print(f"dbarena worker: could not reach the master at {host}:{port} ({exc}); is `dbarena bench "
              "--expect-workers N` running there, listening on that address (--master-bind)?", file=sys.stderr)
        return 1
    if not args.quiet:
        print("dbarena worker: connected; serving the run (the master ends it)", file=sys.stderr, flush=True)
    WorkerSession(runner)
    runner.greenlet.join()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # ZeroMQ's context would wait for lingering sockets at interpreter exit
