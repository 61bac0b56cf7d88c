"""Neo4j adapter against a real server: the query collector and a second session prove each call.

Neo4j 5 collects per-statement invocation counts (`db.stats`, section QUERIES); the tests read
them, and read back what was written, through a session of their own. Graph traversals are
checked on a tiny graph whose answers are computed here.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from neo4j import Driver, GraphDatabase, Session
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from harness.dataset.generate import RecordFactory, dataset_factories
from harness.engines.calls import Change, Pair, Query, Scan, Window
from harness.engines.neo4j.adapter import Neo4jAdapter, split_auth
from harness.engines.neo4j.statements import build
from harness.engines.registry import create_adapter
from harness.engines.updates import bind_writes
from harness.errors import EngineUnavailable, HarnessBug, UnsupportedOperation
from harness.provision.ports import free_port
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.models import (
    DeleteOp,
    NativeOp,
    Operation,
    OperationKind,
    ReadOp,
    SearchOp,
    TraverseOp,
    UpdateOp,
    single_field_updates,
)
from harness.spec.suite import LoadProfile
from tests.engines.helpers import load_all, workload

pytestmark = pytest.mark.neo4j

Edge = tuple[int, int]
# A tiny follow graph: a 0-1 and 1-2 mutual pair, a cycle 0->5->6->0, a chain to 4, and an
# island 7<->8 where 7 also follows itself.
TINY_EDGES: tuple[Edge, ...] = ((0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 4), (0, 5), (5, 2), (5, 6), (6, 0),
                                (7, 7), (7, 8), (8, 7))
TINY_NODES = 10  # node 9 has no edges at all


@pytest.fixture()
def check(neo4j_url: str) -> Iterator[Session]:
    """A session of its own, for reading back what the adapter wrote and the server's counters."""
    url, auth = split_auth(neo4j_url)
    driver: Driver = GraphDatabase.driver(url, auth=auth)
    with driver.session() as session:
        status = session.run("CALL db.stats.status() YIELD section, status WHERE section = 'QUERIES' RETURN status")
        if status.single(strict=True)[0] != "collecting":
            session.run("CALL db.stats.collect('QUERIES')").consume()
        yield session
    driver.close()


@pytest.fixture()
def adapter(neo4j_url: str) -> Iterator[Neo4jAdapter]:
    adapter = Neo4jAdapter("neo4j", neo4j_url)
    adapter.connect()
    yield adapter
    adapter.close()


def value(session: Session, query: str, **params: Any) -> Any:
    return session.run(query, params).single(strict=True)[0]  # type: ignore[arg-type]


def calls(session: Session) -> dict[str, int]:
    """Invocations per statement text seen by the server's query collector."""
    rows = session.run("CALL db.stats.retrieve('QUERIES') YIELD data RETURN data")
    return {r["data"]["query"]: r["data"]["invocationSummary"]["invocationCount"] for r in rows}


def assert_calls(session: Session, before: dict[str, int], expected: dict[str, int]) -> None:
    """The server ran each statement exactly as often as expected (the collector may lag a little)."""
    deadline = time.monotonic() + 5
    while True:
        now = calls(session)
        seen = {q: now.get(q, 0) - before.get(q, 0) for q in expected}
        if seen == expected or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert seen == expected


