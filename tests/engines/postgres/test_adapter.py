"""PostgreSQL adapter against a real server: the server sees every operation, results are right."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from harness.dataset.generate import RecordFactory, dataset_factories
from harness.engines.calls import Change, Pair, Query, Window
from harness.engines.postgres.adapter import PostgresAdapter
from harness.engines.postgres.statements import build
from harness.engines.registry import create_adapter
from harness.errors import UnsupportedOperation
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.models import FieldSpec, IntField, NativeOp, Operation, OperationKind, TraverseOp, Workload
from harness.spec.suite import LoadProfile
from tests.engines.helpers import ROOT, after, load_all, workload

pytestmark = pytest.mark.postgres
BY_EMAIL, BY_ID = 'WHERE "users"."email"', 'FROM "users" WHERE "id"'
READ_USERTABLE = 'FROM "usertable" WHERE "ycsb_key" ='


def calls(conn: psycopg.Connection[Any], fragment: str) -> int:
    row = conn.execute("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE %s",
                       (f"%{fragment}%",)).fetchone()
    return int(row[0]) if row else 0


def wait_until_reads_flow(conn: psycopg.Connection[Any], fragment: str, timeout_s: float = 60) -> None:
    """Block until the benchmark's reads reach the server (the load phase and start-up are over)."""
    deadline = time.monotonic() + timeout_s
    lowest = calls(conn, fragment)  # cumulative on the server (never reset): count from here
    while (seen := calls(conn, fragment)) < lowest + 20:
        lowest = min(lowest, seen)
        assert time.monotonic() < deadline, "benchmark reads never reached the server"
        time.sleep(0.05)


def test_contract_server_sees_each_operation_and_results_are_right(postgres_url: str) -> None:
    spec = workload("user-accounts", 300)
    adapter = create_adapter("postgres", postgres_url)
    adapter.connect()
    load_all(adapter, spec)
    factory = RecordFactory(spec.dataset.entities[0], spec.dataset.seed)
    ops = {op.name: adapter.bind(op, spec) for op in spec.operations}
    with psycopg.connect(postgres_url, autocommit=True) as check:
        assert check.execute("SELECT count(*) FROM users").fetchone()[0] == 300  # type: ignore[index]
        before = {f: calls(check, f) for f in (BY_EMAIL, BY_ID, "UPDATE \"users\"", "INSERT INTO \"users\"")}
        active = next(i for i in range(300) if factory.value("is_active", i))
        inactive = next(i for i in range(300) if not factory.value("is_active", i))
        assert ops["login"]({"email": factory.value("email", active)}) == 1
        assert ops["login"]({"email": factory.value("email", inactive)}) == 0  # only active users log in
        assert ops["profile"](factory.value("id", 5)) == 1
        assert ops["profile"]("00000000-0000-4000-8000-000000000000") == 0
        new_values = factory.new_values(("last_login", "updated_at"), nonce=1)
        assert ops["touch-login"](Change(factory.value("id", 5), new_values)) == 1
        stored = check.execute("SELECT last_login FROM users WHERE id = %s", (factory.value("id", 5),)).fetchone()
        assert stored is not None and stored[0] == new_values["last_login"]
        assert ops["signup"](factory.record(300)) == 1
        assert check.execute("SELECT count(*) FROM users").fetchone()[0] == 301  # type: ignore[index]
        after_calls = {f: calls(check, f) for f in before}
    assert after_calls[BY_EMAIL] - before[BY_EMAIL] == 2
    assert after_calls[BY_ID] - before[BY_ID] == 2
    assert after_calls["UPDATE \"users\""] - before["UPDATE \"users\""] == 1
    assert after_calls["INSERT INTO \"users\""] - before["INSERT INTO \"users\""] == 1
    assert adapter.settings()["fsync"] == "on"
    adapter.close()


