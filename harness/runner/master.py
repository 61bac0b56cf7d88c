"""The master of a run: a Locust MasterRunner coordinating local and remote workers.

Run as `python -m harness.runner.master` by the parent (`harness.runner.run`), which sends a
RunPlan on stdin and reads Progress, Loaded, Ticks and finally RunResults on stdout (one
JSON line each, harness.runner.protocol). The master never touches the engine: the parent
prepares the schema and finishes the load, the workers load and measure.

Phases, each bounded in time:
1. connect   wait for `local_workers` it starts itself plus `expect_workers` started elsewhere
             (`dbarena worker --master HOST:PORT`), in Locust's connection order;
2. configure each worker gets its index and its users' slots (the slots one process would give
             them), answers Hello;
3. clocks    five pings per worker; the offset of the fastest round trip is kept (NTP-style);
4. load      each entity's records are split into disjoint ranges, one per worker; the next
             entity starts when every worker finished the previous one (edges need their nodes);
5. measure   on the parent's Measure: Spawn, wait for Ready, then Go at one start time converted
             into each worker's clock; ticks are summed per second for the parent's live line;
6. results   each worker's WorkerResult; a worker whose heartbeat stops (Locust marks it missing
             after ~3 s) is reported lost, with when, and the run ends incomplete.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import gevent
import locust  # noqa: F401  (gevent monkey-patching first)
from gevent.queue import Empty, Queue
from gevent.socket import wait_read
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner

from harness.metrics.histogram import merge as merge_histograms
from harness.models import Frozen
from harness.redact import redact_output
from harness.runner.live import LiveOperation, LiveSnapshot, LiveView, Phase
from harness.runner.outcomes import drain_s
from harness.runner.progress import load_line, phase_clock, tick_clock
from harness.runner.protocol import (
    CUSTOM_PREFIX,
    MESSAGE_TYPES,
    Failed,
    Go,
    Hello,
    LoadDone,
    Loaded,
    LoadProgress,
    LoadRange,
    Measure,
    Message,
    Ping,
    Pong,
    Progress,
    Ready,
    RunPlan,
    RunResults,
    Spawn,
    Stop,
    Tick,
    WorkerConfig,
    WorkerInfo,
    WorkerResult,
    decode,
    encode,
    from_data,
    to_data,
)

PINGS = 5
HELLO_TIMEOUT_S = 120.0  # a worker on a busy host imports Locust and the driver first
READY_TIMEOUT_S = 120.0
LOAD_TIMEOUT_S = 6 * 3600.0
RESULT_GRACE_S = 60.0
STOP_GRACE_S = 30.0
LOAD_STOP_GRACE_S = 15.0  # for each worker's final count after a Stop: its batch in flight ends first


class RunAborted(Exception):
    """The run cannot go on; the message is the one line the parent shows, `cause` its invalid cause."""

    def __init__(self, message: str, cause: Literal["engine", "workers"] = "workers") -> None:
        super().__init__(message)
        self.cause: Literal["engine", "workers"] = cause


@dataclass
class WorkerSlot:
    """What the master knows of one worker."""

    client_id: str
    index: int
    users: int = 0
    first_user_slot: int = 0
    hello: Hello | None = None
    pongs: list[tuple[float, float]] = field(default_factory=list)  # (rtt, offset)
    result: WorkerResult | None = None
    tick: Tick | None = None
    lost: str | None = None

    def info(self) -> WorkerInfo:
        rtt, offset = min(self.pongs) if self.pongs else (0.0, 0.0)
        return WorkerInfo(index=self.index, host=self.hello.host if self.hello else "?",
                          pid=self.hello.pid if self.hello else 0, users=self.users,
                          first_user_slot=self.first_user_slot, clock_offset_s=round(offset, 6), rtt_s=round(rtt, 6))

    @property
    def offset(self) -> float:
        return min(self.pongs)[1] if self.pongs else 0.0


def split_users(users: int, workers: int) -> list[int]:
    """Users per worker, as even as can be, the first ones taking the remainder."""
    return [users // workers + (1 if i < users % workers else 0) for i in range(workers)]


def split_range(count: int, workers: int) -> list[tuple[int, int]]:
    """[start, stop) per worker covering 0..count exactly once."""
    bounds, start = [], 0
    for size in split_users(count, workers):
        bounds.append((start, start + size))
        start += size
    return bounds


class Master:
    """One run's coordination; `run()` returns the RunResults (or raises RunAborted)."""

    def __init__(self, plan: RunPlan, runner: MasterRunner) -> None:
        self.plan = plan
        self.runner = runner
        self.inbox: Queue[tuple[str, Message]] = Queue()
        self.commands: Queue[Message] = Queue()
        self.workers: dict[str, WorkerSlot] = {}
        self.local: list[subprocess.Popen[bytes]] = []
        self.stopping = False
        self.view: LiveView | None = None
        self._relayed_t = 0.0  # the end of the last second relayed to the parent (Tick.t)
        self._loading: dict[str, int] = {}  # worker -> its latest count of the entity loading
        self._finished: dict[str, LoadDone] = {}  # worker -> its LoadDone of the entity loading
        self._load_began = time.perf_counter()
        for name in MESSAGE_TYPES:
            runner.register_message(CUSTOM_PREFIX + name, self._receive)

    # ---- plumbing ------------------------------------------------------------------

    def _receive(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.inbox.put((msg.node_id, from_data(msg.data)))

    def send(self, slot: WorkerSlot, message: Message) -> None:
        self.runner.send_message(CUSTOM_PREFIX + message.type, to_data(message), slot.client_id)

    def messages(self, timeout_s: float) -> Iterator[tuple[WorkerSlot, Message] | None]:
        """Worker messages until `timeout_s` passes, and None at least every 0.25 s (to check state).

        Checks for lost workers and a parent's Stop on the way.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_parent()
            self._check_lost()
            try:
                client_id, message = self.inbox.get(timeout=min(0.25, max(0.0, deadline - time.monotonic())))
            except Empty:
                yield None
                continue
            slot = self.workers.get(client_id)
            yield (slot, message) if slot is not None else None

    def _check_parent(self) -> None:
        try:
            command = self.commands.get_nowait()
        except Empty:
            return
        if isinstance(command, Stop):
            self.stopping = True

    def _check_lost(self) -> None:
        present = {client.id: client for client in self.runner.clients.all}
        for slot in self.workers.values():
            if slot.lost or slot.result is not None:
                continue
            client = present.get(slot.client_id)
            if client is None or client.state == STATE_MISSING:
                slot.lost = (f"worker {slot.index} ({slot.hello.host if slot.hello else '?'}, "
                             f"pid {slot.hello.pid if slot.hello else '?'}) lost at {time.strftime('%H:%M:%S')}: "
                             f"{'no heartbeat for 3 s' if client is not None else 'it disconnected'}")
                say(Progress(text=slot.lost, final=True))

    def _await_all(self, what: type[Frozen], timeout_s: float, label: str) -> dict[str, Any]:
        """The `what` message of every worker (Failed aborts the run; a lost worker too)."""
        got: dict[str, Any] = {}
        for item in self.messages(timeout_s):
            self._abort_if_lost(label)
            if item is None:
                continue
            slot, message = item
            if isinstance(message, Failed):
                raise RunAborted(f"worker {slot.index} ({slot.hello.host if slot.hello else '?'}): {message.error}",
                                 message.cause)
            if isinstance(message, what):
                got[slot.client_id] = message
            if len(got) == len(self.workers):
                return got
        self._abort_if_lost(label)
        missing = [str(s.index) for s in self.workers.values() if s.client_id not in got]
        raise RunAborted(f"{label}: worker(s) {', '.join(missing)} did not answer within {timeout_s:.0f}s")

    def _abort_if_lost(self, label: str) -> None:
        lost = [s.lost for s in self.workers.values() if s.lost]
        if lost:
            raise RunAborted(f"{label}: {lost[0]}")

    # ---- phases --------------------------------------------------------------------

    def run(self) -> RunResults:
        self._serve_page()
        try:
            self._connect()
            self._configure()
            self._clocks()
        except RunAborted:
            if self.plan.load_data:  # stopped before any worker was given records to load
                say(Loaded(records=0, seconds=0.0, complete=False))
            raise
        self._load()
        if not self._await_measure():
            return RunResults(results=(), workers=self._infos(), interrupted=True)
        self._start()
        return self._follow()

    def _connect(self) -> None:
        plan = self.plan
        expected = plan.local_workers + plan.expect_workers
        port = self.runner.server.port
        for _ in range(plan.local_workers):
            self.local.append(subprocess.Popen(
                [sys.executable, "-m", "harness.runner.worker", "--quiet", "--engine", plan.engine,
                 "--master", f"{connect_host(plan.bind_host)}:{port}"],
                stdout=subprocess.DEVNULL))  # in the master's process group: the parent can end them all
        if plan.expect_workers:
            where = (f"on this host (the master listens on {plan.bind_host} only; --master-bind 0.0.0.0:{port} "
                     "lets other hosts in)") if plan.bind_host.startswith("127.") or plan.bind_host in ("localhost", "::1") \
                else f"on {plan.expect_workers} load host(s)"
            say(Progress(text=f"master listening on {plan.bind_host}:{port}: start "
                              f"`dbarena worker --master <this host>:{port}` {where}", final=True))
        deadline = time.monotonic() + plan.connect_timeout_s
        while len(self.runner.clients.ready) < expected:
            self._check_parent()
            if self.stopping:
                raise RunAborted("interrupted while waiting for workers")
            if time.monotonic() > deadline:
                raise RunAborted(f"{len(self.runner.clients.ready)} of {expected} worker(s) connected within "
                                 f"{plan.connect_timeout_s:.0f}s (master at {plan.bind_host}:{port})")
            say(Progress(text=f"waiting for workers: {len(self.runner.clients.ready)}/{expected} connected"))
            gevent.sleep(0.1)
        ids = sorted((c.id for c in self.runner.clients.ready), key=self.runner.get_worker_index)[:expected]
        self.workers = {client_id: WorkerSlot(client_id, index) for index, client_id in enumerate(ids)}

    def _configure(self) -> None:
        """Each worker's config, sent again every 2 s until it answers: a worker registers its message
        handlers just after Locust connects it, so a config arriving in between is dropped."""
        plan, slots = self.plan, list(self.workers.values())
        configs: dict[str, WorkerConfig] = {}
        first = 0
        for slot, users in zip(slots, split_users(plan.load.users, len(slots)), strict=True):
            slot.users, slot.first_user_slot = users, first
            first += users
            configs[slot.client_id] = WorkerConfig(
                engine=plan.engine, url=plan.url, workload=plan.workload, load=plan.load, process_index=slot.index,
                first_user_slot=slot.first_user_slot, users=users, total_users=plan.load.users, seed=plan.seed,
                insert_offset=plan.insert_offset)
        deadline = time.monotonic() + HELLO_TIMEOUT_S
        while True:
            for slot in slots:
                if slot.hello is None:
                    self.send(slot, configs[slot.client_id])
            for item in self.messages(2.0):
                self._abort_if_lost("configuring workers")
                if item is not None and isinstance(item[1], Failed):
                    raise RunAborted(f"worker {item[0].index}: {item[1].error}", item[1].cause)
                if item is not None and isinstance(item[1], Hello):
                    item[0].hello = item[1]
                if all(slot.hello is not None for slot in slots):
                    return
            if time.monotonic() > deadline:
                missing = ", ".join(str(slot.index) for slot in slots if slot.hello is None)
                raise RunAborted(f"configuring workers: worker(s) {missing} did not answer within {HELLO_TIMEOUT_S:.0f}s")

    def _clocks(self) -> None:
        for _ in range(PINGS):
            for slot in self.workers.values():
                self.send(slot, Ping(master_time=time.time()))
            for client_id, pong in self._await_all(Pong, HELLO_TIMEOUT_S, "measuring clock offsets").items():
                now = time.time()
                rtt = now - pong.master_time
                self.workers[client_id].pongs.append((rtt, pong.worker_time - (pong.master_time + now) / 2))

    def _load(self) -> None:
        if not self.plan.load_data:
            say(Loaded(records=0, seconds=0.0))
            return
        began, total = time.perf_counter(), 0
        slots = list(self.workers.values())
        ranges = [self.plan.load.insert_range(entity.count) for entity in self.plan.workload.dataset.entities]
        self._load_total, self._load_began = sum(end - first for first, end in ranges), began
        for entity, (first, end) in zip(self.plan.workload.dataset.entities, ranges, strict=True):
            # all of them unless insertstart/insertcount
            for slot, (start, stop) in zip(slots, split_range(end - first, len(slots)), strict=True):
                self.send(slot, LoadRange(entity=entity.name, start=first + start, stop=first + stop))
            try:
                total += self._follow_load(entity.name, end - first, total)
            except RunAborted:
                self._stop_load(entity.name, total)
                raise
        say(Loaded(records=total, seconds=round(time.perf_counter() - began, 3)))

    def _follow_load(self, entity: str, count: int, before: int = 0) -> int:
        """Wait for every worker's LoadDone of `entity` (`count` records; `before` loaded of earlier entities),
        saying a progress line (the entity; bar, records, records/s and ETA over the whole load) on each
        worker's LoadProgress. Each worker's latest count stays in `_loading` for a load cut short."""
        done = self._loading = {}
        self._finished = {}
        for item in self.messages(LOAD_TIMEOUT_S):
            self._abort_if_lost(f"loading {entity}")
            if self.stopping:
                raise RunAborted(f"interrupted while loading {entity}")
            if item is None:
                continue
            slot, message = item
            if isinstance(message, Failed):
                self._finished[slot.client_id] = LoadDone(entity=entity, records=done.get(slot.client_id, 0),
                                                          seconds=0.0, complete=False)
                raise RunAborted(f"worker {slot.index}: {message.error}", message.cause)
            if isinstance(message, LoadProgress):
                done[slot.client_id] = message.done
            elif isinstance(message, LoadDone):
                self._finished[slot.client_id] = message
                done[slot.client_id] = message.records
            say(Progress(text=load_line(self._load_label(entity), before + sum(done.values()), self._load_total,
                                        time.perf_counter() - self._load_began, f"{len(self.workers)} worker(s)")))
            if len(self._finished) == len(self.workers):
                return sum(f.records for f in self._finished.values())
        raise RunAborted(f"loading {entity} did not finish within {LOAD_TIMEOUT_S:.0f}s")

    def _stop_load(self, entity: str, before: int) -> None:
        """A load cut short: Stop the workers still loading `entity`, take each one's final count (its LoadDone, a
        Failed after its last LoadProgress, or its last count when lost or silent for LOAD_STOP_GRACE_S), and say
        Loaded, not complete, with the records loaded so far (`before`: of earlier entities)."""
        done = self._loading
        pending = [s for s in self.workers.values() if s.client_id not in self._finished and not s.lost]
        for slot in pending:
            self.send(slot, Stop())
        deadline = time.monotonic() + LOAD_STOP_GRACE_S
        while pending and time.monotonic() < deadline:
            try:
                client_id, message = self.inbox.get(timeout=0.25)
            except Empty:
                self._check_lost()
                pending = [s for s in pending if not s.lost]
                continue
            if isinstance(message, LoadProgress):
                done[client_id] = message.done
            elif isinstance(message, LoadDone):
                done[client_id] = message.records
            if isinstance(message, (LoadDone, Failed)):
                pending = [s for s in pending if s.client_id != client_id]
        say(Loaded(records=before + sum(done.values()), seconds=round(time.perf_counter() - self._load_began, 3),
                   complete=False))

    def _load_label(self, entity: str) -> str:
        """The entity loading, with its place when there are several: "usertable", "orders (2/3)"."""
        names = [e.name for e in self.plan.workload.dataset.entities]
        return entity if len(names) == 1 else f"{entity} ({names.index(entity) + 1}/{len(names)})"

    def _await_measure(self) -> bool:
        """Wait for the parent's Measure (True) or Stop (False), watching the workers meanwhile."""
        while True:
            try:
                command = self.commands.get(timeout=0.25)
            except Empty:
                self._check_lost()
                self._abort_if_lost("waiting for the load to finish")
                continue
            return isinstance(command, Measure)

    def _start(self) -> None:
        for slot in self.workers.values():
            self.send(slot, Spawn())
        self._await_all(Ready, READY_TIMEOUT_S, "connecting users")
        start = time.time() + 0.5
        for slot in self.workers.values():
            self.send(slot, Go(start_epoch=start + slot.offset))
        say(Go(start_epoch=start))  # the parent: when the warm-up begins (where a stop signal lands)

    def _follow(self) -> RunResults:
        load = self.plan.load
        deadline_s = load.warmup_s + load.duration_s + drain_s(self.plan.workload, load.op_timeout_s) + RESULT_GRACE_S + 1.0
        stop_sent, last_tick = False, time.monotonic()
        for item in self.messages(deadline_s):
            if item is not None:
                slot, message = item
                if isinstance(message, WorkerResult):
                    slot.result = message
                elif isinstance(message, Tick):
                    slot.tick = message
            if self.stopping and not stop_sent:
                for other in self.workers.values():
                    self.send(other, Stop())
                stop_sent = True
            if self._tick_due(time.monotonic() - last_tick):
                last_tick = time.monotonic()
                self._relay_ticks()
            if all(s.result is not None or s.lost for s in self.workers.values()):
                break
        return RunResults(results=tuple(s.result for s in self.workers.values() if s.result is not None),
                          workers=self._infos(), lost=tuple(s.lost for s in self.workers.values() if s.lost),
                          interrupted=self.stopping)

    def _tick_due(self, since_s: float) -> bool:
        """A second to relay: every live worker's tick covers it (or 1.5 s passed waiting for a slow one)."""
        ticks = [s.tick for s in self.workers.values() if not s.lost]
        if not ticks or all(t is None for t in ticks):
            return False
        newest = max(t.t for t in ticks if t is not None)
        if newest <= self._relayed_t:
            return False
        return all(t is not None and t.t == newest for t in ticks) or since_s >= 1.5

    def _relay_ticks(self) -> None:
        """The newest second, summed over the workers whose tick covers it, once (the final one too)."""
        live = [s.tick for s in self.workers.values() if s.tick is not None and not s.lost]
        newest = max((t.t for t in live), default=0.0)
        ticks = [t for t in live if t.t == newest]
        if ticks and newest > self._relayed_t:
            self._relayed_t = newest
            p99s = [t.p99_us for t in ticks if t.p99_us is not None]
            elapsed = newest
            say(Tick(t=elapsed, ops=sum(t.ops for t in ticks), errors=sum(t.errors for t in ticks),
                     p99_us=max(p99s) if p99s else None))  # the parent's line: totals only
            if self.view is not None:
                self._show(ticks, elapsed)

    # ---- the live page -------------------------------------------------------------

    def _serve_page(self) -> None:
        if self.plan.web is None:
            return
        host, _, port = self.plan.web.rpartition(":")
        self.view = LiveView(host or "127.0.0.1", int(port or 0))
        try:
            url = self.view.start()
        except OSError as exc:
            self.view = None
            raise RunAborted(f"--web {self.plan.web}: cannot serve the live page there ({exc.strerror or exc}); "
                             "choose a free port, or give --web alone for one") from None
        say(Progress(text=f"live view: {url}", final=True))
        self._phase("loading")

    def _phase(self, phase: Phase, elapsed_s: float = 0.0, operations: dict[str, LiveOperation] | None = None) -> None:
        if self.view is None:
            return
        load = self.plan.load
        own = phase_clock(elapsed_s, load.warmup_s, load.duration_s) if phase in ("warm-up", "measure") else None
        self.view.update(LiveSnapshot(run=self.plan.run_label, engine=self.plan.engine, workload=self.plan.workload.name,
                                      phase=phase, elapsed_s=elapsed_s, total_s=load.warmup_s + load.duration_s,
                                      phase_elapsed_s=own[1] if own else 0.0, phase_total_s=own[2] if own else 0.0,
                                      operations=operations or {}))

    def _show(self, ticks: list[Tick], elapsed: float) -> None:
        """Each operation's last second, merged exactly from the workers' histograms."""
        operations = {}
        for op in self.plan.workload.operations:
            parts = [t.operations[op.name] for t in ticks if op.name in t.operations]
            merged = merge_histograms([p.histogram for p in parts])
            operations[op.name] = LiveOperation.of(sum(p.count for p in parts), sum(p.errors for p in parts), merged)
        load = self.plan.load
        covered = max(0.0, elapsed - 1.0)  # the ticks cover [elapsed - 1, elapsed): labelled by that second
        self._phase("warm-up" if tick_clock(elapsed, load.warmup_s, load.duration_s)[0] == "warm-up" else "measure",
                    covered, operations)

    def _infos(self) -> tuple[WorkerInfo, ...]:
        return tuple(slot.info() for slot in self.workers.values())

    def close(self) -> None:
        """Tell every worker to quit; local worker processes that do not exit within 3 s are killed."""
        began = time.monotonic()
        if self.view is not None:
            self._phase("done")
            self.view.stop()
        try:
            self.runner.quit()
        except Exception:
            pass
        for proc in self.local:
            try:
                proc.wait(timeout=max(0.1, 3.0 - (time.monotonic() - began)))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()



