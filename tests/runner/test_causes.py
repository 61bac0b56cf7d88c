"""Whose fault an invalid run is: the load generator's, the engine's or the calls' errors.

Fake-engine runs check the runner's classification against what the fake was told to do (no
service time, every call failing, every call hanging); the PostgreSQL run checks a statement the
server refuses (an undefined table) against the server's own error text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.results.build import run_and_record
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.recorder import Recorder
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.models import NativeOp, OperationKind, Workload
from harness.spec.suite import LoadProfile

ROOT = Path(__file__).resolve().parents[2]


def kv(count: int = 500, preset: str = "ycsb-b") -> Workload:
    return load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(count / 10_000).with_preset(preset)


def reason_of(record: RunRecord, cause: str) -> str:
    assert cause in record.invalid_causes, (record.invalid_causes, record.invalid_reasons)
    return record.invalid_reasons[record.invalid_causes.index(cause)]


def test_a_generator_working_off_its_warmup_backlog_is_the_clients_fault() -> None:
    """40,000 ops/s from 4 users whose calls take 200 µs (at most 20,000/s): the schedule falls ever further behind.

    The users spend the window on starts intended in the warm-up; the window's own starts are
    never issued (timeouts) while every call made answers in about 200 µs: the generator's fault.
    """
    load = LoadProfile.model_validate({"users": 4, "processes": 1, "duration": 2, "warmup": "1.5s",
                                       "target_rate": 40_000, "schedule": "deterministic", "op_timeout": "1s"})
    record = run_and_record(RunRequest(engine="fake", url="fake://backlog?latency_us=200", workload=kv(), load=load),
                            Progress())
    timeouts = sum(op.timeouts for op in record.operations.values())
    done = sum(op.count + op.errors + op.timeouts for op in record.operations.values())
    assert done == pytest.approx(80_000, abs=40)  # every intended start of the window is accounted for
    assert timeouts > 40_000  # most were never issued
    assert not record.valid
    assert set(record.invalid_causes) == {"client"}, record.invalid_reasons
    assert all("add processes" in reason and "lower the rate" in reason for reason in record.invalid_reasons)
    assert all("unavailable or stalled" not in reason for reason in record.invalid_reasons)
    if not any(op.count for op in record.operations.values()):  # nothing succeeded: the whole window is named
        assert any(r.startswith("no call succeeded during the whole measurement (2 s;") for r in record.invalid_reasons)


def test_calls_that_hang_are_the_engines_fault() -> None:
    """Every call takes 3 s against a 1 s timeout: issued calls time out, the schedule lags behind them."""
    load = LoadProfile.model_validate({"users": 2, "processes": 1, "duration": 2, "warmup": 0, "target_rate": 200,
                                       "op_timeout": "1s"})
    record = run_and_record(RunRequest(engine="fake", url="fake://hang?stall_every=1&stall_ms=3000", workload=kv(),
                                       load=load), Progress())
    assert sum(op.count for op in record.operations.values()) == 0
    assert not record.valid
    assert "engine" in record.invalid_causes and "client" not in record.invalid_causes, record.invalid_reasons
    assert "unavailable or stalled" in reason_of(record, "engine")
    assert reason_of(record, "engine").startswith("no call succeeded during the whole measurement (2 s;")


def test_a_window_spent_in_calls_made_before_it_is_the_engines_stall_not_an_empty_run() -> None:
    """Closed loop, every user's 200th call (in the warm-up) hangs past a 4 s timeout that ends after the 1 s window:
    nothing is made in the window, and the record says the engine held the users, not "none was made"."""
    load = LoadProfile.model_validate({"users": 2, "processes": 1, "duration": 1, "warmup": 1, "op_timeout": "4s"})
    url = "fake://held?latency_us=1000&stall_every=200&stall_ms=20000"
    record = run_and_record(RunRequest(engine="fake", url=url, workload=kv(), load=load), Progress())
    assert sum(op.count + op.errors + op.timeouts for op in record.operations.values()) == 0
    assert not record.valid
    assert record.invalid_causes == ("engine",), record.invalid_reasons
    reason = reason_of(record, "engine")
    assert reason.startswith("no operation completed in the measurement window: its users were held"), reason
    assert "fake was unavailable or stalled" in reason


def test_a_failure_after_a_long_call_counts_as_time_the_engine_held_its_user() -> None:
    """An error after 5 s (a driver waiting for a server that is gone) is a stall, as a timeout or a slow success is."""
    recorder = Recorder(["read"], t0_ns=0, warmup_s=1, duration_s=2, open_loop=False)
    stats = recorder.stats[0]
    recorder.record_error(stats, 0, 500_000_000, 5_500_000_000, ConnectionError("gone"), disconnect=True)
    recorder.record_error(stats, 0, 1_100_000_000, 1_200_000_000, ConnectionError("refused"), disconnect=True)
    assert recorder.stalled_ns == 5_000_000_000  # the quick failure is not a stall
    assert stats.errors == 1  # only the one made in the window is the window's


def test_calls_that_all_fail_with_an_error_are_errors_not_an_outage() -> None:
    load = LoadProfile.model_validate({"users": 2, "processes": 1, "duration": 1, "warmup": 0})
    record = run_and_record(RunRequest(engine="fake", url="fake://broken?error_rate=1", workload=kv(), load=load),
                            Progress())
    assert not record.valid
    assert set(record.invalid_causes) == {"errors"}, record.invalid_reasons
    assert all("RuntimeError: simulated engine error" in reason for reason in record.invalid_reasons)


def test_an_error_sample_is_the_first_line_of_a_multi_line_message() -> None:
    recorder = Recorder(["read"], t0_ns=0, warmup_s=0, duration_s=10, open_loop=False)
    error = RuntimeError('relation "nope" does not exist\nLINE 1: SELECT * FROM nope\n                      ^')
    recorder.record_error(recorder.stats[0], 0, 1_000, 2_000, error)
    assert recorder.stats[0].errors_sample == ['RuntimeError: relation "nope" does not exist']


def test_operationcount_ends_the_window_at_the_last_counted_operation() -> None:
    """1,000 ops/s (deterministic) from 4 users, 2,500 operations: the last one is intended at 2.5 s."""
    load = LoadProfile.model_validate({"users": 4, "processes": 1, "duration": 30, "warmup": 0.5, "target_rate": 1000,
                                       "schedule": "deterministic", "operationcount": 2500})
    record = run_and_record(RunRequest(engine="fake", url="fake://quota?latency_us=100", workload=kv(), load=load),
                            Progress())
    assert record.stopped_by == "operationcount"
    assert sum(op.count + op.errors + op.timeouts for op in record.operations.values()) == 2500
    assert record.measured_s == pytest.approx(2.5, abs=0.03)
    assert record.valid, record.invalid_reasons


@pytest.mark.postgres
def test_an_undefined_table_is_errors_with_the_servers_first_line(postgres_url: str) -> None:
    """Every call fails with PostgreSQL's UndefinedTable (a three-line message): errors, one line each."""
    missing = NativeOp(name="missing", kind=OperationKind.NATIVE, entity="usertable", weight=1,
                       statements={"postgres": "SELECT * FROM no_such_table_here WHERE k = %(key)s"})
    spec = kv(200).model_copy(update={"operations": (missing,), "presets": {}})
    load = LoadProfile.model_validate({"users": 2, "processes": 1, "duration": 1, "warmup": 0})
    record = run_and_record(RunRequest(engine="postgres", url=postgres_url, workload=spec, load=load), Progress())
    assert not record.valid
    assert set(record.invalid_causes) == {"errors"}, record.invalid_reasons
    assert record.operations["missing"].errors_sample
    for text in (*record.invalid_reasons, *record.operations["missing"].errors_sample):
        assert "\n" not in text and "LINE 1" not in text, text
    assert any('UndefinedTable: relation "no_such_table_here" does not exist' in r for r in record.invalid_reasons)


def test_operationcount_in_poisson_open_loop_ends_with_the_processs_last_start() -> None:
    """1,000 ops/s Poisson from 8 users, 2,500 operations: the process's 2,500th start is at 2.5 s (sd 0.05 s).

    Each user running its own share of 312 would end with the slowest of 8 (about 2.7 s, sd of a
    share 0.14 s), and the offered load would look missed.
    """
    load = LoadProfile.model_validate({"users": 8, "processes": 1, "duration": 5, "warmup": 2.5, "target_rate": 1000,
                                       "operationcount": 2500})
    record = run_and_record(RunRequest(engine="fake", url="fake://poisson?latency_us=100", workload=kv(), load=load),
                            Progress())
    assert record.stopped_by == "operationcount"
    assert sum(op.count + op.errors + op.timeouts for op in record.operations.values()) == 2500
    assert record.measured_s == pytest.approx(2.5, abs=0.15)  # 3 sd
    assert record.valid, record.invalid_reasons
