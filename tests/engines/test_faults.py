"""Engine faults in every phase, per engine: a clear line or a flagged record, never a hang or a traceback.

Each engine gets a native server of this module's own (the shared session servers of
tests/conftest.py are never touched), started together at first use and reused by its four
cases, which run case by case across the engines: a case that leaves its engine dead has it
restarted (same port, same data) in the background while the other engines' cases run.

- kill -9 during the measurement, restart 1.5 s later: errors only during the outage, the
  per-second throughput back to >= 80% of the pre-fault median within 10 s of the restart
  (every adapter reconnects and rebinds what it prepared: statements, scripts, sessions);
- kill -9 during the warm-up, and during the measurement, no restart: the run ends on time
  with a record, the failed calls counted and bounded by the back-off (no busy loop), not valid;
- kill -9 during the load, through `dbarena bench`: exit 2, one line naming the engine and
  the phase, no traceback, the record of the attempt saved (`failure`, `phase: load`).

The measurement after a restart runs in open loop at a rate the engine sustains when cold:
a JVM restarted cold serves fewer closed-loop calls for a while (JIT, caches), which says
nothing about the adapter; an offered load it fails to serve again does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest

from harness.engines.registry import marker_of
from harness.errors import EngineUnavailable
from harness.results import store
from harness.results.build import run_and_record
from harness.results.record import RunRecord
from tests.engines.faults import (
    ENGINES,
    MASTER_STARTING,
    MAX_ERRORS_PER_USER_SECOND,
    RATES,
    RECOVERY_S,
    RESTART_AFTER_S,
    STALLS_S,
    FaultServer,
    Fleet,
    Injector,
    errors_of,
    max_errors_per_user_second,
    recovery,
    request,
    scale_for,
)

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")



class Hung(BaseException):
    """The run outlived its bound (not an Exception: nothing in the runner may swallow it)."""


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Fail with Hung if the block runs longer than `seconds` (SIGALRM in the main thread)."""
    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise Hung(f"the run did not end within {seconds:.0f}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(seconds) + 1)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


ENGINE_PARAMS = [pytest.param(e, id=e, marks=getattr(pytest.mark, str(marker_of(e)))) for e in ENGINES]


@pytest.fixture(scope="module")
def fleet(request: pytest.FixtureRequest) -> Iterator[Fleet]:
    """A server of this module's own for each engine the selected tests need (started one after another in
    the background, in the order the cases use them), stopped by PID."""
    selected = {item.callspec.params["engine"] for item in request.session.items
                if getattr(getattr(item, "module", None), "__name__", None) == __name__ and hasattr(item, "callspec")}
    needed = [engine for engine in ENGINES if engine in selected]
    started = Fleet(needed)
    try:
        yield started
    finally:
        started.stop()


def server_of(fleet: Fleet, engine: str) -> FaultServer:
    """The engine's server, up; a skip (a failure in CI) when it cannot run here."""
    try:
        return fleet.get(engine)
    except (KeyError, EngineUnavailable) as exc:
        if IN_CI:
            pytest.fail(f"{engine} could not be started in CI: {exc}")
        pytest.skip(f"{engine} unavailable here: {exc}")


def _no_traceback(record: RunRecord, said: str) -> None:
    assert "Traceback" not in said, said
    assert not any("Traceback" in note for note in record.notes), record.notes


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_kill_and_restart_during_the_measurement_recovers(fleet: Fleet, engine: str) -> None:
    name, server = engine, server_of(fleet, engine)
    duration = 4 + RESTART_AFTER_S + 2.5 * server.expected_restart_s() + RECOVERY_S  # room for a slow restart
    injector = Injector(server, "measure", at_s=2, restart_after_s=RESTART_AFTER_S, warmup_s=1.0)
    with bounded(duration + 180):
        record = run_and_record(request(name, server.url, duration_s=duration, users=4, target_rate=RATES[name]),
                                injector)
    injector.join()
    assert injector.restart_error is None, injector.restart_error
    seen = recovery(record, injector)
    detail = f"{name}: {seen.line()}\n{injector.output}"
    assert seen.recovery_s is not None or record.load.warmup_s + record.measured_s >= seen.restart_t + RECOVERY_S, \
        f"inconclusive: the restart took longer than expected, the window ended too soon after it\n{detail}"
    assert seen.pre_fault_ops_s > 0, detail
    assert seen.errors_before_kill == 0, detail
    assert errors_of(record) > 0, detail  # the outage was seen
    assert seen.recovery_s is not None and seen.recovery_s <= RECOVERY_S, detail
    assert seen.errors_after_recovery == 0, detail
    assert max_errors_per_user_second(record) < MAX_ERRORS_PER_USER_SECOND, detail
    # the record says it too: an outage within the fault, back to speed within RECOVERY_S (when a whole second
    # went dark: a restart faster than a second leaves every second with some successes)
    for outage in record.outages:
        assert seen.kill_t - 1 <= outage.start_s <= seen.restart_t + 1, f"{outage}\n{detail}"
        assert outage.recovery_s is not None and outage.recovery_s <= RECOVERY_S, f"{outage}\n{detail}"
        assert outage.describe() in record.notes
    _no_traceback(record, injector.output)
    assert record.failure is None, detail
    lost = {"settings": record.manifest.get("engine_settings", {}).get("unavailable"),
            "telemetry": record.telemetry.get("error")}
    assert not any(lost.values()), f"settings/telemetry lost although the engine is back: {lost}"


HELD = "no operation completed in the measurement window: its users were held"


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_kill_during_the_warmup_ends_the_run_with_a_flagged_record(fleet: Fleet, engine: str) -> None:
    """Warm-up 4 s, killed at its first tick relayed as warm-up (a busy master may skip one)."""
    killed_without_restart(fleet, engine, "warm-up", warmup_s=4.0, duration_s=2 + STALLS_S.get(engine, 0.0), at_s=1)


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_kill_during_the_measurement_ends_the_run_with_a_flagged_record(fleet: Fleet, engine: str) -> None:
    """Killed 1-2 s into a 4 s measurement (at the line of its first second, which comes as it ends)."""
    killed_without_restart(fleet, engine, "measure", warmup_s=1.0, duration_s=4.0, at_s=0)


def killed_without_restart(fleet: Fleet, name: str, phase: str, *, warmup_s: float, duration_s: float, at_s: float) -> None:
    """The run ends on time with a record: failed calls counted, bounded by the back-off, no traceback."""
    server = server_of(fleet, name)
    injector = Injector(server, phase, at_s=at_s, warmup_s=warmup_s)
    try:
        with bounded(warmup_s + duration_s + 120):
            record = run_and_record(request(name, server.url, duration_s=duration_s, warmup_s=warmup_s), injector)
    finally:
        fleet.restart_later(name)  # for this engine's next case, while other engines' cases run
    detail = f"{name}: {record.invalid_reasons} {[(p.t, p.count, p.errors) for p in record.timeseries]}\n{injector.output}"
    assert injector.killed_at is not None, f"never reached {phase}: {injector.output}"
    if any(reason.startswith(HELD) for reason in record.invalid_reasons):
        # The calls in flight at a warm-up kill outlasted the window (pymongo waits 5 s for a server after the
        # reset, and a kill that took seconds adds to it): the record says the engine held the users, and their
        # failures are counted in the seconds they ended in.
        assert phase == "warm-up" and sum(p.errors + p.timeouts for p in record.timeseries) > 0, detail
    else:
        assert errors_of(record) > 0, detail
    assert max_errors_per_user_second(record) < MAX_ERRORS_PER_USER_SECOND, detail
    _no_traceback(record, injector.output)
    # The back-off keeps failed calls few (16 against 8,000 successes is within a 1% error budget):
    # the seconds in which nothing succeeded flag the run.
    assert not record.valid, detail
    assert any(reason.startswith(("no call succeeded during", "errors:", HELD))
               for reason in record.invalid_reasons), detail


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_kill_during_the_load_is_one_line_exit_2_and_a_record(fleet: Fleet, engine: str, tmp_path: Path) -> None:
    """Through `dbarena bench`: the record `run_and_record` returned is the one saved."""
    name, server = engine, server_of(fleet, engine)
    env = {**os.environ, "DBARENA_RESULTS": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "bench", "--engine", name, "--url", server.url, "--workload", "kv-cache",
         "--scale", str(scale_for(name)), "--duration", "2s", "--warmup", "0s", "--users", "2", "--processes", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = []
    try:
        for line in proc.stderr:  # ends at the master's start (then kill) or when the process closes stderr
            seen.append(line)
            if line.startswith(MASTER_STARTING):
                server.kill()
                break
        out, rest = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    err = "".join(seen) + rest
    assert proc.returncode == 2, f"exit {proc.returncode}\n{out}\n{err}"
    assert "Traceback" not in err + out, err
    named = [line for line in err.splitlines() if name in line and "during load" in line]
    assert len(named) == 1, err
    (path,) = (tmp_path / "runs").glob("*.json")
    assert str(path) in named[0], err
    record = store.load(path)
    assert record.failure and record.phase == "load" and not record.valid and not record.complete, record
