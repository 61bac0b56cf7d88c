"""The measurement window: every operation anchored in it is accounted for, and an invalid run names its cause.

Fake-engine tests check the runner's own logic (per-second rows, operationcount, a saturated
generator); the Redis and PostgreSQL tests check what a stalled or hung engine leaves in the
record against what the schedule offered and what the server itself reports.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis

from harness.metrics.histogram import decode
from harness.results.build import run_and_record
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.models import NativeOp, OperationKind, Workload
from harness.spec.suite import LoadProfile

ROOT = Path(__file__).resolve().parents[2]


def kv(count: int = 500, preset: str | None = "ycsb-a") -> Workload:
    """kv-cache; ycsb-a by default: reads and updates of loaded records only, so every read must hit."""
    spec = load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(count / 10_000)
    return spec.with_preset(preset) if preset else spec


def assert_rows_sum_to_the_summary(record: RunRecord) -> None:
    """Measured rows hold measured operations only: per operation, their counts are the summary's, exactly."""
    assert record.operations
    for name, op in record.operations.items():
        rows = [p for p in record.timeseries if p.op == name]
        measured = [p for p in rows if p.phase == "measure"]
        assert sum(p.count for p in measured) == op.count, name
        assert sum(p.errors for p in measured) == op.errors, name
        assert sum(p.timeouts for p in measured) == op.timeouts, name
        assert sum(p.count for p in rows if p.phase == "warmup") == op.warmup_count, name


@pytest.mark.parametrize("rate", [None, 600.0], ids=["closed", "open"])
def test_a_fractional_warmup_leaves_warmup_operations_out_of_the_measured_rows(rate: float | None) -> None:
    load = LoadProfile(users=3, processes=1, duration=2, warmup="1.5s", target_rate=rate)
    record = run_and_record(RunRequest(engine="fake", url="fake://frac?latency_us=300", workload=kv(), load=load),
                            Progress())
    assert record.valid, record.invalid_reasons
    assert_rows_sum_to_the_summary(record)
    straddling = {p.phase for p in record.timeseries if p.t == 1}
    assert straddling == {"warmup", "measure"}  # second 1 holds both, in rows of their own
    assert all(p.phase == "measure" for p in record.timeseries if p.t >= 2)
    assert all(p.phase == "warmup" for p in record.timeseries if p.t < 1)


def test_operationcount_stops_the_measurement_after_exactly_that_many_operations() -> None:
    load = LoadProfile.model_validate({"users": 3, "processes": 2, "duration": 60, "warmup": 0.5,
                                       "operationcount": 3001})
    began = time.monotonic()
    record = run_and_record(RunRequest(engine="fake", url="fake://quota?latency_us=200", workload=kv(), load=load),
                            Progress())
    assert time.monotonic() - began < 45  # far from the 60 s duration
    assert record.stopped_by == "operationcount" and record.load.operation_count == 3001
    assert sum(op.count + op.errors + op.timeouts for op in record.operations.values()) == 3001
    assert record.measured_s < 30
    assert_rows_sum_to_the_summary(record)


def test_the_duration_ends_a_run_whose_operationcount_is_not_reached() -> None:
    load = LoadProfile.model_validate({"users": 2, "processes": 1, "duration": 1, "warmup": 0,
                                       "operationcount": 10_000_000})
    record = run_and_record(RunRequest(engine="fake", url="fake://quota-slow?latency_us=500", workload=kv(), load=load),
                            Progress())
    assert record.stopped_by == "duration"
    assert record.measured_s == pytest.approx(1.0, abs=0.1)


def test_a_saturated_generator_is_the_clients_fault() -> None:
    """No service time at all, an impossible rate (several times what one process can issue): users start ever later while
    their calls take microseconds."""
    load = LoadProfile(users=4, processes=1, duration=2, warmup=0, target_rate=300_000, schedule="deterministic",
                       op_timeout="1s")
    record = run_and_record(RunRequest(engine="fake", url="fake://saturated", workload=kv(), load=load), Progress())
    assert not record.valid
    assert "client" in record.invalid_causes and "engine" not in record.invalid_causes, record.invalid_reasons
    reason = record.invalid_reasons[record.invalid_causes.index("client")]
    assert "add processes" in reason
    for op in record.operations.values():
        assert op.lag_us is not None and op.lag_us.max > 1_000_000  # the start lag, measured per operation


class _PauseAt(Progress):
    """Starts `action` `seconds` after the start of warm-up: the master starts it 0.5 s after the load is done."""

    def __init__(self, seconds: float, action: threading.Thread) -> None:
        super().__init__()
        self.seconds, self.action = seconds, action

    def done(self, line: str | None = None) -> None:
        if line and line.startswith("loaded "):
            threading.Timer(self.seconds + 0.5, self.action.start).start()
        super().done(line)