def test_contract_kv_cache_each_operation_reaches_the_server(adapter: Neo4jAdapter, check: Session) -> None:
    spec = workload("kv-cache", 300)
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    assert value(check, "MATCH (n:usertable) RETURN count(n)") == 300
    ops: dict[str, Operation] = {op.name: op for op in spec.operations}
    ops["remove"] = DeleteOp(name="remove", kind=OperationKind.DELETE, entity="usertable", weight=1)
    run = {name: bind_writes(adapter, op, spec) for name, op in ops.items()}
    text = {name: build(op, spec).cypher for name, op in ops.items()}
    update = ops["update"]
    assert isinstance(update, UpdateOp)
    text["update"] = build(single_field_updates(update)["field0"], spec).cypher  # write: one: a call sets one field
    before = calls(check)

    key = factory.key_of(5)
    assert run["read"](key) == 1
    assert run["read"]("user-missing") == 0
    new = factory.new_values(("field0",), nonce=3)
    assert run["update"](Change(key, new)) == 1
    assert value(check, "MATCH (n:usertable {ycsb_key: $k}) RETURN n.field0", k=key) == new["field0"]
    assert run["read-modify-write"](Change(factory.key_of(6), factory.new_values(("field0",), nonce=4))) == 1
    assert run["update"](Change("user-missing", new)) == 0
    record = factory.record(300)
    assert run["insert"](record) == 1
    stored = value(check, "MATCH (n:usertable {ycsb_key: $k}) RETURN properties(n)", k=record[entity.key])
    assert stored == record
    keys = sorted(factory.key_of(i) for i in range(301))
    start = keys[120]
    assert run["scan"](Scan(start, 100)) == 100  # 100 records from `start` on, in key order
    assert run["scan"](Scan(start, 7)) == 7  # the length the call asks for
    scanned = [r["record"]["ycsb_key"] for r in check.run(text["scan"], {"key": start, "length": 100})]
    assert scanned == keys[120:220]
    assert run["remove"](key) == 1
    assert run["remove"](key) == 0
    assert value(check, "MATCH (n:usertable) RETURN count(n)") == 300
    plan = adapter.explain(ops["insert"], spec, factory.record(400))
    assert plan is not None and "Create" in plan  # profiled, then rolled back:
    assert value(check, "MATCH (n:usertable) RETURN count(n)") == 300
    assert "NodeUniqueIndexSeek" in (adapter.explain(ops["read"], spec, factory.key_of(7)) or "")
    assert_calls(check, before, {text["read"]: 2, text["update"]: 3, text["insert"]: 1, text["scan"]: 3,
                                 text["remove"]: 2})


def test_contract_user_accounts_find_types_and_constraints(adapter: Neo4jAdapter, check: Session) -> None:
    spec = workload("user-accounts", 300)
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    ops = {op.name: op for op in spec.operations}
    run = {name: adapter.bind(op, spec) for name, op in ops.items()}
    before = calls(check)

    active = next(i for i in range(300) if factory.value("is_active", i))
    inactive = next(i for i in range(300) if not factory.value("is_active", i))
    assert run["login"]({"email": factory.value("email", active)}) == 1
    assert run["login"]({"email": factory.value("email", inactive)}) == 0  # only active users log in
    login = build(ops["login"], spec)
    found = check.run(login.cypher, login.parameters({"email": factory.value("email", active)})).single(strict=True)
    assert found["record"] == {"id": factory.value("id", active), "email": factory.value("email", active),
                               "is_active": True}  # the projection, nothing more
    assert run["profile"](factory.value("id", 5)) == 1
    new = factory.new_values(("last_login", "updated_at"), nonce=1)
    assert run["touch-login"](Change(factory.value("id", 5), new)) == 1
    stored = value(check, "MATCH (n:users {id: $id}) RETURN n.last_login", id=factory.value("id", 5))
    assert stored.to_native() == new["last_login"]  # a zoned datetime, not a string
    record = factory.record(300)
    assert run["signup"](record) == 1
    stored = value(check, "MATCH (n:users {id: $id}) RETURN properties(n)", id=record["id"])
    assert stored["metadata"] == record["metadata"]  # JSON kept as its string (properties cannot be maps)
    assert stored["created_at"].to_native() == record["created_at"]
    with pytest.raises(Exception, match="already exists"):
        run["signup"](factory.record(5))  # the key is a uniqueness constraint
    with pytest.raises(Exception, match="already exists"):
        run["signup"]({**factory.record(301), "email": factory.value("email", 9)})  # declared unique index
    indexes = {tuple(r["properties"]) for r in check.run("SHOW CONSTRAINTS YIELD labelsOrTypes, properties "
                                                         "WHERE labelsOrTypes = ['users'] RETURN properties")}
    assert indexes == {("id",), ("email",), ("username",)}
    # the collector counts completed statements: the two refused signups are not among them
    assert_calls(check, before, {build(ops[name], spec).cypher: n
                                 for name, n in (("login", 3), ("profile", 1), ("touch-login", 1), ("signup", 1))})


