"""Golden tests of the Neo4j statements, with no server: the Cypher and parameters of every operation.

A representative set is written out inline; `statements.golden.txt` holds every supported
operation of the library workloads (workloads/*.yaml) with a sample argument, so any change
to what reaches the server shows up as a diff. After an intended change, regenerate it with
`DBARENA_UPDATE_GOLDEN=1 pytest tests/engines/neo4j/test_statements.py` and review the diff.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.engines.calls import Change, Pair, Query, Scan, Window
from harness.engines.neo4j.schema import clear, constraints, fulltext_schema, load, load_row
from harness.engines.neo4j.statements import (
    FORMS,
    SUPPORTED_KINDS,
    Count,
    build,
    lucene_query,
    refusal,
    shapes,
)
from harness.errors import UnsupportedOperation
from harness.spec.models import (
    DeleteOp,
    Entity,
    FindOp,
    NativeOp,
    Operation,
    OperationKind,
    ReadOp,
    ScanOp,
    SearchOp,
    UpdateOp,
    Workload,
    single_field_updates,
)
from tests.engines import golden
from tests.engines.helpers import ROOT, workload

GOLDEN = Path(__file__).with_name("statements.golden.txt")
LIBRARY = sorted(path.stem for path in (ROOT / "workloads").glob("*.yaml"))


class Placeholders:
    """A RecordFactory stand-in of recognisable values rather than generated ones.

    The key is `key-1`; record 0 holds `<field>-1` in each field (what a find matches), any other
    `new-<field>` (what an update sets); the record an insert writes has a JSON field a map and
    refs the node keys 7 and 8.
    """

    def __init__(self, entity: Entity) -> None:
        self.entity = entity

    def key_of(self, index: int) -> Any:
        return "key-1"

    def value(self, field: str, index: int) -> Any:
        return f"{field}-1" if index == 0 else f"new-{field}"

    def record(self, index: int) -> dict[str, Any]:
        refs = iter((7, 8, 9))
        return {name: {"k": 1} if spec.type == "json" else next(refs) if spec.type == "ref" else f"{name}-1"
                for name, spec in self.entity.fields.items()}


def sample(op: Operation, spec: Workload) -> Any:
    """The typed call argument (harness.engines.calls) the runner would pass to `op`'s executor."""
    return golden.sample_argument(op, Placeholders(spec.entity(op.entity)), terms=("alpha", 'be"ta'),
                                  take_terms=False, window=(10, 20), nodes=(1, 2))


def golden_text() -> str:
    """Every supported library operation: Cypher, how it is counted, parameters of the sample argument."""
    blocks = []
    for name in LIBRARY:
        spec = workload(name, 100)
        for op in spec.operations:
            if refusal(op, spec) is not None or op.kind not in SUPPORTED_KINDS:
                continue
            statement = build(op, spec)
            count = statement.counter or statement.count.value
            params = json.dumps(statement.parameters(sample(op, spec)), sort_keys=True)
            blocks.append(f"## {name} / {op.name} ({op.kind.value}; counts {count})\n{statement.cypher}\n{params}\n")
    return "\n".join(blocks)


def test_every_library_operation_matches_the_golden_file() -> None:
    golden.check_golden(GOLDEN, golden_text(), what="Cypher")


def test_parameters_are_exactly_those_the_cypher_uses() -> None:
    for name in LIBRARY:
        spec = workload(name, 100)
        for op in spec.operations:
            if refusal(op, spec) is None and not isinstance(op, NativeOp):
                statement = build(op, spec)
                used = set(re.findall(r"\$(\w+)", statement.cypher))
                assert used == set(statement.parameters(sample(op, spec))), (name, op.name)


def ops(name: str) -> dict[str, Operation]:
    return {op.name: op for op in workload(name, 100).operations}