@pytest.mark.redis
def test_an_engine_stall_at_the_end_of_the_window_is_measured_and_blamed_on_the_engine(redis_url: str) -> None:
    """Open loop 2,000 ops/s for 6 s: Redis paused 3 s from 1.5 s before the window's end.

    The 12,000 starts the schedule intended are all accounted for, the ones held up by the pause
    with response times of 1.5 s and more; the run is invalid because the engine stalled.
    """
    admin = redis.Redis.from_url(redis_url)
    pause = threading.Thread(target=lambda: admin.execute_command("CLIENT", "PAUSE", 3000, "ALL"))
    load = LoadProfile(users=8, processes=1, duration=6, warmup=1, target_rate=2000, schedule="deterministic")
    before = int(admin.info("stats")["total_commands_processed"])
    record = run_and_record(RunRequest(engine="redis", url=redis_url, workload=kv(2000, "ycsb-c"), load=load),
                            _PauseAt(1 + 6 - 1.5, pause))
    served = int(admin.info("stats")["total_commands_processed"]) - before
    read = record.operations["read"]
    assert read.count + read.errors + read.timeouts == pytest.approx(12_000, abs=60)
    assert served >= read.count  # the server answered every call counted as done
    assert read.latency_us is not None and read.latency_us.max >= 1_450_000
    assert decode(read.histogram).get_total_count() == read.count + read.timeouts
    assert not record.valid and "engine" in record.invalid_causes, record.invalid_reasons
    assert "client" not in record.invalid_causes, record.invalid_reasons
    assert_rows_sum_to_the_summary(record)


@pytest.mark.postgres
def test_a_hung_statement_is_a_timeout_and_invalidates_the_run(postgres_url: str) -> None:
    """SELECT pg_sleep(8) with a 2 s operation timeout in a 3 s window: timeouts, never successes; the run is invalid."""
    base = kv(200)
    sleep = NativeOp(name="sleep", kind=OperationKind.NATIVE, entity="usertable", weight=1,
                     statements={"postgres": "SELECT pg_sleep(8), %(key)s::text"})
    spec = base.model_copy(update={"operations": (sleep,), "presets": {}})
    load = LoadProfile(users=2, processes=1, duration=3, warmup=0, op_timeout="2s")
    began = time.monotonic()
    record = run_and_record(RunRequest(engine="postgres", url=postgres_url, workload=spec, load=load), Progress())
    op = record.operations["sleep"]
    assert op.count == 0
    assert 2 <= op.timeouts <= 6  # 2 users, each giving up after ~2 s, for a 3 s window and its drain
    assert op.latency_us is not None and 1_900_000 <= op.latency_us.max <= 3_000_000
    assert not record.valid and "errors" in record.invalid_causes, record.invalid_reasons
    assert time.monotonic() - began < 60


@pytest.mark.redis
def test_reads_of_records_that_are_gone_are_misses_and_invalidate_the_run(redis_url: str) -> None:
    """ycsb-c on an emptied Redis: every read returns nothing; Redis's own keyspace_misses count them too."""
    admin = redis.Redis.from_url(redis_url)
    spec = kv(1000, "ycsb-c")
    load = LoadProfile(users=2, processes=1, duration=1, warmup=0)
    run_and_record(RunRequest(engine="redis", url=redis_url, workload=spec, load=load), Progress())  # prepared, loaded
    admin.flushdb()
    before = int(admin.info("stats")["keyspace_misses"])
    record = run_and_record(RunRequest(engine="redis", url=redis_url, workload=spec, load=load, skip_load=True),
                            Progress())
    misses = int(admin.info("stats")["keyspace_misses"]) - before
    read = record.operations["read"]
    assert read.must_hit and read.count > 100
    assert read.not_found == read.count == misses
    assert not record.valid and record.invalid_causes == ("misses",), record.invalid_reasons
    assert "found nothing" in record.invalid_reasons[0]


@pytest.mark.redis
def test_a_paused_redis_keeps_a_closed_loop_user_in_timed_calls(redis_url: str) -> None:
    """One closed-loop user, 300 ms timeout, Redis paused 3 s inside a 6 s window: the user spends the pause in
    calls that time out (about 10), not in reconnects the paused server holds up between them."""
    admin = redis.Redis.from_url(redis_url)
    pause = threading.Thread(target=lambda: admin.execute_command("CLIENT", "PAUSE", 3000, "ALL"))
    load = LoadProfile(users=1, processes=1, duration=6, warmup=1, op_timeout="300ms")
    record = run_and_record(RunRequest(engine="redis", url=redis_url, workload=kv(200, "ycsb-c"), load=load),
                            _PauseAt(2.0, pause))
    read = record.operations["read"]
    assert read.errors == 0
    assert 8 <= read.timeouts <= 11, (read.timeouts, record.notes)  # 3 s / 0.3 s; before: ~4 (reconnects in between)
    assert read.count > 0  # before and after the pause
    assert not record.valid and "engine" in record.invalid_causes, record.invalid_reasons