def walks(edges: tuple[Edge, ...], start: int, hops: int) -> set[int]:
    """Nodes at the end of a path of exactly `hops` edges from `start`, no edge used twice (Cypher's rule)."""
    ends: set[int] = set()

    def step(node: int, used: frozenset[int], left: int) -> None:
        if left == 0:
            ends.add(node)
            return
        for i, (src, dst) in enumerate(edges):
            if src == node and i not in used:
                step(dst, used | {i}, left - 1)

    step(start, frozenset(), hops)
    return ends - {start}


def shortest(edges: tuple[Edge, ...], start: int, goal: int, hops: int) -> int:
    if start == goal:
        return 0
    depth, queue = {start: 0}, deque([start])
    while queue:
        node = queue.popleft()
        for src, dst in edges:
            if src == node and dst not in depth:
                depth[dst] = depth[node] + 1
                queue.append(dst)
    return depth[goal] if depth.get(goal, hops + 1) <= hops else 0


def traverse(pattern: str = "k-hop", hops: int = 2, limit: int | None = None) -> TraverseOp:
    return TraverseOp(name="t", kind=OperationKind.TRAVERSE, entity="person", weight=1, edges="follows",
                      pattern=pattern, hops=hops, limit=limit)  # type: ignore[arg-type]


def test_traversals_return_the_right_nodes_on_a_tiny_graph(adapter: Neo4jAdapter, check: Session) -> None:
    spec = workload("social-graph", 10)
    person, follows = spec.dataset.entities
    adapter.prepare(spec)
    adapter.load(spec, person, [{"id": i, "name": f"p{i}"} for i in range(TINY_NODES)])
    adapter.load(spec, follows, [{"id": i, "src": s, "dst": d} for i, (s, d) in enumerate(TINY_EDGES)])
    adapter.finish_load(spec)
    assert value(check, "MATCH ()-[r:FOLLOWS]->() RETURN count(r)") == len(TINY_EDGES)
    assert value(check, "MATCH (n:follows) RETURN count(n)") == 0  # edges are relationships, not nodes

    def ids(op: TraverseOp, key: int) -> Any:
        statement = build(op, spec)
        return [r[0] for r in check.run(statement.cypher, statement.parameters(key))]

    for hops in (1, 2, 3):
        khop = traverse(hops=hops)
        run = adapter.bind(khop, spec)
        for node in range(TINY_NODES):
            expected = walks(TINY_EDGES, node, hops)
            got = ids(khop, node)
            assert sorted(got) == sorted(expected), (hops, node)  # distinct, start excluded
            assert run(node) == len(expected)
    assert sorted(ids(traverse(hops=2), 0)) == [2, 6]
    assert adapter.bind(traverse(hops=2, limit=1), spec)(0) == 1

    mutual = traverse("mutual")
    for node in range(TINY_NODES):
        expected = {n for s, n in TINY_EDGES if s == node and (n, node) in TINY_EDGES} - {node}
        assert sorted(ids(mutual, node)) == sorted(expected), node
    assert sorted(ids(mutual, 1)) == [0, 2] and ids(mutual, 7) == [8] and ids(mutual, 3) == []

    for hops in (1, 2, 4):
        run = adapter.bind(traverse("shortest-path", hops=hops), spec)
        for start in range(TINY_NODES):
            for goal in range(TINY_NODES):
                assert run(Pair(start, goal)) == shortest(TINY_EDGES, start, goal, hops), (hops, start, goal)
    path = adapter.bind(traverse("shortest-path", hops=4), spec)
    assert path(Pair(0, 4)) == 4  # 0->1->2->3->4
    assert path(Pair(6, 4)) == 0  # 5 hops away: beyond the cap
    assert path(Pair(4, 0)) == 0  # 4 follows nobody
    assert path(Pair(3, 3)) == 0  # a node and itself: no path to walk

    follow = next(op for op in spec.operations if op.kind is OperationKind.INSERT)
    assert adapter.bind(follow, spec)({"id": 100, "src": 3, "dst": 9}) == 1  # one relationship, 3->9
    assert value(check, "MATCH (:person {id: 3})-[r:FOLLOWS]->(:person {id: 9}) RETURN r.id") == 100
    assert adapter.bind(follow, spec)({"id": 101, "src": 3, "dst": 99}) == 0  # no node 99: nothing created