def test_kv_cache_run_produces_a_valid_record_with_telemetry(postgres_url: str) -> None:
    load = LoadProfile(users=4, processes=2, duration=2, warmup=1)
    record = run_and_record(RunRequest(engine="postgres", url=postgres_url, workload=workload("kv-cache", 1000),
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
            wait_until_reads_flow(conn, READ_USERTABLE)
            time.sleep(2.0)  # past the 1 s warm-up: the stall lands inside the measured window
            with conn.transaction():
                conn.execute("LOCK TABLE usertable IN ACCESS EXCLUSIVE MODE")
                conn.execute("SELECT pg_sleep(1)")

    load = LoadProfile(users=4, processes=1, duration=4, warmup=1, target_rate=200, schedule="deterministic")
    stall_thread = after(0, stall)
    record = run_and_record(RunRequest(engine="postgres", url=postgres_url, workload=spec, load=load), Progress())
    stall_thread.join()
    read = record.operations["read"]
    assert read.latency_us is not None and read.service_us is not None
    assert read.count > 500
    assert read.latency_us.p99 > 500_000, read.latency_us  # ops due during the stall waited for it
    assert read.service_us.p99 < 100_000, read.service_us  # only the few in flight were slow to serve
    assert read.latency_us.max >= 900_000


# ---- the workload library: range, aggregate, search, traverse, nested set, plans ----------------


def with_field(spec: Workload, name: str, field: FieldSpec) -> Workload:
    """The workload with one field of its first entity generated differently (denser test data)."""
    entity = spec.dataset.entities[0]
    entity = entity.model_copy(update={"fields": {**entity.fields, name: field}})
    dataset = spec.dataset.model_copy(update={"entities": (entity, *spec.dataset.entities[1:])})
    return spec.model_copy(update={"dataset": dataset})


def fetch(adapter: PostgresAdapter, op: Operation, spec: Workload, argument: Any) -> list[tuple[Any, ...]]:
    """The rows the executor of `op` fetches, for checking them (it only returns their count)."""
    statement = build(op, spec)
    conn = adapter.client
    return conn.execute(statement.query.as_string(conn), statement.parameters(argument)).fetchall()


@pytest.fixture()
def pg(postgres_url: str) -> Iterator[PostgresAdapter]:
    adapter = PostgresAdapter("postgres", postgres_url)
    adapter.connect()
    yield adapter
    adapter.close()


def loaded(adapter: PostgresAdapter, spec: Workload) -> dict[str, list[dict[str, Any]]]:
    """Load the workload; its records, as Python sees them, by entity."""
    load_all(adapter, spec)
    factories = dataset_factories(spec)
    return {e.name: list(factories[e.name].records(0, e.count)) for e in spec.dataset.entities}


def test_audit_log_history_is_the_newest_50_of_one_user_in_order(pg: PostgresAdapter) -> None:
    spec = with_field(workload("audit-log", 1000), "user_id", IntField(type="int", min=1, max=10))
    events = loaded(pg, spec)["events"]
    op = spec.operations[1]
    assert op.name == "user-history"
    newest = sorted((e for e in events if e["user_id"] == 3), key=lambda e: e["created_at"], reverse=True)[:50]
    rows = fetch(pg, op, spec, {"user_id": 3})
    assert [str(r[0]) for r in rows] == [e["id"] for e in newest]
    assert [r[-1] for r in rows] == [e["created_at"] for e in newest]
    assert pg.bind(op, spec)({"user_id": 3}) == 50
    assert "events_idx0_user_id_created_at" in (pg.explain(op, spec, {"user_id": 3}) or "")


def test_document_catalog_range_is_the_category_in_the_price_band_by_price(pg: PostgresAdapter) -> None:
    spec = workload("document-catalog", 2000)
    products = loaded(pg, spec)["products"]
    ops = {op.name: op for op in spec.operations}
    band = Window({"category": "garden"}, 200.0, 250.0)
    expected = sorted((p for p in products if p["category"] == "garden" and 200 <= p["price"] <= 250),
                      key=lambda p: p["price"])
    assert len(expected) > 20  # more than one page: the first 20 by price
    rows = fetch(pg, ops["browse"], spec, band)
    assert rows == [(p["sku"], p["name"], p["price"]) for p in expected[:20]]
    with psycopg.connect(pg.url, autocommit=True) as check:
        before = calls(check, '"products"."price" BETWEEN')
        assert pg.bind(ops["browse"], spec)(band) == 20
        assert calls(check, '"products"."price" BETWEEN') == before + 1
    plan = pg.explain(ops["browse"], spec, band) or ""
    assert "products_idx0_category_price" in plan and "Seq Scan" not in plan, plan


def test_nested_set_changes_one_key_of_the_json_field(pg: PostgresAdapter) -> None:
    spec = workload("document-catalog", 200)
    products = loaded(pg, spec)["products"]
    op = next(op for op in spec.operations if op.name == "set-attribute")
    sku = products[7]["sku"]
    assert pg.bind(op, spec)(Change(sku, {"attributes.k1": "lavender"})) == 1
    with psycopg.connect(pg.url, autocommit=True) as check:
        stored = check.execute("SELECT attributes FROM products WHERE sku = %s", (sku,)).fetchone()
        assert stored is not None
        assert stored[0] == {**json.loads(products[7]["attributes"]), "k1": "lavender"}
        add = next(op for op in spec.operations if op.kind is OperationKind.INSERT)
        plans = [pg.explain(op, spec, Change(sku, {"attributes.k1": "rose"})),
                 pg.explain(add, spec, products[0] | {"sku": "sku-new"})]
        assert all(plan and "Execution Time" in plan for plan in plans)
        assert check.execute("SELECT attributes->>'k1', (SELECT count(*) FROM products) FROM products WHERE sku = %s",
                             (sku,)).fetchone() == ("lavender", 200)  # explained writes were rolled back
        assert pg.explain(op, spec, Change(sku, {"attributes.k1": "rose"}))  # and left no prepared statement behind


def test_metrics_aggregate_is_the_per_minute_mean_per_host(pg: PostgresAdapter) -> None:
    spec = workload("metrics-timeseries", 8000)  # 20 hosts x 400 steps of 10 s
    points = loaded(pg, spec)["metrics"]
    ops = {op.name: op for op in spec.operations}
    end = points[-1]["ts"]
    window = Window({}, end - timedelta(seconds=3600), end)
    sums: dict[tuple[str, datetime], list[float]] = defaultdict(list)
    for p in points:
        if window.low <= p["ts"] <= end:
            sums[(p["host"], p["ts"].replace(second=0))].append(p["cpu"])
    expected = {k: sum(v) / len(v) for k, v in sums.items()}
    rows = fetch(pg, ops["hourly-mean-per-host"], spec, window)
    assert {(host, bucket): pytest.approx(mean) for host, bucket, mean in rows} == expected
    assert [(h, b) for h, b, _ in rows] == sorted(expected)
    assert pg.bind(ops["hourly-mean-per-host"], spec)(window) == len(expected) == 20 * 61

    series = window._replace(match={"host": "host-07"})
    wanted = [p for p in points if p["host"] == "host-07" and window.low <= p["ts"] <= end]
    rows = fetch(pg, ops["series-last-hour"], spec, series)
    assert [(r[0], r[2], r[3]) for r in rows] == [(p["id"], p["ts"], p["cpu"]) for p in wanted]
    assert "Index Scan" in (pg.explain(ops["series-last-hour"], spec, series) or "")


def test_search_returns_only_documents_with_a_term_best_first(pg: PostgresAdapter) -> None:
    spec = workload("product-search", 2000)
    docs = loaded(pg, spec)["catalog"]
    ops = {op.name: op for op in spec.operations}

    def words(doc: dict[str, Any]) -> list[str]:
        return f"{doc['title']} {doc['description']}".split()

    frequency = Counter(w for d in docs for w in set(words(d)))
    term = next(w for w, n in frequency.most_common() if 15 <= n <= 60)
    by_relevance = sorted((d for d in docs if term in words(d)), key=lambda d: (-words(d).count(term), d["id"]))
    rows = fetch(pg, ops["search"], spec, Query((term,), {}))
    assert [r[0] for r in rows] == [d["id"] for d in by_relevance[:10]]  # ts_rank grows with occurrences

    rare = next(w for w, n in frequency.items() if n == 1)
    hits = fetch(pg, ops["search"], spec, Query((rare, term), {}))
    assert all(rare in words(docs[r[0]]) or term in words(docs[r[0]]) for r in hits) and len(hits) == 10
    assert pg.bind(ops["search"], spec)(Query(("zzzz", rare), {})) == 1
    assert pg.bind(ops["search"], spec)(Query(("zzzz",), {})) == 0

    category = docs[by_relevance[0]["id"]]["category"]
    in_category = [d["id"] for d in by_relevance if d["category"] == category][:10]
    rows = fetch(pg, ops["search-in-category"], spec, Query((term,), {"category": category}))
    assert [r[0] for r in rows] == in_category


def test_social_graph_hops_mutual_and_shortest_path_on_a_tiny_graph(pg: PostgresAdapter) -> None:
    spec = workload("social-graph", 8)
    pg.prepare(spec)
    person, follows = spec.dataset.entities
    edges = [(1, 2), (1, 2), (1, 3), (1, 1), (2, 4), (2, 1), (3, 4), (3, 5), (3, 1), (4, 1), (5, 6), (6, 7)]
    pg.load(spec, person, [{"id": n, "name": f"p{n}"} for n in range(1, 9)])
    pg.load(spec, follows, [{"id": i, "src": s, "dst": d} for i, (s, d) in enumerate(edges)])
    ops = {op.name: op for op in spec.operations}

    def reached(op: Operation, key: int) -> set[Any]:
        return {r[0] for r in fetch(pg, op, spec, key)}

    two_hop = ops["friends-of-friends"]
    assert isinstance(two_hop, TraverseOp)
    assert reached(two_hop, 1) == {2, 3, 4, 5}  # 1->2->4, 1->3->4, 1->3->5, and via the self-follow 1->1->{2,3}
    assert reached(two_hop, 3) == {1, 2, 6}  # 3->4->1, 3->5->6, 3->1->{1,2,3}; never 3 itself
    assert reached(two_hop.model_copy(update={"hops": 1}), 1) == {2, 3}
    assert reached(two_hop.model_copy(update={"project": ("name",)}), 1) == {"p2", "p3", "p4", "p5"}
    assert pg.bind(two_hop.model_copy(update={"limit": 2}), spec)(1) == 2
    assert pg.bind(two_hop, spec)(7) == 0
    assert reached(ops["mutual-follows"], 1) == {2, 3}  # the self-follow is not a mutual follow
    assert pg.bind(ops["mutual-follows"], spec)(1) == 2
    assert pg.bind(ops["mutual-follows"], spec)(5) == 0

    path = pg.bind(ops["connection-path"], spec)  # at most 4 hops
    assert [path(Pair(1, to)) for to in (2, 4, 5, 6, 7, 8)] == [1, 2, 2, 3, 4, 0]
    assert path(Pair(7, 1)) == 0  # no way back
    assert pg.bind(ops["connection-path"].model_copy(update={"hops": 3}), spec)(Pair(1, 7)) == 0
    assert "Recursive Union" in (pg.explain(two_hop, spec, 1) or "")


def test_ttl_is_refused_with_the_reason(postgres_url: str) -> None:
    spec = workload("session-cache", 100)
    with pytest.raises(UnsupportedOperation, match="no record expiry"):
        run_and_record(RunRequest(engine="postgres", url=postgres_url, workload=spec,
                                 load=LoadProfile(users=1, duration=1, warmup=0)), Progress())
    adapter = PostgresAdapter("postgres", postgres_url)
    assert {op.name for op in spec.operations if adapter.unsupported_reason(op, spec)} == {"touch", "create"}
    assert all(adapter.unsupported_reason(op, other) is None
               for other in map(lambda name: workload(name, 100), ("audit-log", "document-catalog", "product-search",
                                                                  "metrics-timeseries", "social-graph"))
               for op in other.operations)


def test_run_record_carries_the_plan_of_each_operation(postgres_url: str) -> None:
    load = LoadProfile(users=2, processes=1, duration=1, warmup=0)
    record = run_and_record(RunRequest(engine="postgres", url=postgres_url, workload=workload("document-catalog", 2000),
                                      load=load), Progress())
    assert record.complete and all(op.count > 0 and op.errors == 0 for op in record.operations.values())
    plans = record.telemetry["plans"]
    assert set(plans) == set(record.operations)
    assert "products_idx0_category_price" in plans["browse"]
    assert "prepared statement" in plans["view"] and "products_pkey" in plans["view"]
    assert plans["restock"].startswith("Update on products")


def test_the_server_gets_the_sql_the_golden_tests_show(pg: PostgresAdapter) -> None:
    """statements are rendered without a connection in test_statements.py; a live one renders them the same."""
    for path in sorted((ROOT / "workloads").glob("*.yaml")):
        spec = load_workload(path)
        for op in spec.operations:
            query = build(op, spec).query
            assert query.as_string(pg.client) == query.as_string(None), (spec.name, op.name)


def test_native_statements_send_only_the_parameters_they_name(pg: PostgresAdapter) -> None:
    """A native statement with no placeholder, or naming only some params, runs: the server is sent what it names."""
    spec = load_workload(ROOT / "workloads" / "kv-cache.yaml")
    load_all(pg, spec)
    natives = {
        "constant": ("SELECT 1 UNION ALL SELECT 2", 2),
        "by-key": ('SELECT 1 FROM usertable WHERE ycsb_key = %(key)s', 1),
    }
    for name, (text, rows) in natives.items():
        op = NativeOp(name=name, kind=OperationKind.NATIVE, entity="usertable", weight=1, statements={"postgres": text})
        execute = pg.bind(op, spec)
        key = dataset_factories(spec)["usertable"].key_of(3)
        assert execute({"key": key}) == rows, name
    with pg.client.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'dbarena_constant%'")
        assert cur.fetchone() == (1,)  # prepared once, with no parameter
