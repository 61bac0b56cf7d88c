"""Engine faults on demand, for tests/engines/test_faults.py and benchmarks/faults.py.

A `FaultServer` is a native server of the caller's own (never a shared session fixture),
killed with SIGKILL — its whole process group, as a crash or the OOM killer would leave it —
and restarted at the same port on the same data (`base.start(..., keep_data=True)`).
An `Injector` is the run's Progress: it watches the lines the runner says (the master
starting, the live `[warm-up mm:ss/...]` and `[measure mm:ss/...]` ticks) and fires the
fault when the run reaches the phase asked for, optionally restarting the engine some
seconds later in a thread while the run goes on. `recovery` reads the per-second series
of the resulting record against the moments of the kill and the restart.
"""

from __future__ import annotations

import io
import math
import os
import re
import signal
import statistics
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from harness.engines.registry import TEST_MARKERS, marker_of
from harness.provision.native import base
from harness.provision.native.registry import get_launcher
from harness.provision.ports import port_open
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.models import Workload
from harness.spec.suite import LoadProfile

ROOT = Path(__file__).resolve().parents[2]
ENGINES = ("postgres", "redis", "mongodb", "opensearch", "influxdb", "neo4j")
RECORDS = {"mongodb": 100}  # FerretDB (SQLite) loads slowly; the others load a few hundred
DEFAULT_RECORDS = 300
KILL_WAIT_S = 30.0
START_WAIT_S = 180.0  # a JVM engine starting on a busy machine
TICK = re.compile(r"\[(warm-up|measure) (\d+):(\d+)/")
MASTER_STARTING = "starting the master"

# What the fault cases expect (tests/engines/test_faults.py and benchmarks/faults.py alike).
RESTART_AFTER_S = 1.5
RECOVERY_S = 10.0  # throughput back within this long after the restart
MAX_ERRORS_PER_USER_SECOND = 50  # the back-off allows ~10 in the first second of an outage, then ~1-5/s
# A call to a dead engine may block this long before it fails: pymongo waits for server selection
# (5 s), so a FerretDB window must outlast it for the failure to be counted in it.
STALLS_S = {"mongodb": 5.5}
# Open-loop rates for the restart case: what each engine serves here even with a cold cache and JIT.
RATES = {"postgres": 300.0, "redis": 300.0, "mongodb": 60.0, "opensearch": 50.0, "influxdb": 40.0, "neo4j": 25.0}


def native_name(engine: str) -> str:
    """The native launcher serving `engine` in tests (mongodb -> ferretdb)."""
    marker = marker_of(engine)
    if marker is None:
        raise ValueError(f"{engine} has no test server")
    return TEST_MARKERS[marker].name


def records_for(engine: str) -> int:
    return RECORDS.get(engine, DEFAULT_RECORDS)


def kv_cache(engine: str) -> Workload:
    """kv-cache (read 50 / update 45 / insert 5) at a few hundred records."""
    spec = load_workload(ROOT / "workloads" / "kv-cache.yaml")
    return spec.scaled(records_for(engine) / spec.dataset.entities[0].count)


def scale_for(engine: str) -> float:
    """The same size as `kv_cache(engine)`, as a `--scale` for the CLI."""
    return records_for(engine) / 10_000


def request(engine: str, url: str, *, duration_s: float, warmup_s: float = 1.0, users: int = 2,
            target_rate: float | None = None) -> RunRequest:
    load = LoadProfile.model_validate({"users": users, "processes": 1, "duration": duration_s, "warmup": warmup_s,
                                       "target_rate": target_rate})
    return RunRequest(engine=engine, url=url, workload=kv_cache(engine), load=load)