def test_social_graph_loads_follows_as_relationships(adapter: Neo4jAdapter, check: Session) -> None:
    spec = workload("social-graph", 200)
    load_all(adapter, spec)
    follows = spec.entity("follows")
    edges = [dataset_factories(spec)["follows"].record(i) for i in range(follows.count)]
    assert value(check, "MATCH (n:person) RETURN count(n)") == 200
    assert value(check, "MATCH ()-[r:FOLLOWS]->() RETURN count(r)") == follows.count == len(edges)
    stored = {(r[0], r[1], r[2]) for r in check.run("MATCH (a:person)-[r:FOLLOWS]->(b:person) RETURN r.id, a.id, b.id")}
    assert stored == {(e["id"], e["src"], e["dst"]) for e in edges}
    read = ReadOp(name="edge", kind=OperationKind.READ, entity="follows", weight=1)
    row = check.run(build(read, spec).cypher, {"key": 7}).single(strict=True)
    assert row["record"] == edges[7]  # an edge reads back as its record, src/dst from its end nodes
    assert adapter.bind(read, spec)(7) == 1
    remove = DeleteOp(name="unfollow", kind=OperationKind.DELETE, entity="follows", weight=1)
    assert adapter.bind(remove, spec)(7) == 1  # one relationship deleted, its nodes stay
    assert adapter.bind(remove, spec)(7) == 0
    assert value(check, "MATCH (n:person) RETURN count(n)") == 200
    telemetry = adapter.telemetry(spec)
    assert telemetry["nodes"] == {"person": 200} and telemetry["relationships"] == {"FOLLOWS": follows.count - 1}


def test_find_sorted_range_and_full_text_search_semantics(adapter: Neo4jAdapter, check: Session) -> None:
    audit = workload("audit-log", 400)
    load_all(adapter, audit)
    events = audit.dataset.entities[0]
    records = [RecordFactory(events, audit.dataset.seed).record(i) for i in range(events.count)]
    history = next(op for op in audit.operations if op.name == "user-history").model_copy(update={"limit": 3})
    user = max({r["user_id"] for r in records}, key=lambda u: sum(r["user_id"] == u for r in records))
    newest = sorted((r for r in records if r["user_id"] == user), key=lambda r: r["created_at"], reverse=True)[:3]
    rows = check.run(build(history, audit).cypher, {"m0": user})
    assert [r["record"]["id"] for r in rows] == [r["id"] for r in newest]  # newest first

    catalog = workload("document-catalog", 300)
    load_all(adapter, catalog)
    products = catalog.dataset.entities[0]
    items = [RecordFactory(products, catalog.dataset.seed).record(i) for i in range(products.count)]
    browse = next(op for op in catalog.operations if op.name == "browse")
    lo, hi = 100.0, 250.0
    expected = sorted((r for r in items if r["category"] == "books" and lo <= r["price"] <= hi),
                      key=lambda r: r["price"])[:20]
    rows = check.run(build(browse, catalog).cypher, {"m0": "books", "lo": lo, "hi": hi})
    assert [r["record"]["sku"] for r in rows] == [r["sku"] for r in expected]
    assert adapter.bind(browse, catalog)(Window({"category": "books"}, lo, hi)) == len(expected)

    metrics = workload("metrics-timeseries", 400)
    load_all(adapter, metrics)
    entity = metrics.dataset.entities[0]
    points = [RecordFactory(entity, metrics.dataset.seed).record(i) for i in range(entity.count)]
    last_hour = next(op for op in metrics.operations if op.kind is OperationKind.RANGE)
    end = points[300]["ts"]
    start = end - timedelta(seconds=60)
    inside = [p for p in points if p["host"] == "host-03" and start <= p["ts"] <= end]
    assert inside and adapter.bind(last_hour, metrics)(Window({"host": "host-03"}, start, end)) == len(inside)

    shop = workload("product-search", 300)
    load_all(adapter, shop)
    catalog_entity = shop.dataset.entities[0]
    docs = [RecordFactory(catalog_entity, shop.dataset.seed).record(i) for i in range(catalog_entity.count)]
    word = docs[0]["title"].split()[0]
    having = {d["id"] for d in docs if word in (d["title"] + " " + d["description"]).split()}
    search, in_category = (op.model_copy(update={"limit": 1000}) for op in shop.operations[:2])
    everything = build(search, shop)
    hits = [r["record"]["id"] for r in check.run(everything.cypher, everything.parameters(Query((word,), {})))]
    assert set(hits) == having  # every document with the word, none without
    books = {d["id"] for d in docs if d["id"] in having and d["category"] == "books"}
    assert adapter.bind(in_category, shop)(Query((word,), {"category": "books"})) == len(books)
    assert adapter.bind(shop.operations[0], shop)(Query((word, "zzzz"), {})) == min(10, len(having))


