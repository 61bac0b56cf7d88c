"""The fault campaign of issue 12: what a crash, a signal, a broken results folder or a secret does to a run.

    .venv/bin/python benchmarks/faults.py                        # six engines, signals, folders, secrets
    .venv/bin/python benchmarks/faults.py --engines redis,postgres

Everything goes through `dbarena bench` subprocesses, as a user's operations team would run
it, each with its own results folder (DBARENA_RESULTS):

- per engine, on a native server of the campaign's own (tests/engines/faults.py): kill -9
  (SIGKILL to the server's process group) during the load, during the warm-up, during the
  measurement, and during the measurement with a restart at the same port 1.5 s later;
- SIGTERM and SIGINT to `dbarena bench` during the load (fake engine, slow load) and during
  the measurement (Redis when it is in the campaign, else the fake engine);
- a results folder that cannot be written before the run, and one made read-only during
  the measurement (root: `chattr +i`; others: chmod 0555);
- a PostgreSQL URL with a password (trust auth ignores it), for a run, `runs`, `show` and
  `report`, and for the kill during its load; InfluxDB's token is in its URL too.

A fault is survived when dbarena does what issue 12 says: a dead engine in the load is exit
2 with one line naming the engine and the phase and a record of the attempt; in the warm-up
or the measurement a record with the failed calls counted, at most 50 failed calls per user
per second (the back-off), no hang; after a restart errors only during the outage and the
per-second throughput back to >= 80% of the pre-fault rate within 10 s; a signal is exit 130
with the interrupted record saved; a folder that cannot be written is refused before
anything runs, or the record goes to the printed fallback folder. Records lost: expected
records found nowhere; secrets leaked: outputs (streams, files) holding a password or token;
tracebacks: outputs holding one. The last line is the summary; exit 0 when all faults were
survived and nothing was lost, leaked or traced back.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.engines.faults: the fault machinery the tests use

from harness.results import store
from harness.results.record import RunRecord
from harness.studies.runs import fallback_dir
from tests.engines.faults import (
    ENGINES,
    MASTER_STARTING,
    MAX_ERRORS_PER_USER_SECOND,
    RATES,
    RECOVERY_S,
    RESTART_AFTER_S,
    STALLS_S,
    Fleet,
    Injector,
    recovery,
    scale_for,
)

PASSWORD = "Fault-Campaign-s3cret"
SECRETS = (PASSWORD, "token=user:pass")  # the second: the InfluxDB launcher's token, in its URL
BENCH_TIMEOUT_S = 300.0
INTERRUPTED, USER_ERROR, ERRORS, INVALID = 130, 2, 4, 5

Watch = Callable[[str, "subprocess.Popen[str]"], None]


@dataclass
class Outcome:
    case: str
    survived: bool
    detail: str
    record_expected: bool = True
    record_found: bool = True
    leaks: int = 0
    tracebacks: int = 0
    valid_despite_fault: bool = False

    def line(self) -> str:
        marks = [m for m, on in (("RECORD LOST", self.record_expected and not self.record_found),
                                 (f"{self.leaks} LEAK(S)", self.leaks), (f"{self.tracebacks} TRACEBACK(S)", self.tracebacks),
                                 ("valid despite the fault", self.valid_despite_fault)) if on]
        return f"{'ok  ' if self.survived else 'FAIL'} {self.case}: {self.detail}" + (f" [{', '.join(marks)}]" if marks else "")


@dataclass
class Bench:
    """One finished `dbarena bench` (or other command): exit code, output, results folder."""

    code: int
    out: str
    err: str
    results: Path
    seconds: float

    def records(self) -> list[RunRecord]:
        return [store.load(path) for path in sorted((self.results / "runs").glob("*.json"))]

    def texts(self) -> list[str]:
        """Everything the command printed or wrote (results folder files included)."""
        files = [path.read_text(errors="replace") for path in self.results.rglob("*") if path.is_file()]
        return [self.out, self.err, *files]


def dbarena(results: Path, *args: str, watch: Watch | None = None, timeout_s: float = BENCH_TIMEOUT_S) -> Bench:
    """Run `dbarena ARGS` with DBARENA_RESULTS=`results`; `watch` sees each stderr line as it comes."""
    env = {**os.environ, "DBARENA_RESULTS": str(results)}
    began = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(timeout_s, proc.kill)  # a hang ends as a failed case, not a stuck campaign
    watchdog.start()
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if watch is not None:
                watch(line, proc)
        out, rest = proc.communicate(timeout=timeout_s)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return Bench(proc.returncode, out, "".join(lines) + rest, results, time.monotonic() - began)


def bench_args(engine: str, url: str, *extra: str) -> list[str]:
    return ["bench", "--engine", engine, "--url", url, "--workload", "kv-cache", "--processes", "1", *extra]


def count(texts: Iterable[str], needles: Iterable[str]) -> int:
    """How many of `texts` hold any of `needles`."""
    needles = tuple(needles)
    return sum(1 for text in texts if any(n in text for n in needles))


def with_password(url: str) -> str:
    """postgresql://postgres@host/... -> postgresql://postgres:PASSWORD@host/... (trust auth ignores it)."""
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