def test_key_value_operations() -> None:
    spec, kv = workload("kv-cache", 100), ops("kv-cache")
    read = build(kv["read"], spec)
    assert read.cypher == "MATCH (n:`usertable` {`ycsb_key`: $key}) RETURN n {.*} AS record"
    assert read.parameters("user-1") == {"key": "user-1"} and read.count is Count.ROWS
    update = build(single_field_updates(kv["update"])["field0"], spec)  # write: one — a call sets one field
    assert update.cypher == "MATCH (n:`usertable` {`ycsb_key`: $key}) SET n.`field0` = $v0 RETURN count(n) AS updated"
    assert update.parameters(Change("user-1", {"field0": "x"})) == {"key": "user-1", "v0": "x"}
    assert update.count is Count.SINGLE
    assert build(single_field_updates(kv["read-modify-write"])["field0"], spec).cypher == update.cypher  # the runner adds the read
    insert = build(kv["insert"], spec)
    assert insert.cypher == "CREATE (n:`usertable`) SET n = $row"
    assert insert.parameters({"ycsb_key": "user-1", "field0": "a"}) == {"row": {"ycsb_key": "user-1", "field0": "a"}}
    assert (insert.count, insert.counter) == (Count.CREATED, "nodes_created")
    scan = build(kv["scan"], spec)
    assert scan.cypher == ("MATCH (n:`usertable`) WHERE n.`ycsb_key` >= $key RETURN n {.*} AS record "
                           "ORDER BY n.`ycsb_key` LIMIT $length")
    assert scan.parameters(Scan("user-1", 37)) == {"key": "user-1", "length": 37}  # the length drawn per call
    unlimited = ScanOp(name="s", kind=OperationKind.SCAN, entity="usertable", weight=1)
    assert build(unlimited, spec).cypher == scan.cypher
    delete = build(DeleteOp(name="d", kind=OperationKind.DELETE, entity="usertable", weight=1), spec)
    assert delete.cypher == "MATCH (n:`usertable` {`ycsb_key`: $key}) DETACH DELETE n"
    assert (delete.count, delete.counter) == (Count.DELETED, "nodes_deleted")


def test_find_with_filter_projection_and_json_values() -> None:
    spec, accounts = workload("user-accounts", 100), ops("user-accounts")
    login = build(accounts["login"], spec)
    assert login.cypher == ("MATCH (n:`users`) WHERE n.`email` = $m0 AND n.`is_active` = $f0 "
                            "RETURN {`id`: n.`id`, `email`: n.`email`, `is_active`: n.`is_active`} AS record")
    assert login.parameters({"email": "a@b"}) == {"m0": "a@b", "f0": True}
    signup = build(accounts["signup"], spec).parameters({"id": 1, "metadata": {"b": 2, "a": [1]}})
    assert signup == {"row": {"id": 1, "metadata": '{"b":2,"a":[1]}'}}  # properties cannot be maps
    history = build(ops("audit-log")["user-history"], workload("audit-log", 100))
    assert history.cypher == ("MATCH (n:`events`) WHERE n.`user_id` = $m0 RETURN n {.*} AS record "
                              "ORDER BY n.`created_at` DESC LIMIT 50")


def test_range_and_search() -> None:
    catalog = workload("document-catalog", 100)
    browse = build(ops("document-catalog")["browse"], catalog)
    assert browse.cypher == ("MATCH (n:`products`) WHERE n.`category` = $m0 AND n.`price` >= $lo AND n.`price` <= $hi "
                             "RETURN {`sku`: n.`sku`, `name`: n.`name`, `price`: n.`price`} AS record "
                             "ORDER BY n.`price` ASC LIMIT 20")
    assert browse.parameters(Window({"category": "books"}, 1.0, 2.0)) == {"m0": "books", "lo": 1.0, "hi": 2.0}
    shop, searches = workload("product-search", 100), ops("product-search")
    search = build(searches["search"], shop)
    assert search.cypher == ("CALL db.index.fulltext.queryNodes($index, $query, {limit: $limit}) YIELD node AS n, score "
                             "RETURN n {.*} AS record ORDER BY score DESC LIMIT 10")
    assert search.parameters(Query(("red", "shoe"), {})) == {
        "index": "dbarena_catalog_text_title_description", "limit": 10, "query": '"red" OR "shoe"'}
    in_category = build(searches["search-in-category"], shop)  # filtered after the index: no limit inside it
    assert in_category.cypher == ("CALL db.index.fulltext.queryNodes($index, $query) YIELD node AS n, score "
                                  "WHERE n.`category` = $m0 RETURN n {.*} AS record ORDER BY score DESC LIMIT 10")
    assert in_category.parameters(Query(("red",), {"category": "books"})) == {
        "m0": "books", "index": "dbarena_catalog_text_title_description", "query": '"red"'}
    assert lucene_query(['a"b', "c\\d"]) == '"a\\"b" OR "c\\\\d"'
    assert fulltext_schema(searches["search"]) == (  # type: ignore[arg-type]
        "CREATE FULLTEXT INDEX `dbarena_catalog_text_title_description` IF NOT EXISTS "
        "FOR (n:`catalog`) ON EACH [n.`title`, n.`description`]")