def connect_host(bind_host: str) -> str:
    """Where local workers reach a master bound to `bind_host`."""
    return "127.0.0.1" if bind_host in ("*", "0.0.0.0", "", "::") else bind_host


def say(message: Frozen) -> None:
    """One message to the parent (stdout)."""
    sys.stdout.write(encode(message) + "\n")
    sys.stdout.flush()


def _read_line() -> str:
    fd = sys.stdin.fileno()
    data = b""
    while not data.endswith(b"\n"):
        wait_read(fd)
        chunk = os.read(fd, 4096 if data else 1)
        if not chunk:
            return ""
        data += chunk
    return data.decode()


def _listen(master: Master) -> None:
    """The parent's commands (Measure, Stop); a closed stdin means the parent is gone: stop."""
    while True:
        line = _read_line()
        if not line:
            master.commands.put(Stop())
            return
        master.commands.put(decode(line))


def main() -> int:
    redact_output(stdout=False)  # stderr (logging, tracebacks) masks secrets; stdout is the protocol to the parent
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("locust").setLevel(logging.ERROR)
    first = _read_line()
    plan = decode(first)
    if not isinstance(plan, RunPlan):
        say(Failed(error="master: expected a run plan on stdin"))
        return 2
    env = Environment(user_classes=[])
    try:
        runner = env.create_master_runner(plan.bind_host, plan.bind_port)
    except Exception as exc:
        say(Failed(error=f"--master-bind {plan.bind_host}:{plan.bind_port}: the master cannot listen there ({exc}); "
                         "choose a free port or an address of this host"))
        return 1
    master = Master(plan, runner)
    gevent.spawn(_listen, master)
    try:
        say(master.run())
    except RunAborted as exc:
        say(Failed(error=str(exc), cause=exc.cause))
        return 1
    finally:
        master.close()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # ZeroMQ's context would wait for lingering sockets at interpreter exit