def per_user_second(record: RunRecord) -> float:
    seconds: dict[int, int] = {}
    for point in record.timeseries:
        seconds[point.t] = seconds.get(point.t, 0) + point.errors
    return max(seconds.values(), default=0) / record.load.users


# ---- engines killed ------------------------------------------------------------------------------------------


def kill_in_load(fleet: Fleet, engine: str, results: Path) -> Outcome:
    server = fleet.get(engine)
    url = with_password(server.url) if engine == "postgres" else server.url

    def watch(line: str, _proc: subprocess.Popen[str]) -> None:
        if line.startswith(MASTER_STARTING) and server.alive:
            server.kill()

    run = dbarena(results, *bench_args(engine, url, "--scale", str(scale_for(engine)), "--duration", "2s",
                                       "--warmup", "0s", "--users", "2"), watch=watch)
    fleet.restart_later(engine)
    records = run.records()
    named = [line for line in run.err.splitlines() if engine in line and "during load" in line]
    record = records[0] if records else None
    ok = (run.code == USER_ERROR and len(named) == 1 and record is not None and record.phase == "load"
          and record.failure is not None and not record.valid)
    return Outcome(f"{engine}: kill -9 during the load", ok,
                   f"exit {run.code}, {len(named)} line(s) naming it, record phase "
                   f"{record.phase if record else '-'} in {run.seconds:.0f}s"
                   + ("" if ok else f"; stderr: {run.err.strip().splitlines()[-1:]}"),
                   record_found=record is not None, leaks=count(run.texts(), SECRETS),
                   tracebacks=count(run.texts(), ["Traceback"]))


def kill_without_restart(fleet: Fleet, engine: str, phase: str, results: Path) -> Outcome:
    server = fleet.get(engine)
    warmup, duration, at_s = (4.0, 2 + STALLS_S.get(engine, 0.0), 1.0) if phase == "warm-up" else (1.0, 4.0, 2.0)
    injector = Injector(server, phase, at_s=at_s)
    run = dbarena(results, *bench_args(engine, server.url, "--scale", str(scale_for(engine)), "--warmup", f"{warmup}s",
                                       "--duration", f"{duration}s", "--users", "2"),
                  watch=lambda line, _proc: injector.see(line))
    fleet.restart_later(engine)
    records = run.records()
    record = records[0] if records else None
    errors = sum(op.errors for op in record.operations.values()) if record else 0
    busiest = per_user_second(record) if record else 0.0
    ok = (injector.killed_at is not None and record is not None and errors > 0 and busiest < MAX_ERRORS_PER_USER_SECOND
          and run.code in (0, USER_ERROR, ERRORS, INVALID) and run.seconds < warmup + duration + 120)
    return Outcome(f"{engine}: kill -9 during the {phase}", ok,
                   f"exit {run.code} in {run.seconds:.0f}s, {errors} failed calls counted, busiest second "
                   f"{busiest:.1f} failed calls per user" + ("" if injector.killed_at else ", never killed"),
                   record_found=record is not None, leaks=count(run.texts(), SECRETS),
                   tracebacks=count(run.texts(), ["Traceback"]), valid_despite_fault=bool(record and record.valid))


