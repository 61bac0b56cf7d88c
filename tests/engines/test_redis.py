"""Redis adapter against a real server: INFO commandstats proves each operation reached it."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from harness.dataset.generate import RecordFactory
from harness.engines.registry import create_adapter
from harness.provision.native import base
from harness.provision.native.registry import get_launcher
from harness.runner.progress import Progress
from harness.runner.run import RunRequest, run_benchmark
from harness.spec.suite import LoadProfile
from tests.conftest import free_port
from tests.engines.helpers import after, load_all, workload

pytestmark = pytest.mark.redis


def command_calls(client: Any) -> dict[str, int]:
    return {name: stats["calls"] for name, stats in client.info("commandstats").items()} | {
        k.removeprefix("cmdstat_"): v["calls"] for k, v in client.info("commandstats").items()}


def test_contract_server_sees_each_operation_and_results_are_right(redis_url: str) -> None:
    spec = workload("user-accounts", 300)
    adapter = create_adapter("redis", redis_url)
    adapter.connect()
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    ops = {op.name: adapter.bind(op, entity) for op in spec.operations}
    check = redis.Redis.from_url(redis_url)
    check.config_resetstat()
    active = next(i for i in range(300) if factory.value("is_active", i))
    inactive = next(i for i in range(300) if not factory.value("is_active", i))
    assert ops["login"](None, {"email": factory.value("email", active)}) == 1
    assert ops["login"](None, {"email": factory.value("email", inactive)}) == 0
    assert ops["profile"](factory.value("id", 5), None) == 1
    assert ops["profile"]("missing", None) == 0
    new_values = factory.new_values(("last_login", "updated_at"), nonce=1)
    assert ops["touch-login"](factory.value("id", 5), new_values) == 1
    stored = check.hget(f"dbarena:users:{factory.value('id', 5)}", "last_login")
    assert stored is not None and stored.decode() == new_values["last_login"].isoformat()
    new_user = factory.record(300)
    assert ops["signup"](None, new_user) == 1
    assert check.hget("dbarena:users:idx:email", new_user["email"]) == new_user["id"].encode()
    calls = command_calls(check)
    assert calls["hget"] == 2 + 2  # two logins' index lookups, plus the two checks above
    assert calls["hgetall"] >= 1 + 2  # one login found a user; two profile reads
    assert calls["hset"] >= 2  # the update, the signup (record + index entries)
    adapter.close()


def test_kv_cache_run_produces_a_valid_record_with_telemetry(redis_url: str) -> None:
    load = LoadProfile(users=4, processes=2, duration=2, warmup=1)
    record = run_benchmark(RunRequest(engine="redis", url=redis_url, workload=workload("kv-cache", 1000), load=load),
                           Progress())
    assert record.complete and record.valid, record.invalid_reasons
    for op in record.operations.values():
        assert op.count > 0 and op.errors == 0
    assert record.telemetry["commandstats"]["hgetall"]["calls"] >= record.operations["read"].count
    assert "appendonly" in record.manifest["engine_settings"]


def test_coordinated_omission_a_server_stall_shows_in_response_time_not_service_time(redis_url: str) -> None:
    """DEBUG SLEEP blocks Redis for 1 s; open-loop response time must show it, service time must not."""
    spec = workload("kv-cache", 1000).with_preset("ycsb-c")
    client = redis.Redis.from_url(redis_url)

    def stall() -> None:
        client.config_resetstat()
        deadline = time.monotonic() + 60
        while client.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0) < 20:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(2.0)  # past the warm-up, inside the measured window
        client.execute_command("DEBUG", "SLEEP", "1")

    load = LoadProfile(users=4, processes=1, duration=4, warmup=1, target_rate=200, schedule="deterministic")
    thread = after(0, stall)
    record = run_benchmark(RunRequest(engine="redis", url=redis_url, workload=spec, load=load), Progress())
    thread.join()
    read = record.operations["read"]
    assert read.latency_us is not None and read.service_us is not None
    assert read.latency_us.p99 > 500_000, read.latency_us
    assert read.service_us.p99 < 100_000, read.service_us
    assert read.latency_us.max >= 900_000


def test_engine_killed_mid_run_ends_cleanly_with_errors_counted() -> None:
    server = base.start(get_launcher("redis"), port=free_port())
    try:
        load = LoadProfile(users=4, processes=2, duration=4, warmup=0)
        killer = after(0, lambda: _kill_when_busy(server))
        record = run_benchmark(RunRequest(engine="redis", url=server.url, workload=workload("kv-cache", 500), load=load),
                               Progress())
        killer.join()
    finally:
        base.stop(server)
    total_errors = sum(op.errors for op in record.operations.values())
    total_ok = sum(op.count for op in record.operations.values())
    assert total_ok > 0 and total_errors > 0
    assert any("Connection" in sample for op in record.operations.values() for sample in op.errors_sample)
    assert "error" in record.telemetry  # the engine was gone when telemetry was read


def _kill_when_busy(server: base.NativeServer) -> None:
    client = redis.Redis.from_url(server.url)
    deadline = time.monotonic() + 60
    while client.info("stats")["total_commands_processed"] < 3000 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    base.stop(server, timeout_s=5)
