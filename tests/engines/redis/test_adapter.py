"""Redis adapter against a real server: INFO commandstats proves each operation reached it."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import redis

from harness.dataset.generate import RecordFactory
from harness.engines.calls import Change, Pair, Window
from harness.engines.redis.adapter import RedisAdapter
from harness.engines.registry import create_adapter
from harness.errors import EngineUnavailable, HarnessBug, UnsupportedOperation
from harness.provision.native import base
from harness.provision.native.registry import get_launcher
from harness.provision.ports import free_port
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.models import DeleteOp, Index, NativeOp, OperationKind, RangeOp, SortSpec, UpdateOp
from harness.spec.suite import LoadProfile
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
    ops = {op.name: adapter.bind(op, spec) for op in spec.operations}
    check = redis.Redis.from_url(redis_url)
    check.config_resetstat()
    active = next(i for i in range(300) if factory.value("is_active", i))
    inactive = next(i for i in range(300) if not factory.value("is_active", i))
    assert ops["login"]({"email": factory.value("email", active)}) == 1
    assert ops["login"]({"email": factory.value("email", inactive)}) == 0
    assert ops["profile"](factory.value("id", 5)) == 1
    assert ops["profile"]("missing") == 0
    new_values = factory.new_values(("last_login", "updated_at"), nonce=1)
    assert ops["touch-login"](Change(factory.value("id", 5), new_values)) == 1
    stored = check.hget(f"dbarena:users:{factory.value('id', 5)}", "last_login")
    assert stored is not None and stored.decode() == new_values["last_login"].isoformat()
    new_user = factory.record(300)
    assert ops["signup"](new_user) == 1
    assert check.hget("dbarena:users:idx:email", new_user["email"]) == new_user["id"].encode()
    calls = command_calls(check)
    assert calls["hget"] == 2 + 2  # two logins' index lookups, plus the two checks above
    assert calls["hgetall"] >= 1 + 2  # one login found a user; two profile reads
    assert calls["hset"] >= 2  # the update, the signup (record + index entries)
    adapter.close()


def test_kv_cache_run_produces_a_valid_record_with_telemetry(redis_url: str) -> None:
    load = LoadProfile(users=4, processes=2, duration=2, warmup=1)
    record = run_and_record(RunRequest(engine="redis", url=redis_url, workload=workload("kv-cache", 1000), load=load),
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
    record = run_and_record(RunRequest(engine="redis", url=redis_url, workload=spec, load=load), Progress())
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
        record = run_and_record(RunRequest(engine="redis", url=server.url, workload=workload("kv-cache", 500), load=load),
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


# ---- the workload library: TTL, sorted-set indexes, traversals, refusals --------------------------


def connected(url: str) -> Any:
    adapter = create_adapter("redis", url)
    adapter.connect()
    return adapter


def stats_since_reset(client: Any) -> dict[str, int]:
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in client.info("commandstats").items()}


def test_ttl_insert_expires_and_touch_extends_it_without_resurrecting_sessions(redis_url: str) -> None:
    spec = workload("session-cache", 50)
    adapter = connected(redis_url)
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    ops = {op.name: op for op in spec.operations}
    create = adapter.bind(ops["create"].model_copy(update={"ttl_s": 1.0}), spec)
    touch = adapter.bind(ops["touch"].model_copy(update={"ttl_s": 2.0}), spec)
    get, logout = adapter.bind(ops["get"], spec), adapter.bind(ops["logout"], spec)
    check = redis.Redis.from_url(redis_url)
    check.config_resetstat()
    short, touched, loaded = factory.record(50), factory.record(51), factory.value("sid", 3)
    assert create(short) == 1 and create(touched) == 1
    assert 0 < check.pttl(f"dbarena:sessions:{short['sid']}") <= 1000
    seen = factory.new_values(("last_seen",), nonce=1)
    assert touch(Change(touched["sid"], seen)) == 1
    assert 1000 < check.pttl(f"dbarena:sessions:{touched['sid']}") <= 2000
    assert check.hget(f"dbarena:sessions:{touched['sid']}", "last_seen") == seen["last_seen"].isoformat().encode()
    assert check.ttl(f"dbarena:sessions:{loaded}") == -1  # loaded sessions do not expire
    assert logout(loaded) == 1
    assert touch(Change(loaded, seen)) == 0 and not check.exists(f"dbarena:sessions:{loaded}")  # no partial ghost
    time.sleep(1.3)
    assert get(short["sid"]) == 0 and not check.exists(f"dbarena:sessions:{short['sid']}")
    assert get(touched["sid"]) == 1  # the touch moved its expiry to 2 s
    time.sleep(1.0)
    assert get(touched["sid"]) == 0
    calls = stats_since_reset(check)
    assert calls["pexpire"] >= 3 and calls["evalsha"] >= 2 and calls["hset"] >= 3
    adapter.close()


def test_audit_log_history_is_the_newest_50_of_the_user_in_order(redis_url: str) -> None:
    spec = workload("audit-log", 500)
    adapter = connected(redis_url)
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    ops = {op.name: op for op in spec.operations}
    user = factory.value("user_id", 0)
    base = datetime(2026, 3, 1, tzinfo=timezone.utc)
    added = [factory.record(500 + n) | {"user_id": user, "created_at": base + timedelta(seconds=13 * n)}
             for n in range(70)]
    added += [factory.record(600 + n) | {"resource_type": "invoice", "resource_id": 77_777} for n in range(3)]
    append = adapter.bind(ops["append"], spec)
    for event in added:
        assert append(event) == 1
    events = [factory.record(i) for i in range(500)] + added
    check = redis.Redis.from_url(redis_url)
    check.config_resetstat()

    history = adapter.finder(ops["user-history"], spec)
    newest = sorted((e for e in events if e["user_id"] == user), key=lambda e: e["created_at"], reverse=True)
    assert [r[b"id"].decode() for r in history({"user_id": user})] == [e["id"] for e in newest[:50]]
    other = factory.value("user_id", 1)
    theirs = sorted((e for e in events if e["user_id"] == other), key=lambda e: e["created_at"], reverse=True)
    assert [r[b"id"].decode() for r in history({"user_id": other})] == [e["id"] for e in theirs]
    assert adapter.bind(ops["user-history"], spec)({"user_id": user}) == 50

    lookup = adapter.finder(ops["resource-lookup"], spec)
    wanted = {"resource_type": "invoice", "resource_id": 77_777}
    assert {r[b"id"].decode() for r in lookup(wanted)} == {e["id"] for e in added[70:]}
    first = events[0]
    same = {e["id"] for e in events if (e["resource_type"], e["resource_id"]) == (first["resource_type"], first["resource_id"])}
    assert {r[b"id"].decode() for r in lookup({f: first[f] for f in ("resource_type", "resource_id")})} == same

    # an update of the scored field moves the record in its sorted set; a delete removes it
    touch = adapter.bind(UpdateOp(name="retime", kind=OperationKind.UPDATE, entity="events", weight=1,
                                  set=("created_at",)), spec)
    oldest = newest[-1]
    assert touch(Change(oldest["id"], {"created_at": base + timedelta(days=30)})) == 1
    assert history({"user_id": user})[0][b"id"].decode() == oldest["id"]
    drop = adapter.bind(DeleteOp(name="drop", kind=OperationKind.DELETE, entity="events", weight=1), spec)
    assert drop(oldest["id"]) == 1
    assert check.zscore(f"dbarena:events:z:user_id:{user}", oldest["id"]) is None
    assert history({"user_id": user})[0][b"id"].decode() == newest[0]["id"]
    calls = stats_since_reset(check)
    assert calls["zrevrange"] >= 5 and calls["zrangebyscore"] >= 2 and calls["zrem"] >= 2 and calls["zadd"] >= 1
    adapter.close()


def test_document_catalog_browse_returns_exactly_the_products_in_the_price_band_by_price(redis_url: str) -> None:
    spec = workload("document-catalog", 600)
    adapter = connected(redis_url)
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    products = [factory.record(i) for i in range(600)]
    ops = {op.name: op for op in spec.operations}
    check = redis.Redis.from_url(redis_url)
    check.config_resetstat()

    def expected(category: str, lo: float, hi: float, descending: bool = False) -> list[tuple[str, float]]:
        band = [p for p in products if p["category"] == category and lo <= p["price"] <= hi]
        ordered = sorted(band, key=lambda p: (p["price"], p["sku"]), reverse=descending)
        return [(p["sku"], p["price"]) for p in ordered[:20]]

    def got(rows: list[dict[bytes, Any]]) -> list[tuple[str, float]]:
        assert all(set(r) == {b"sku", b"name", b"price"} for r in rows)  # the projection
        return [(r[b"sku"].decode(), float(r[b"price"])) for r in rows]

    browse = adapter.finder(ops["browse"], spec)
    browse_desc = adapter.finder(ops["browse"].model_copy(update={"sort": SortSpec(field="price", order="desc")}), spec)
    for product in products[:10]:
        category, price = {"category": product["category"]}, product["price"]
        band = expected(product["category"], price - 50, price)
        assert got(browse(Window(category, price - 50, price))) == band
        assert len(expected(product["category"], 0, 500)) == 20  # a band wider than the limit
        assert got(browse(Window(category, 0, 500))) == expected(product["category"], 0, 500)
        assert got(browse_desc(Window(category, 0, 500))) == expected(product["category"], 0, 500, True)

    sku = products[4]["sku"]
    set_attribute = adapter.bind(ops["set-attribute"], spec)
    assert set_attribute(Change(sku, {"attributes.k1": "mauve"})) == 1
    before = json.loads(products[4]["attributes"])
    assert json.loads(check.hget(f"dbarena:products:{sku}", "attributes")) == before | {"k1": "mauve"}
    assert set_attribute(Change("sku-missing", {"attributes.k1": "x"})) == 0
    assert not check.exists("dbarena:products:sku-missing")
    assert adapter.bind(ops["restock"], spec)(Change(sku, {"stock": 3})) == 1
    assert check.hget(f"dbarena:products:{sku}", "stock") == b"3"

    reprice = adapter.bind(UpdateOp(name="reprice", kind=OperationKind.UPDATE, entity="products", weight=1,
                                    set=("category", "price")), spec)
    assert reprice(Change(sku, {"category": "pets", "price": 12.5})) == 1
    assert check.zscore(f"dbarena:products:z:category:{products[4]['category']}", sku) is None
    assert check.zscore("dbarena:products:z:category:pets", sku) == 12.5
    calls = stats_since_reset(check)
    assert calls["zrangebyscore"] >= 20 and calls["zrevrangebyscore"] >= 10 and calls["hmget"] >= 20
    assert calls["evalsha"] >= 3
    adapter.close()


def test_metrics_series_range_takes_datetime_bounds_as_epoch_scores(redis_url: str) -> None:
    spec = workload("metrics-timeseries", 2000)
    adapter = connected(redis_url)
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    points = [factory.record(i) for i in range(2000)]
    op = next(op for op in spec.operations if op.name == "series-last-hour")
    assert isinstance(op, RangeOp)
    series, first_50 = adapter.finder(op, spec), adapter.finder(op.model_copy(update={"limit": 50}), spec)
    end = points[1500]["ts"]  # 100 points per host, 10 s apart: the hour holds the first 76 of host-03
    host = {"host": "host-03"}
    wanted = [p["id"] for p in sorted(points, key=lambda p: p["ts"])
              if p["host"] == "host-03" and end - timedelta(minutes=10) <= p["ts"] <= end]
    assert len(wanted) == 61
    assert [int(r[b"id"]) for r in series(Window(host, end - timedelta(minutes=10), end))] == wanted
    hour = [p["id"] for p in points if p["host"] == "host-03" and p["ts"] <= end]
    assert [int(r[b"id"]) for r in first_50(Window(host, end - timedelta(hours=1), end))] == hour[:50]
    adapter.close()


GRAPH = [(0, 1), (0, 6), (1, 2), (1, 0), (2, 3), (2, 1), (3, 4), (4, 5), (5, 8), (6, 2), (6, 0), (6, 1), (7, 7)]


def python_hops(start: int, hops: int) -> set[int]:
    nodes = {start}
    for _ in range(hops):
        nodes = {b for a, b in GRAPH if a in nodes}
    return nodes - {start}


def python_distance(start: int, target: int, limit: int) -> int:
    seen, frontier = {start}, {start}
    for depth in range(1, limit + 1):
        frontier = {b for a, b in GRAPH if a in frontier} - seen
        if target in frontier:
            return depth
        seen |= frontier
    return 0


def test_social_graph_traversals_on_a_tiny_graph_are_exactly_right(redis_url: str) -> None:
    spec = workload("social-graph", 10)
    adapter = connected(redis_url)
    adapter.prepare(spec)
    person = spec.dataset.entities[0]
    adapter.load(spec, person, [{"id": n, "name": f"p{n}"} for n in range(10)])
    ops = {op.name: op for op in spec.operations}
    follow = adapter.bind(ops["follow"], spec)
    for n, (src, dst) in enumerate(GRAPH):
        assert follow({"id": n, "src": src, "dst": dst}) == 1
    check = redis.Redis.from_url(redis_url)
    assert check.smembers("dbarena:follows:out:0") == {b"1", b"6"}
    assert check.smembers("dbarena:follows:in:2") == {b"1", b"6"}
    check.config_resetstat()

    two_hops = adapter.reachable(ops["friends-of-friends"])
    three_hops = adapter.reachable(ops["friends-of-friends"].model_copy(update={"hops": 3}))
    mutual = adapter.reachable(ops["mutual-follows"])
    path = adapter.bind(ops["connection-path"], spec)
    for node in range(10):
        assert {int(n) for n in two_hops(node)} == python_hops(node, 2), node
        assert {int(n) for n in three_hops(node)} == python_hops(node, 3), node
        assert {int(n) for n in mutual(node)} == {b for a, b in GRAPH if a == node != b and (b, node) in GRAPH}, node
        for target in range(10):
            assert path(Pair(node, target)) == python_distance(node, target, 4), (node, target)
    assert python_hops(0, 2) == {0, 1, 2} - {0} and python_distance(0, 4, 4) == 4 and python_distance(0, 5, 4) == 0
    assert mutual(7) == set()  # 7 follows only itself: a self-follow is no mutual follow (PostgreSQL, Neo4j)
    assert adapter.bind(ops["friends-of-friends"].model_copy(update={"limit": 1}), spec)(0) == 1
    calls = stats_since_reset(check)
    assert calls["smembers"] >= 20 and calls["sunion"] >= 100 and calls["sinter"] >= 10
    adapter.close()


def test_aggregate_search_and_scan_are_refused_up_front_with_reasons(redis_url: str) -> None:
    adapter = create_adapter("redis", redis_url)
    metrics = workload("metrics-timeseries", 100)
    reasons = {op.name: adapter.unsupported_reason(op, metrics) for op in metrics.operations}
    assert reasons["ingest"] is None and reasons["series-last-hour"] is None
    assert "RedisTimeSeries" in str(reasons["hourly-mean-per-host"])
    products = workload("product-search", 100)
    assert "RediSearch" in str(adapter.unsupported_reason(products.operations[0], products))
    kv = workload("kv-cache", 100)
    scan = next(op for op in kv.operations if op.kind is OperationKind.SCAN)
    assert "key order" in str(adapter.unsupported_reason(scan, kv))
    with pytest.raises(UnsupportedOperation, match="RedisTimeSeries"):
        run_and_record(RunRequest(engine="redis", url=redis_url, workload=metrics, load=LoadProfile(duration=1)), Progress())


def test_a_sorted_find_without_a_sorted_set_index_is_refused_before_loading(redis_url: str) -> None:
    spec = workload("audit-log", 100)
    events = spec.dataset.entities[0]
    bare = events.model_copy(update={"indexes": (Index(fields=("resource_type", "resource_id")),)})
    unindexed = spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"entities": (bare,)})})
    adapter = connected(redis_url)
    history = next(op for op in spec.operations if op.name == "user-history")
    assert "needs a declared index (user_id, created_at)" in str(adapter.unsupported_reason(history, unindexed))
    check = redis.Redis.from_url(redis_url)
    check.set("dbarena:events:sentinel", "kept")
    with pytest.raises(UnsupportedOperation, match=r"user-history \(find\): .*needs a declared index \(user_id, created_at\)"):
        run_and_record(RunRequest(engine="redis", url=redis_url, workload=unindexed, load=LoadProfile(duration=1)),
                       Progress())
    assert check.get("dbarena:events:sentinel") == b"kept"  # refused before anything was dropped
    with pytest.raises(UnsupportedOperation, match="sorted set"):
        adapter.bind(history, unindexed)
    filtered = history.model_copy(update={"filter": {"action": "login"}})
    with pytest.raises(UnsupportedOperation, match="does not cover the equality on action"):
        adapter.bind(filtered, spec)
    check.delete("dbarena:events:sentinel")
    adapter.close()


def test_a_native_command_runs_with_the_key_of_its_params(redis_url: str) -> None:
    spec = workload("kv-cache", 50)
    adapter = connected(redis_url)
    load_all(adapter, spec)
    key = RecordFactory(spec.dataset.entities[0], spec.dataset.seed).value("ycsb_key", 3)
    field = NativeOp(name="field", kind=OperationKind.NATIVE, entity="usertable", weight=1,
                     statements={"redis": "HGET dbarena:usertable:{key} field0"})
    whole = NativeOp(name="whole", kind=OperationKind.NATIVE, entity="usertable", weight=1,
                     statements={"redis": "HGETALL dbarena:usertable:{key}"})
    check = redis.Redis.from_url(redis_url)
    check.config_resetstat()
    assert adapter.bind(field, spec)({"key": key}) == 1
    assert adapter.bind(field, spec)({"key": "missing"}) == 0
    assert adapter.bind(whole, spec)({"key": key}) == 11  # a map reply: its fields
    calls = stats_since_reset(check)
    assert calls["hget"] == 2 and calls["hgetall"] == 1
    adapter.close()


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    adapter = create_adapter("redis", f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    assert isinstance(adapter, RedisAdapter)
    with pytest.raises(EngineUnavailable, match=r"redis at redis://:\*\*\*@127\.0\.0\.1:\d+/0 is not reachable") as caught:
        adapter.connect()
    assert "hunter2" not in str(caught.value)
    with pytest.raises(HarnessBug, match="before connect"):
        adapter.bind(workload("kv-cache", 10).operations[0], workload("kv-cache", 10))


@pytest.mark.parametrize(("name", "count", "commands"), [
    ("session-cache", 500, {"get": "hgetall", "touch": "evalsha", "create": "pexpire", "logout": "del"}),
    ("audit-log", 1000, {"append": "zadd", "user-history": "zrevrange", "resource-lookup": "zrangebyscore"}),
    ("document-catalog", 500, {"browse": "zrangebyscore", "set-attribute": "evalsha"}),
    ("social-graph", 300, {"friends-of-friends": "smembers", "connection-path": "sunion", "mutual-follows": "sinter",
                          "follow": "sadd"}),
])
def test_library_workload_runs_end_to_end(redis_url: str, name: str, count: int, commands: dict[str, str]) -> None:
    load = LoadProfile(users=2, processes=1, duration=1, warmup=0)
    record = run_and_record(RunRequest(engine="redis", url=redis_url, workload=workload(name, count), load=load),
                           Progress())
    assert record.complete, record.invalid_reasons
    for op_name, op in record.operations.items():
        assert op.count > 0 and op.errors == 0, (op_name, op.errors_sample)
    calls = record.telemetry["commandstats"]
    assert record.telemetry["commandstats_since"] == "end of load"
    for op_name, command in commands.items():  # counted from the end of the load: the run's own commands
        assert calls[command]["calls"] >= record.operations[op_name].count, (op_name, command)