def kill_and_restart(fleet: Fleet, engine: str, results: Path) -> Outcome:
    server = fleet.get(engine)
    duration = 4 + RESTART_AFTER_S + 1.25 * server.expected_restart_s() + RECOVERY_S
    injector = Injector(server, "measure", at_s=4, restart_after_s=RESTART_AFTER_S)
    run = dbarena(results, *bench_args(engine, server.url, "--scale", str(scale_for(engine)), "--warmup", "1s",
                                       "--duration", f"{duration:.0f}s", "--users", "4", "--rate", str(RATES[engine])),
                  watch=lambda line, _proc: injector.see(line))
    injector.join()
    records = run.records()
    record = records[0] if records else None
    if record is None or injector.restarted_at is None:
        return Outcome(f"{engine}: kill -9 + restart during the measurement", False,
                       f"exit {run.code}, {'no record' if record is None else 'no restart: ' + str(injector.restart_error)}",
                       record_found=record is not None, tracebacks=count(run.texts(), ["Traceback"]))
    seen = recovery(record, injector)
    ok = (seen.recovery_s is not None and seen.recovery_s <= RECOVERY_S and seen.errors_before_kill == 0
          and seen.errors_after_recovery == 0 and per_user_second(record) < MAX_ERRORS_PER_USER_SECOND)
    recovered = "never" if seen.recovery_s is None else f"{seen.recovery_s:.1f}s after the restart"
    return Outcome(f"{engine}: kill -9 + restart during the measurement", ok,
                   f"exit {run.code}; pre-fault {seen.pre_fault_ops_s:,.0f} ops/s, down {seen.restart_t - seen.kill_t:.1f}s, "
                   f"back to >= 80% {recovered}; errors after recovery {seen.errors_after_recovery}"
                   + (f"; record: {record.phase} failure {record.failure}" if record.failure else ""),
                   leaks=count(run.texts(), SECRETS), tracebacks=count(run.texts(), ["Traceback"]),
                   valid_despite_fault=record.valid)


# ---- signals to dbarena ------------------------------------------------------------------------------------------


def signalled(results: Path, args: list[str], marker: str, sig: signal.Signals, case: str, phase: str) -> Outcome:
    sent: list[bool] = []

    def watch(line: str, proc: subprocess.Popen[str]) -> None:
        if line.startswith(marker) and not sent:
            sent.append(True)
            proc.send_signal(sig)

    run = dbarena(results, *args, watch=watch)
    records = run.records()
    record = records[0] if records else None
    ok = (bool(sent) and run.code == INTERRUPTED and record is not None and record.interrupted
          and record.phase == phase and not record.complete)
    return Outcome(case, ok, f"exit {run.code} in {run.seconds:.0f}s, record "
                   + (f"interrupted={record.interrupted} phase={record.phase}" if record else "none"),
                   record_found=record is not None, leaks=count(run.texts(), SECRETS),
                   tracebacks=count(run.texts(), ["Traceback"]))


def signal_cases(fleet: Fleet, engines: list[str], results: Callable[[], Path]) -> list[Outcome]:
    slow_load = ["bench", "--engine", "fake", "--url", "fake://slowload?latency_us=300", "--workload", "kv-cache",
                 "--scale", "20", "--duration", "5s", "--warmup", "0s", "--users", "2", "--processes", "1"]
    if "redis" in engines:
        measured = bench_args("redis", fleet.get("redis").url, "--scale", "0.03", "--duration", "30s", "--warmup", "0s",
                              "--users", "2")
        target = "redis"
    else:
        measured = ["bench", "--engine", "fake", "--url", "fake://signals?latency_us=300", "--workload", "kv-cache",
                    "--scale", "0.05", "--duration", "30s", "--warmup", "0s", "--users", "2", "--processes", "1"]
        target = "fake"
    outcomes = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        outcomes.append(signalled(results(), slow_load, "loading usertable", sig,
                                  f"{sig.name} to dbarena bench during the load (fake)", "load"))
        outcomes.append(signalled(results(), measured, "[measure", sig,
                                  f"{sig.name} to dbarena bench during the measurement ({target})", "measure"))
    return outcomes


# ---- results folders ---------------------------------------------------------------------------------------------


def read_only(folder: Path) -> Callable[[], None]:
    """Make `folder` refuse new files (root ignores modes: immutable; others: 0555); returns the undo."""
    def writable_again() -> None:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True, check=False)

    def mode_again() -> None:
        folder.chmod(0o755)

    if os.geteuid() == 0 and shutil.which("chattr") and \
            subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False).returncode == 0:
        return writable_again
    folder.chmod(0o555)
    return mode_again


def folder_cases(results: Callable[[], Path]) -> list[Outcome]:
    fake = ["bench", "--engine", "fake", "--url", "fake://folders?latency_us=300", "--workload", "kv-cache",
            "--scale", "0.05", "--warmup", "0s", "--users", "2", "--processes", "1"]
    outcomes = []

    before = results()
    (before / "runs").mkdir(parents=True)
    undo = read_only(before / "runs")
    try:
        run = dbarena(before, *fake, "--duration", "2s")
        ok = run.code == USER_ERROR and "not writable" in run.err and not list((before / "runs").glob("*.json"))
        outcomes.append(Outcome("results folder read-only before the run", ok,
                                f"exit {run.code}: {run.err.strip().splitlines()[-1:] if run.err.strip() else ''}",
                                record_expected=False, tracebacks=count([run.out, run.err], ["Traceback"])))
    finally:
        undo()

    during = results()
    (during / "runs").mkdir(parents=True)
    undos: list[Callable[[], None]] = []
    fallback = fallback_dir()
    already = set(fallback.glob("*.json")) if fallback.exists() else set()

    def watch(line: str, _proc: subprocess.Popen[str]) -> None:
        if line.startswith("[measure") and not undos:
            undos.append(read_only(during / "runs"))

    try:
        run = dbarena(during, *fake, "--duration", "3s", watch=watch)
    finally:
        for undo in undos:
            undo()
    saved = sorted(set(fallback.glob("*.json")) - already) if fallback.exists() else []
    ok = bool(undos) and bool(saved) and str(saved[0]) in run.err and run.code in (0, ERRORS, INVALID)
    outcomes.append(Outcome("results folder made read-only during the measurement", ok,
                            f"exit {run.code}, record in the fallback folder: {saved[0] if saved else 'none'}",
                            record_found=bool(saved), tracebacks=count([run.out, run.err], ["Traceback"])))
    for path in saved:
        path.unlink()
    return outcomes


