"""A stop signal in any phase saves what was measured and stops every process dbarena started.

SIGINT (once or twice), SIGTERM (`timeout`, CI cancellation) and SIGHUP (a closed terminal),
sent to a real `dbarena bench` process, during the load, the measurement and the telemetry.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli.exit_codes import ExitCode
from harness.results import store
from harness.results.record import RunRecord

ROOT = Path(__file__).resolve().parents[2]


def bench(tmp_path: Path, *args: str, url: str = "fake://signals?latency_us=300") -> subprocess.Popen[str]:
    env = {**os.environ, "DBARENA_RESULTS": str(tmp_path)}
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "bench", "--workload", "kv-cache", "--warmup", "0s", "--users", "2",
         "--processes", "2", *args, *(["--engine", "fake", "--url", url] if "--engine" not in args else [])],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt_when(proc: subprocess.Popen[str], marker: str, *signals: signal.Signals) -> str:
    """Read stderr until a line starts with `marker`, send the signals, return everything said (stderr, stdout)."""
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(marker):
            for sig in signals:
                proc.send_signal(sig)
                time.sleep(0.1)
            break
        assert time.monotonic() < deadline, "".join(seen)
    out, rest = proc.communicate(timeout=120)
    return "".join(seen) + rest + out


def the_record(tmp_path: Path) -> RunRecord:
    (path,) = list((tmp_path / "runs").glob("*.json"))
    return store.load(path)


@pytest.mark.parametrize("sigs", [(signal.SIGTERM,), (signal.SIGHUP,), (signal.SIGINT, signal.SIGINT)],
                         ids=["sigterm", "sighup", "double-sigint"])
def test_a_signal_during_the_measurement_saves_what_was_measured(sigs: tuple[signal.Signals, ...], tmp_path: Path) -> None:
    proc = bench(tmp_path, "--duration", "30s", "--scale", "0.05")
    err = interrupt_when(proc, "[measure", *sigs)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "Traceback" not in err
    record = the_record(tmp_path)
    assert record.interrupted and not record.complete and not record.valid and record.phase == "measure"
    assert sum(op.count for op in record.operations.values()) > 0
    assert any(sigs[0].name in note for note in record.notes), record.notes


def test_a_signal_during_the_load_saves_how_far_it_got(tmp_path: Path) -> None:
    proc = bench(tmp_path, "--duration", "5s", "--scale", "20", url="fake://slowload?latency_us=300&load_ms=100")
    err = interrupt_when(proc, "loading usertable", signal.SIGTERM)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    record = the_record(tmp_path)
    assert record.interrupted and record.phase == "load" and not record.complete
    loaded = record.load_phase
    assert loaded is not None and not loaded.complete
    assert 0 < loaded.records < 200_000 and loaded.records % 1_000 == 0  # whole batches: the workers stopped
    assert f"interrupted while loading the dataset ({loaded.records:,} records loaded so far)" in err, err
    assert any("SIGTERM" in note and f"during load ({loaded.records:,} records loaded so far)" in note
               for note in record.notes), record.notes
    assert not any("Ctrl-C" in note for note in record.notes), record.notes
    assert record.invalid_causes == ("interrupted",), record.invalid_reasons  # not also "no worker ... results"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_signal_during_the_warm_up_is_recorded_in_the_warm_up(sig: signal.Signals, tmp_path: Path) -> None:
    proc = bench(tmp_path, "--duration", "5s", "--scale", "0.05", "--warmup", "5s")
    err = interrupt_when(proc, "[warm-up 00:01", sig)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert f"interrupted ({sig.name}) during warmup" in err, err
    record = the_record(tmp_path)
    assert record.interrupted and record.phase == "warmup" and record.measured_s == 0.0
    (note,) = [note for note in record.notes if note.startswith("interrupted")]
    assert sig.name in note and note.endswith("during warmup")
    assert ("Ctrl-C" in note) == (sig == signal.SIGINT), note
    assert record.invalid_causes == ("interrupted",), record.invalid_reasons


@pytest.mark.redis
def test_an_interrupted_redis_load_records_what_redis_holds(tmp_path: Path, redis_url: str) -> None:
    import redis

    admin = redis.Redis.from_url(redis_url, socket_timeout=10)
    admin.flushdb()
    proc = bench(tmp_path, "--engine", "redis", "--url", redis_url, "--duration", "5s", "--scale", "30",
                 "--processes", "1", "--users", "1")
    err = interrupt_when(proc, "loading usertable", signal.SIGINT)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    record = the_record(tmp_path)
    keys = admin.dbsize()  # after the run: its workers are gone, its dataset lock released
    assert record.load_phase is not None and not record.load_phase.complete
    assert 0 < record.load_phase.records < 300_000
    assert record.load_phase.records == keys, (record.load_phase, keys)
    assert f"({keys:,} records loaded so far)" in err, err


def test_a_signal_during_telemetry_keeps_the_whole_measurement(tmp_path: Path) -> None:
    proc = bench(tmp_path, "--duration", "2s", "--scale", "0.05", url="fake://slowtelemetry?latency_us=300&telemetry_ms=20000")
    err = interrupt_when(proc, "fake: collecting telemetry", signal.SIGINT)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    record = the_record(tmp_path)
    assert record.interrupted and record.phase == "telemetry"
    assert record.complete  # the window was measured to its end
    assert record.measured_s == pytest.approx(2.0, abs=0.3)


def test_sigterm_stops_the_engine_dbarena_started(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a cache of its own: a redis some other session left running by `engines up` would be reused, not started
    monkeypatch.setenv("DBARENA_CACHE", str(tmp_path / "cache"))
    proc = bench(tmp_path, "--engine", "redis", "--provision", "native", "--duration", "30s", "--scale", "0.02")
    err = interrupt_when(proc, "[measure", signal.SIGTERM)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    pid = int(re.search(r"redis ready at \S+ after [\d.]+s \(pid (\d+)\)", err).group(1))  # type: ignore[union-attr]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert the_record(tmp_path).phase == "measure"


def test_a_results_folder_that_cannot_be_written_is_refused_before_anything_runs(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the results folder should be")
    proc = bench(blocked, "--duration", "1s", "--scale", "0.01")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.USER_ERROR, err
    assert "is not writable" in err and "nothing was run" in err and "Traceback" not in err