def test_kv_cache_run_produces_a_valid_record_with_telemetry(neo4j_url: str) -> None:
    load = LoadProfile(users=4, processes=2, duration_s=2, warmup_s=1)
    record = run_and_record(RunRequest(engine="neo4j", url=neo4j_url, workload=workload("kv-cache", 1000), load=load),
                           Progress())
    assert record.complete and record.valid, record.invalid_reasons
    assert record.engine_version.startswith("5.")
    for op in record.operations.values():
        assert op.count > 0 and op.errors == 0
    assert record.load_phase is not None and record.load_phase.records == 1000
    settings = record.manifest["engine_settings"]
    assert settings["edition"] and "every commit" in settings["commit_durability"]
    assert settings["server.memory.pagecache.size"]
    telemetry = record.telemetry
    assert telemetry["nodes"]["usertable"] >= 1000 + record.operations["insert"].count
    served = {s["query"].split()[0]: s["calls"] for s in telemetry["top_statements"]}
    assert served["CREATE"] >= record.operations["insert"].count  # warm-up calls reach the server too
    assert telemetry["jvm"]["heap_used_bytes"] > 0


def test_social_graph_run_produces_a_valid_record(neo4j_url: str) -> None:
    spec = workload("social-graph", 500)
    # Equal weights, so the rare connection-path still runs often in 2 s; a fresh server compiles each
    # traversal on first use (up to ~1 s on 2 busy cores), which the warm-up absorbs.
    spec = spec.model_copy(update={"operations": tuple(op.model_copy(update={"weight": 1.0}) for op in spec.operations)})
    load = LoadProfile(users=4, processes=2, duration_s=2, warmup_s=3)
    record = run_and_record(RunRequest(engine="neo4j", url=neo4j_url, workload=spec, load=load), Progress())
    assert record.complete and record.valid, record.invalid_reasons
    assert set(record.operations) == {"friends-of-friends", "mutual-follows", "connection-path", "follow"}
    for op in record.operations.values():
        assert op.count > 0 and op.errors == 0
    assert record.telemetry["relationships"]["FOLLOWS"] >= spec.entity("follows").count + record.operations["follow"].count