# ---- secrets -----------------------------------------------------------------------------------------------------


def secret_case(fleet: Fleet, results: Path) -> Outcome:
    url = with_password(fleet.get("postgres").url)
    run = dbarena(results, *bench_args("postgres", url, "--scale", "0.03", "--duration", "2s", "--warmup", "1s",
                                       "--users", "2"))
    records = run.records()
    texts = run.texts()
    if records:
        run_id = records[0].run_id
        for command in (["runs"], ["show", run_id], ["report", run_id], ["history"]):
            texts += [(done := dbarena(results, *command, timeout_s=120)).out, done.err]
        texts += [path.read_text(errors="replace") for path in results.rglob("*") if path.is_file()]
    leaks = count(texts, SECRETS)
    return Outcome("postgres URL with a password: bench, runs, show, report, history", bool(records) and run.code == 0,
                   f"exit {run.code}, {len(texts)} outputs and files searched", record_found=bool(records), leaks=leaks,
                   tracebacks=count(texts, ["Traceback"]))


# ---- the campaign ------------------------------------------------------------------------------------------------


def campaign(engines: list[str], tmp: Path, say: Callable[[str], None]) -> list[Outcome]:
    folders = iter(range(1_000_000))

    def results() -> Path:
        return tmp / f"results-{next(folders)}"

    outcomes: list[Outcome] = []

    def add(outcome: Outcome) -> None:
        outcomes.append(outcome)
        say(outcome.line())

    fleet = Fleet(engines)
    try:
        for engine in engines:  # case by case across the engines: restarts overlap other engines' cases
            add(guarded(f"{engine}: kill -9 + restart during the measurement", partial(kill_and_restart, fleet, engine, results())))
        for phase in ("warm-up", "measure"):
            for engine in engines:
                add(guarded(f"{engine}: kill -9 during the {phase}",
                            partial(kill_without_restart, fleet, engine, phase, results())))
        for engine in engines:
            add(guarded(f"{engine}: kill -9 during the load", partial(kill_in_load, fleet, engine, results())))
        for outcome in signal_cases(fleet, engines, results):
            add(outcome)
        for outcome in folder_cases(results):
            add(outcome)
        if "postgres" in engines:
            add(guarded("postgres URL with a password", partial(secret_case, fleet, results())))
    finally:
        fleet.stop()
    return outcomes


def guarded(case: str, run: Callable[[], Outcome]) -> Outcome:
    """A case whose own machinery failed (an engine that would not start) is a failed case, not a crash."""
    try:
        return run()
    except KeyError as exc:
        return Outcome(case, False, f"engine unavailable: {exc}", record_expected=False)


def summary(outcomes: list[Outcome]) -> str:
    survived = sum(o.survived for o in outcomes)
    lost = sum(o.record_expected and not o.record_found for o in outcomes)
    return (f"faults survived {survived}/{len(outcomes)}, records lost {lost}, "
            f"secrets leaked {sum(o.leaks for o in outcomes)}, tracebacks {sum(o.tracebacks for o in outcomes)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated, of {','.join(ENGINES)}")
    parser.add_argument("--json", type=Path, help="also write every case's outcome here")
    args = parser.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; known: {', '.join(ENGINES)}")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dbarena-faults-") as tmp:
        outcomes = campaign(engines, Path(tmp), lambda line: print(line, flush=True))
    if args.json:
        args.json.write_text(json.dumps([o.__dict__ for o in outcomes], indent=2))
    print(f"({time.monotonic() - began:.0f}s)")
    print(summary(outcomes))
    clean = all(o.survived for o in outcomes) and not any(o.leaks or o.tracebacks for o in outcomes) and \
        not any(o.record_expected and not o.record_found for o in outcomes)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