class FaultServer:
    """One native server, killed with SIGKILL and restarted at its port on its data."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.launcher = get_launcher(native_name(engine))
        self.port = base.free_port_for(self.launcher)
        self.server: base.NativeServer | None = base.start(self.launcher, port=self.port)
        self.first_ready_s = self.server.ready_after_s
        self.restarts: list[float] = []  # seconds each restart took to be ready
        self.gone_after_s: list[float] = []  # seconds each kill took until the process and its ports were gone

    @property
    def url(self) -> str:
        return self.launcher.url(self.port)

    @property
    def alive(self) -> bool:
        return self.server is not None and base.pid_alive(self.server.pid)

    def kill(self) -> float:
        """SIGKILL to the server's whole process group; returns the monotonic time of the kill.

        Waits (bounded) until the process is gone and its ports are closed.
        """
        if self.server is None:
            raise RuntimeError(f"{self.engine}: no server to kill")
        pid, self.server = self.server.pid, None
        killed_at = time.monotonic()
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = killed_at + KILL_WAIT_S
        while (base.pid_alive(pid) or any(port_open(p) for p in self.launcher.ports(self.port))) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        # a process in uninterruptible sleep (an fsync on a busy disk) dies, and drops its connections, only later
        self.gone_after_s.append(round(time.monotonic() - killed_at, 2))
        return killed_at

    def restart(self) -> float:
        """Start again at the same port on the data the killed server left; returns when it is ready."""
        if self.alive:
            raise RuntimeError(f"{self.engine}: still running (pid {self.server.pid if self.server else '?'})")
        self.server = base.start(self.launcher, port=self.port, keep_data=True)
        self.restarts.append(self.server.ready_after_s)
        return time.monotonic()

    def ensure_up(self) -> None:
        if not self.alive:
            self.server = None
            self.restart()

    def stop(self) -> None:
        if self.server is not None:
            base.stop(self.server)
            self.server = None

    def expected_restart_s(self) -> float:
        """How long a restart is expected to take here (the slowest seen so far)."""
        return max([self.first_ready_s, *self.restarts])


class Fleet:
    """Servers for several engines, started one after the other in the background (in the order
    given, so the first cases run while the JVMs start) and restarted in the background after a
    case killed one: `restart_later`; `get` waits (bounded) for the engine it is asked for.
    """

    def __init__(self, engines: Iterable[str]) -> None:
        self.servers: dict[str, FaultServer] = {}
        self.errors: dict[str, str] = {}
        self._pending: dict[str, threading.Thread] = {}
        self._started: dict[str, threading.Event] = {engine: threading.Event() for engine in engines}
        self._starter = threading.Thread(target=self._start_all, daemon=True)
        self._starter.start()

    def _start_all(self) -> None:
        for engine, started in self._started.items():
            self._start(engine)
            started.set()

    def _start(self, engine: str) -> None:
        try:
            self.servers[engine] = FaultServer(engine)
        except Exception as exc:  # the test names it (skip here, failure in CI)
            self.errors[engine] = f"{type(exc).__name__}: {exc}"

    def get(self, engine: str) -> FaultServer:
        """The engine's server, up (waiting for a background restart); KeyError with why if it never started."""
        started = self._started.get(engine)
        if started is not None:
            started.wait(START_WAIT_S * len(self._started))
        pending = self._pending.pop(engine, None)
        if pending is not None:
            pending.join(START_WAIT_S)
        if engine not in self.servers:
            raise KeyError(self.errors.get(engine, f"{engine} was not started"))
        server = self.servers[engine]
        server.ensure_up()
        return server

    def restart_later(self, engine: str) -> None:
        server = self.servers.get(engine)
        if server is None or server.alive:
            return
        thread = threading.Thread(target=self._quiet_restart, args=(server,), daemon=True)
        self._pending[engine] = thread
        thread.start()

    @staticmethod
    def _quiet_restart(server: FaultServer) -> None:
        try:
            server.ensure_up()
        except Exception:  # `get` tries again in the foreground and reports it
            pass

    def stop(self) -> None:
        self._starter.join(START_WAIT_S * len(self._started))
        for thread in self._pending.values():
            thread.join(START_WAIT_S)
        for server in self.servers.values():
            server.stop()


