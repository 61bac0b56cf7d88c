"""PostgreSQL adapter against a real server: the server sees every operation, results are right."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from harness.dataset.generate import RecordFactory
from harness.engines.registry import create_adapter
from harness.runner.progress import Progress
from harness.runner.run import RunRequest, run_benchmark
from harness.spec.suite import LoadProfile
from tests.engines.helpers import after, load_all, workload

pytestmark = pytest.mark.postgres


def calls(conn: psycopg.Connection[Any], fragment: str) -> int:
    row = conn.execute("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE %s",
                       (f"%{fragment}%",)).fetchone()
    return int(row[0]) if row else 0


def wait_until_reads_flow(conn: psycopg.Connection[Any], fragment: str, timeout_s: float = 60) -> None:
    """Block until the benchmark's reads reach the server (the load phase and start-up are over)."""
    deadline = time.monotonic() + timeout_s
    lowest = calls(conn, fragment)  # the load phase resets pg_stat_statements: track the minimum
    while (seen := calls(conn, fragment)) < lowest + 20:
        lowest = min(lowest, seen)
        assert time.monotonic() < deadline, "benchmark reads never reached the server"
        time.sleep(0.05)


def test_contract_server_sees_each_operation_and_results_are_right(postgres_url: str) -> None:
    spec = workload("user-accounts", 300)
    adapter = create_adapter("postgres", postgres_url)
    adapter.connect()
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    ops = {op.name: adapter.bind(op, entity) for op in spec.operations}
    with psycopg.connect(postgres_url, autocommit=True) as check:
        assert check.execute("SELECT count(*) FROM users").fetchone()[0] == 300  # type: ignore[index]
        before = {f: calls(check, f) for f in ("WHERE \"email\"", "SELECT * FROM \"users\"", "UPDATE \"users\"", "INSERT INTO \"users\"")}
        active = next(i for i in range(300) if factory.value("is_active", i))
        inactive = next(i for i in range(300) if not factory.value("is_active", i))
        assert ops["login"](None, {"email": factory.value("email", active)}) == 1
        assert ops["login"](None, {"email": factory.value("email", inactive)}) == 0  # only active users log in
        assert ops["profile"](factory.value("id", 5), None) == 1
        assert ops["profile"]("00000000-0000-4000-8000-000000000000", None) == 0
        new_values = factory.new_values(("last_login", "updated_at"), nonce=1)
        assert ops["touch-login"](factory.value("id", 5), new_values) == 1
        stored = check.execute("SELECT last_login FROM users WHERE id = %s", (factory.value("id", 5),)).fetchone()
        assert stored is not None and stored[0] == new_values["last_login"]
        assert ops["signup"](None, factory.record(300)) == 1
        assert check.execute("SELECT count(*) FROM users").fetchone()[0] == 301  # type: ignore[index]
        after_calls = {f: calls(check, f) for f in before}
    assert after_calls["WHERE \"email\""] - before["WHERE \"email\""] == 2
    assert after_calls["SELECT * FROM \"users\""] - before["SELECT * FROM \"users\""] == 2
    assert after_calls["UPDATE \"users\""] - before["UPDATE \"users\""] == 1
    assert after_calls["INSERT INTO \"users\""] - before["INSERT INTO \"users\""] == 1
    assert adapter.settings()["fsync"] == "on"
    adapter.close()


def test_kv_cache_run_produces_a_valid_record_with_telemetry(postgres_url: str) -> None:
    load = LoadProfile(users=4, processes=2, duration=2, warmup=1)
    record = run_benchmark(RunRequest(engine="postgres", url=postgres_url, workload=workload("kv-cache", 1000),
                                      load=load), Progress())
    assert record.complete and record.valid, record.invalid_reasons
    assert record.engine_version.startswith(("15", "16", "17", "18"))
    for op in record.operations.values():
        assert op.count > 0 and op.errors == 0
    assert record.load_phase is not None and record.load_phase.records == 1000
    statements = record.telemetry["top_statements"]
    assert any("usertable" in s["query"] for s in statements)
    assert record.telemetry["buffer_cache_hit_ratio"] > 0.5
    assert record.manifest["engine_settings"]["synchronous_commit"] == "on"


def test_coordinated_omission_a_server_stall_shows_in_response_time_not_service_time(postgres_url: str) -> None:
    """A table lock held for 1 s stalls every read; open-loop response time must show it."""
    spec = workload("kv-cache", 1000).with_preset("ycsb-c")

    def stall() -> None:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            wait_until_reads_flow(conn, "SELECT * FROM \"usertable\"")
            time.sleep(2.0)  # past the 1 s warm-up: the stall lands inside the measured window
            with conn.transaction():
                conn.execute("LOCK TABLE usertable IN ACCESS EXCLUSIVE MODE")
                conn.execute("SELECT pg_sleep(1)")

    load = LoadProfile(users=4, processes=1, duration=4, warmup=1, target_rate=200, schedule="deterministic")
    stall_thread = after(0, stall)
    record = run_benchmark(RunRequest(engine="postgres", url=postgres_url, workload=spec, load=load), Progress())
    stall_thread.join()
    read = record.operations["read"]
    assert read.latency_us is not None and read.service_us is not None
    assert read.count > 500
    assert read.latency_us.p99 > 500_000, read.latency_us  # ops due during the stall waited for it
    assert read.service_us.p99 < 100_000, read.service_us  # only the few in flight were slow to serve
    assert read.latency_us.max >= 900_000