def test_unsupported_kinds_are_refused_up_front_with_a_reason() -> None:
    adapter = create_adapter("neo4j", "bolt://127.0.0.1:1")
    reasons = {op.name: adapter.unsupported_reason(op, spec) for name in ("session-cache", "metrics-timeseries",
                                                                          "document-catalog")
               for spec in (workload(name, 100),) for op in spec.operations}
    assert "cannot expire nodes" in (reasons["touch"] or "") and "cannot expire" in (reasons["create"] or "")
    assert "no time-bucket aggregation" in (reasons["hourly-mean-per-host"] or "")
    assert "cannot be maps" in (reasons["set-attribute"] or "")
    for name in ("kv-cache", "user-accounts", "social-graph", "product-search", "audit-log"):
        spec = workload(name, 100)
        assert all(adapter.unsupported_reason(op, spec) is None for op in spec.operations), name
    graph = workload("social-graph", 100)
    native = NativeOp(name="raw", kind=OperationKind.NATIVE, entity="person", weight=1, statements={"postgres": "SELECT 1"})
    assert "no native statement for neo4j" in (adapter.unsupported_reason(native, graph) or "")
    # refusals that depend on the entities' shapes come before the run, not as errors at bind
    move = UpdateOp(name="move", kind=OperationKind.UPDATE, entity="follows", weight=1, set=("src",))
    assert "would move a relationship" in (adapter.unsupported_reason(move, graph) or "")
    search_edges = SearchOp(name="find-edge", kind=OperationKind.SEARCH, entity="follows", weight=1, text_fields=("id",))
    assert "no full-text search over relationships" in (adapter.unsupported_reason(search_edges, graph) or "")
    for op in (move, search_edges, native):
        with pytest.raises(UnsupportedOperation):
            adapter.bind(op, graph)  # refused before the connection is even asked for
    load = LoadProfile(users=1, processes=1, duration_s=1, warmup_s=0)
    nothing_listens = f"bolt://127.0.0.1:{free_port()}"  # refused before any connection is tried
    with pytest.raises(UnsupportedOperation, match=r"hourly-mean-per-host \(aggregate\): neo4j has no time-bucket"):
        run_and_record(RunRequest(engine="neo4j", url=nothing_listens, workload=workload("metrics-timeseries", 100),
                                  load=load), Progress())
    with pytest.raises(EngineUnavailable, match="not reachable"):
        create_adapter("neo4j", nothing_listens).connect()
    with pytest.raises(HarnessBug, match="before connect"):
        adapter.bind(graph.operations[0], graph)


def test_native_statement_and_url_credentials(adapter: Neo4jAdapter) -> None:
    assert split_auth("bolt://neo4j:s%40cret@127.0.0.1:7687") == ("bolt://127.0.0.1:7687", ("neo4j", "s@cret"))
    assert split_auth("neo4j://127.0.0.1:7687") == ("neo4j://127.0.0.1:7687", None)
    spec = workload("kv-cache", 50)
    load_all(adapter, spec)
    native = NativeOp(name="raw", kind=OperationKind.NATIVE, entity="usertable", weight=1,
                      statements={"neo4j": "MATCH (n:usertable) WHERE n.ycsb_key >= $key RETURN n.ycsb_key LIMIT 5"})
    assert adapter.unsupported_reason(native, spec) is None
    assert adapter.bind(native, spec)({"key": "user"}) == 5
    for gone in (OSError("connection reset"), SessionExpired("expired"), ServiceUnavailable("down")):
        assert adapter.is_disconnect(gone)
    assert not adapter.is_disconnect(ValueError("a bug"))


def test_a_loading_worker_maps_edges_from_the_workload(adapter: Neo4jAdapter, neo4j_url: str, check: Session) -> None:
    """Workers load with adapters of their own that never ran prepare: the workload given to load says
    how an edge's end nodes are keyed."""
    spec = workload("social-graph", 10)
    person, follows = spec.dataset.entities
    adapter.prepare(spec)
    worker = Neo4jAdapter("neo4j", neo4j_url)
    worker.connect()
    try:
        worker.load(spec, person, [{"id": i, "name": f"p{i}"} for i in range(3)])
        worker.load(spec, follows, [{"id": 1, "src": 0, "dst": 1}, {"id": 2, "src": 1, "dst": 2}])
        assert value(check, "MATCH (:person)-[r:FOLLOWS]->(:person) RETURN count(r)") == 2
    finally:
        worker.close()
    with pytest.raises(HarnessBug, match="before connect"):
        worker.server_version()