def test_traversals() -> None:
    spec, graph = workload("social-graph", 100), ops("social-graph")
    khop = build(graph["friends-of-friends"], spec)
    assert khop.cypher == ("MATCH (s:`person` {`id`: $key})-[:`FOLLOWS`*2..2]->(f) WHERE f <> s "
                           "RETURN DISTINCT f.`id` AS node LIMIT 100")
    assert khop.parameters(5) == {"key": 5} and khop.count is Count.ROWS
    mutual = build(graph["mutual-follows"], spec)
    assert mutual.cypher == ("MATCH (s:`person` {`id`: $key})-[:`FOLLOWS`]->(m)-[:`FOLLOWS`]->(s) WHERE m <> s "
                             "RETURN DISTINCT m.`id` AS node")
    path = build(graph["connection-path"], spec)
    assert path.cypher == ("MATCH (a:`person` {`id`: $key}), (b:`person` {`id`: $to}) WHERE a <> b "
                           "MATCH p = shortestPath((a)-[:`FOLLOWS`*..4]->(b)) RETURN length(p) AS hops")
    assert path.parameters(Pair(1, 2)) == {"key": 1, "to": 2} and path.count is Count.SINGLE


def test_edge_entities_are_relationships_keyed_by_their_node_entity() -> None:
    spec = workload("social-graph", 100)
    follow = build(ops("social-graph")["follow"], spec)
    assert follow.cypher == ("MATCH (a:`person` {`id`: $src}), (b:`person` {`id`: $dst}) "
                             "CREATE (a)-[n:`FOLLOWS` {`id`: $props.`id`}]->(b)")
    assert follow.parameters({"id": 9, "src": 1, "dst": 2}) == {"src": 1, "dst": 2, "props": {"id": 9}}
    assert follow.counter == "relationships_created"
    read = build(ReadOp(name="r", kind=OperationKind.READ, entity="follows", weight=1), spec)
    assert read.cypher == ("MATCH (a:`person`)-[n:`FOLLOWS` {`id`: $key}]->(b:`person`) "
                           "RETURN n {.*, `src`: a.`id`, `dst`: b.`id`} AS record")
    find = build(FindOp(name="f", kind=OperationKind.FIND, entity="follows", weight=1, match=("src",),
                        project=("dst",)), spec)
    assert find.cypher == ("MATCH (a:`person`)-[n:`FOLLOWS`]->(b:`person`) WHERE a.`id` = $m0 "
                           "RETURN {`dst`: b.`id`} AS record")
    delete = build(DeleteOp(name="d", kind=OperationKind.DELETE, entity="follows", weight=1), spec)
    assert delete.cypher == "MATCH (a:`person`)-[n:`FOLLOWS` {`id`: $key}]->(b:`person`) DELETE n"
    assert delete.counter == "relationships_deleted"