@dataclass
class Injector(Progress):
    """A Progress that kills `server` when the run reaches `phase`, and maybe restarts it.

    `phase`: "load" (once the master is starting its loading workers), "warm-up" or
    "measure" (at the first live line of that phase whose second is `at_s` or later, counted from
    that phase's start: the line of second s comes once it is over, so the kill lands a second or
    so after `at_s`). `restart_after_s`: restart that long after the kill, in a thread.
    """

    server: FaultServer
    phase: str
    at_s: float = 0.0
    warmup_s: float = 1.0  # the run's warm-up: a measure line's clock starts after it
    restart_after_s: float | None = None
    stream: TextIO = field(default_factory=io.StringIO)
    t0: float | None = None  # monotonic time of the start of warm-up, from the ticks (at most ~0.1 s late)
    killed_at: float | None = None
    restarted_at: float | None = None
    restart_error: str | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        Progress.__init__(self, self.stream)

    def update(self, line: str, force: bool = False) -> None:
        self.see(line)
        super().update(line, force)

    def say(self, line: str) -> None:
        self.see(line)
        super().say(line)

    def see(self, line: str) -> None:
        """One progress line (said in this process, or read from a `dbarena bench` stderr)."""
        tick = TICK.match(line)
        seconds = int(tick[2]) * 60 + int(tick[3]) if tick else 0
        if tick:  # the line of a phase's second `seconds` comes once that second is over, relayed up to a second
            # later: the earliest arrival is the closest; a measure line's clock starts after the warm-up
            arrived = time.monotonic() - (seconds + 1) - (self.warmup_s if tick[1] == "measure" else 0.0)
            self.t0 = arrived if self.t0 is None else min(self.t0, arrived)
        if self.killed_at is not None:
            return
        if (self.phase == "load" and line.startswith(MASTER_STARTING)) or (
                tick and tick[1] == self.phase and seconds >= self.at_s):
            self.killed_at = self.server.kill()
            self.stream.write(f"(test) killed {self.server.engine}: gone after {self.server.gone_after_s[-1]} s\n")
            if self.restart_after_s is not None:
                self._thread = threading.Thread(target=self._restart, daemon=True)
                self._thread.start()

    def _restart(self) -> None:
        time.sleep(self.restart_after_s or 0.0)
        try:
            self.restarted_at = self.server.restart()
        except Exception as exc:  # reported by the test, which fails on it
            self.restart_error = f"{type(exc).__name__}: {exc}"

    def join(self, timeout_s: float = 120.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run_seconds(self, moment: float | None) -> float | None:
        """`moment` (monotonic) as seconds since the start of warm-up."""
        return None if moment is None or self.t0 is None else moment - self.t0

    @property
    def output(self) -> str:
        return self.stream.getvalue() if isinstance(self.stream, io.StringIO) else ""


def per_second(record: RunRecord) -> dict[int, tuple[int, int]]:
    """Second since the start of warm-up -> (operations done, errors), all operations summed."""
    out: dict[int, tuple[int, int]] = {}
    for point in record.timeseries:
        count, errors = out.get(point.t, (0, 0))
        out[point.t] = (count + point.count, errors + point.errors)
    return out


def errors_of(record: RunRecord) -> int:
    return sum(op.errors for op in record.operations.values())


def max_errors_per_user_second(record: RunRecord) -> float:
    """The busiest second's failed calls per user (a busy loop shows as thousands)."""
    series = per_second(record)
    return max((errors for _count, errors in series.values()), default=0) / record.load.users


@dataclass(frozen=True)
class Recovery:
    """What the per-second series says about a kill and a restart."""

    pre_fault_ops_s: float  # median over whole seconds before the kill
    kill_t: float  # seconds since the start of warm-up
    restart_t: float
    recovered_t: int | None  # first second at >= 80% of the pre-fault rate, at or after the restart
    errors_before_kill: int
    errors_after_recovery: int  # from the second after the recovered one to the end
    series: dict[int, tuple[int, int]]

    @property
    def recovery_s(self) -> float | None:
        """Seconds from the restart (ready) to the end of the first recovered second."""
        return None if self.recovered_t is None else self.recovered_t + 1 - self.restart_t

    def line(self) -> str:
        return (f"pre-fault {self.pre_fault_ops_s:,.0f} ops/s, kill at {self.kill_t:.1f}s, restart at {self.restart_t:.1f}s, "
                f"recovered {'never' if self.recovery_s is None else f'{self.recovery_s:.1f}s after the restart'}; "
                f"per second (ops, errors): {sorted(self.series.items())}")


def recovery(record: RunRecord, injector: Injector, share: float = 0.8) -> Recovery:
    kill_t, restart_t = injector.run_seconds(injector.killed_at), injector.run_seconds(injector.restarted_at)
    if kill_t is None or restart_t is None:
        raise AssertionError(f"no kill or no restart seen: {injector.output}")
    series = per_second(record)
    measured = {t for t in series if any(p.t == t and p.phase == "measure" for p in record.timeseries)}
    before = [series[t][0] for t in sorted(measured) if t + 1 <= kill_t]
    pre = statistics.median(before) if before else 0.0
    recovered = next((t for t in sorted(series) if t >= math.floor(restart_t) and series[t][0] >= share * pre), None)
    return Recovery(
        pre_fault_ops_s=pre, kill_t=kill_t, restart_t=restart_t, recovered_t=recovered,
        errors_before_kill=sum(e for t, (_c, e) in series.items() if t + 1 <= kill_t),
        errors_after_recovery=sum(e for t, (_c, e) in series.items() if recovered is not None and t > recovered),
        series=series,
    )
