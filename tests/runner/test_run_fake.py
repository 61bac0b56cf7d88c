"""The whole runner end to end on the in-memory fake engine (no server needed).

Evidence about the runner, merging and the record, never about a real adapter.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import UnsupportedOperation
from harness.metrics.histogram import decode
from harness.results import store
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.models import OperationKind, SearchOp
from harness.spec.suite import LoadProfile

ROOT = Path(__file__).resolve().parents[2]


def kv(count: int = 500):  # type: ignore[no-untyped-def]
    return load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(count / 10_000)


def test_closed_loop_two_processes_merge_exactly() -> None:
    load = LoadProfile(users=4, processes=2, duration=2, warmup=1)
    record = run_and_record(RunRequest(engine="fake", url="fake://closed?latency_us=200", workload=kv(), load=load),
                           Progress())
    assert record.complete and record.valid, record.invalid_reasons
    assert record.load.processes == 2
    for name, op in record.operations.items():
        assert op.count > 0, name
        assert decode(op.histogram).get_total_count() == op.count
        assert op.latency_us is not None and op.latency_us.p50 >= 200  # the simulated service time
        assert op.service_us is None  # closed loop: latency is service time
        measured = sum(p.count for p in record.timeseries if p.op == name and p.phase == "measure")
        assert abs(measured - op.count) <= 0.02 * op.count + 5
        assert op.warmup_count > 0
    assert record.measured_s == pytest.approx(2.0, abs=0.2)
    assert record.total_throughput_ops_s == pytest.approx(sum(o.count for o in record.operations.values()) / record.measured_s,
                                                           rel=0.01)


def test_open_loop_holds_the_target_rate_and_stores_service_time() -> None:
    load = LoadProfile(users=4, processes=1, duration=3, warmup=1, target_rate=400, schedule="deterministic")
    record = run_and_record(RunRequest(engine="fake", url="fake://open?latency_us=500", workload=kv(), load=load),
                           Progress())
    assert record.valid, record.invalid_reasons
    assert record.total_throughput_ops_s == pytest.approx(400, rel=0.05)
    for op in record.operations.values():
        assert op.service_us is not None and op.latency_us is not None
        assert op.latency_us.p50 >= op.service_us.p50


def test_unsupported_operation_is_refused_up_front() -> None:
    workload = kv()
    search = SearchOp(name="search", kind=OperationKind.SEARCH, entity="usertable", weight=1, text_fields=("field0",))
    workload = workload.model_copy(update={"operations": (*workload.operations, search)})
    with pytest.raises(UnsupportedOperation, match="search"):
        run_and_record(RunRequest(engine="fake", url="fake://", workload=workload, load=LoadProfile()), Progress())


def test_ctrl_c_saves_an_incomplete_record(tmp_path: Path) -> None:
    env = {**os.environ, "DBARENA_RESULTS": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "bench", "--engine", "fake", "--workload", "kv-cache",
         "--duration", "30s", "--warmup", "0s", "--users", "2", "--processes", "2", "--scale", "0.05"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # progress lines: interrupt once the measurement is under way
        seen.append(line)
        if line.startswith("[measure"):
            proc.send_signal(signal.SIGINT)
            break
    _out, rest = proc.communicate(timeout=90)
    err = "".join(seen) + rest
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    (path,) = list((tmp_path / "runs").glob("*.json"))
    record = store.load(path)
    assert not record.complete and not record.valid
    assert sum(op.count for op in record.operations.values()) > 0  # what was measured is kept
    assert record.phase == "measure" and record.stopped_by == "interrupted"


def test_a_stop_signal_lands_in_the_phase_the_clock_says_even_before_a_second_was_relayed() -> None:
    """The parent places a stop signal by the warm-up start the master announced (Go), not only by the seconds
    relayed so far: 0.3 s into the measurement, before its first second arrived, is `measure`."""
    import time

    from harness.runner.protocol import Go
    from harness.runner.run import _Outcome, _Session

    request = RunRequest(engine="fake", url="fake://", workload=kv(), load=LoadProfile(warmup=1, duration=10))
    session = _Session(request, 1, None, Progress(), _Outcome())  # type: ignore[arg-type]
    assert session._in_warmup()  # nothing announced yet: the users have not started
    session._handle(Go(start_epoch=time.time() - 1.3))
    assert not session._in_warmup()
    session._handle(Go(start_epoch=time.time() - 0.7))
    assert session._in_warmup()


def test_errors_over_the_budget_invalidate_the_run_and_exit_4(tmp_path: Path) -> None:
    env = {**os.environ, "DBARENA_RESULTS": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "bench", "--engine", "fake", "--url", "fake://errors?error_rate=0.05",
         "--workload", "kv-cache", "--duration", "2s", "--warmup", "0s", "--users", "2", "--scale", "0.02"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 4, done.stderr
    (path,) = list((tmp_path / "runs").glob("*.json"))
    record = store.load(path)
    assert not record.valid and record.over_error_budget
    assert any(reason.startswith("errors: ") and "budget 1.0%" in reason for reason in record.invalid_reasons)
    assert 0.03 < record.error_share < 0.07  # the fake failed 5% of the calls


def test_a_window_where_every_call_fails_is_invalid() -> None:
    load = LoadProfile(users=2, processes=1, duration=1, warmup=0)
    record = run_and_record(RunRequest(engine="fake", url="fake://allfail?error_rate=1", workload=kv(), load=load),
                            Progress())
    assert not record.valid and record.over_error_budget and record.error_share == 1.0


def test_an_open_loop_target_that_was_not_reached_invalidates_the_run() -> None:
    load = LoadProfile(users=2, processes=1, duration=2, warmup=0, target_rate=200)
    slow = run_and_record(RunRequest(engine="fake", url="fake://unreached?latency_us=50000", workload=kv(), load=load),
                          Progress())  # 2 users x 20 calls/s at most: 40 of 200 ops/s
    assert not slow.valid
    # every start intended in the window was issued, late (the drain): the engine could not keep up, the
    # harness idled — the engine's fault, not the generator's
    assert slow.invalid_causes == ("engine",), slow.invalid_reasons
    assert slow.invalid_reasons[0].startswith("engine could not keep up"), slow.invalid_reasons


def test_a_run_whose_dataset_lock_another_run_took_is_invalid_and_names_it() -> None:
    """Ours expired (an outage) and a second run took the lock while this one measured: that run may have dropped
    the data under it, so the record says so (cause other), from the lock as the engine holds it at the end."""
    import threading
    import time

    from harness.engines.fake.adapter import server_for
    from harness.engines.locks import LockHolder

    url = "fake://stolen?latency_us=200"
    server = server_for(url)
    thief = LockHolder.here("thief-run", "kv-cache")
    taken = threading.Event()

    def take_it_over() -> None:
        deadline = time.monotonic() + 30
        while not server.locks and time.monotonic() < deadline:
            time.sleep(0.01)
        for name in list(server.locks):  # as if ours had expired and the thief's acquire replaced it
            server.locks[name] = (thief.model_dump_json(), time.time() + 60)
        taken.set()

    stealer = threading.Thread(target=take_it_over, daemon=True)
    stealer.start()
    load = LoadProfile(users=2, processes=1, duration=1, warmup=0)
    record = run_and_record(RunRequest(engine="fake", url=url, workload=kv(), load=load), Progress())
    stealer.join(timeout=5)
    assert taken.is_set()
    assert not record.valid and record.complete
    lost = [(r, c) for r, c in zip(record.invalid_reasons, record.invalid_causes, strict=True) if "was lost" in r]
    assert len(lost) == 1, record.invalid_reasons
    reason, cause = lost[0]
    assert cause == "other"
    assert "dataset lock on fake (entity usertable) was lost during the run and run thief-run" in reason
    assert server.locks["usertable"][0] == thief.model_dump_json()  # ours was never released over the thief's
    server.locks.clear()


def test_a_master_that_cannot_listen_is_the_harness_s_failure_not_the_engine_s() -> None:
    """A port in use stops the run before anything is measured; its invalid cause is workers (the harness's own
    processes), where an engine refusing a load batch is engine (tests/runner/test_load_cut_short.py)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        load = LoadProfile(users=1, processes=1, duration=1, warmup=0)
        record = run_and_record(RunRequest(engine="fake", url="fake://nobind", workload=kv(), load=load,
                                           master_bind=f"127.0.0.1:{port}"), Progress())
    assert not record.valid and not record.complete
    assert record.invalid_causes[0] == "workers", (record.invalid_causes, record.invalid_reasons)
    assert f"--master-bind 127.0.0.1:{port}: the master cannot listen there" in record.invalid_reasons[0]
    assert record.stopped_by == "failure"


def test_users_the_engine_refuses_at_the_start_are_one_line_and_the_engine_s_cause(
        capfd: pytest.CaptureFixture[str]) -> None:
    """The engine refuses the users' connections after the load (stopped meanwhile): the record says the engine
    failed, once (no 'no worker process returned results' blaming the workers), and no traceback is printed."""
    load = LoadProfile(users=2, processes=1, duration=1, warmup=0)
    record = run_and_record(RunRequest(engine="fake", url="fake://refused?refuse_bind=1", workload=kv(), load=load),
                            Progress())
    assert not record.valid and not record.complete
    assert record.invalid_causes == ("engine",), (record.invalid_causes, record.invalid_reasons)
    assert "refuse_bind" in record.invalid_reasons[0] and record.stopped_by == "failure"
    assert "Traceback" not in capfd.readouterr().err