def test_schema_and_bulk_load() -> None:
    spec = workload("social-graph", 100)
    by_name = shapes(spec)
    person, follows = by_name["person"], by_name["follows"]
    assert constraints(person) == ["CREATE CONSTRAINT `dbarena_person_key` FOR (n:`person`) REQUIRE n.`id` IS UNIQUE"]
    assert constraints(follows)[0] == ("CREATE CONSTRAINT `dbarena_follows_key` FOR ()-[n:`FOLLOWS`]-() "
                                  "REQUIRE n.`id` IS UNIQUE")
    assert clear(follows) == "MATCH ()-[n:`FOLLOWS`]->() WITH n LIMIT 10000 DELETE n RETURN count(*)"
    assert clear(person) == "MATCH (n:`person`) WITH n LIMIT 10000 DETACH DELETE n RETURN count(*)"
    assert load(person) == "UNWIND $rows AS row CREATE (n:`person`) SET n = row"
    assert load(follows) == ("UNWIND $rows AS row MATCH (a:`person` {`id`: row.src}), (b:`person` {`id`: row.dst}) "
                             "CREATE (a)-[n:`FOLLOWS` {`id`: row.props.`id`}]->(b)")
    assert load_row(follows, {"id": 1, "src": 2, "dst": 3}) == {"src": 2, "dst": 3, "props": {"id": 1}}
    accounts = shapes(workload("user-accounts", 100))["users"]
    assert constraints(accounts) == [
        "CREATE CONSTRAINT `dbarena_users_key` FOR (n:`users`) REQUIRE n.`id` IS UNIQUE",
        "CREATE CONSTRAINT `dbarena_users_unique0` FOR (n:`users`) REQUIRE (n.`email`) IS UNIQUE",
        "CREATE CONSTRAINT `dbarena_users_unique1` FOR (n:`users`) REQUIRE (n.`username`) IS UNIQUE",
    ]


def test_native_statement_is_sent_as_written() -> None:
    spec = workload("kv-cache", 100)
    native = NativeOp(name="raw", kind=OperationKind.NATIVE, entity="usertable", weight=1,
                      statements={"neo4j": "MATCH (n:usertable) WHERE n.ycsb_key >= $key RETURN n LIMIT 5"})
    statement = build(native, spec)
    assert statement.cypher == "MATCH (n:usertable) WHERE n.ycsb_key >= $key RETURN n LIMIT 5"
    assert statement.parameters({"key": "user", "x": 1}) == {"key": "user", "x": 1}


def test_refusals_are_reasons_and_building_them_raises_unsupported() -> None:
    graph = workload("social-graph", 100)
    move = UpdateOp(name="move", kind=OperationKind.UPDATE, entity="follows", weight=1, set=("dst",))
    assert "would move a relationship" in (refusal(move, graph) or "")
    rename = UpdateOp(name="rename", kind=OperationKind.UPDATE, entity="follows", weight=1, set=("id",))
    assert refusal(rename, graph) is None  # a relationship's own property may change
    search_edges = SearchOp(name="s", kind=OperationKind.SEARCH, entity="follows", weight=1, text_fields=("id",))
    assert "no full-text search over relationships" in (refusal(search_edges, graph) or "")
    catalog, metrics, sessions = ops("document-catalog"), ops("metrics-timeseries"), ops("session-cache")
    assert "cannot be maps" in (refusal(catalog["set-attribute"], workload("document-catalog", 100)) or "")
    assert "no time-bucket aggregation" in (refusal(metrics["hourly-mean-per-host"], workload("metrics-timeseries", 100))
                                            or "")
    assert "cannot expire nodes" in (refusal(sessions["touch"], workload("session-cache", 100)) or "")
    other = NativeOp(name="raw", kind=OperationKind.NATIVE, entity="person", weight=1, statements={"postgres": "SELECT 1"})
    for op in (move, search_edges, other):
        with pytest.raises(UnsupportedOperation):
            build(op, graph)


def test_one_form_per_kind_and_pattern() -> None:
    unmapped = set(OperationKind) - SUPPORTED_KINDS
    assert unmapped == {OperationKind.AGGREGATE}
    assert {name for name in FORMS if name.startswith("traverse")} == {
        "traverse k-hop", "traverse mutual", "traverse shortest-path"}
