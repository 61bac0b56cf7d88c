"""Golden tests of the PostgreSQL statements: exact SQL and parameters, with no engine at all.

A representative set is spelled out inline below. Every operation PostgreSQL supports in every
library workload (workloads/*.yaml), and each workload's schema, is checked against
`statements.golden.sql`; after an intended change, rewrite it and review the diff:

    DBARENA_UPDATE_GOLDEN=1 .venv/bin/pytest tests/engines/postgres/test_statements.py

The SQL is rendered without a connection; tests/engines/postgres/test_adapter.py checks that a
live connection renders it the same, so these texts are what the server receives.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from harness.dataset.generate import dataset_factories
from harness.engines.calls import Change, Pair, Query, Scan, Window
from harness.engines.postgres.adapter import PostgresAdapter
from harness.engines.postgres.statements import Result, Statement, build, edge_columns, schema, transaction, tsquery_text
from harness.errors import HarnessBug
from harness.spec.loader import load_workload
from harness.spec.models import (
    AggregateOp,
    NativeOp,
    Operation,
    OperationKind,
    TraverseOp,
    UpdateOp,
    Workload,
)
from tests.engines import golden
from tests.engines.helpers import ROOT

GOLDEN = Path(__file__).with_name("statements.golden.sql")
LIBRARY = sorted((ROOT / "workloads").glob("*.yaml"))


def library(name: str) -> Workload:
    return load_workload(ROOT / "workloads" / f"{name}.yaml")


def statement(workload: str, op_name: str) -> tuple[Statement[Any], str]:
    spec = library(workload)
    statement = build(next(op for op in spec.operations if op.name == op_name), spec)
    return statement, statement.query.as_string(None)


# ---- the representative set, spelled out ------------------------------------------------


def test_read_names_every_column_and_scan_takes_the_length_of_the_call() -> None:
    read, text = statement("session-cache", "get")
    assert text == ('SELECT "sessions"."sid", "sessions"."user_id", "sessions"."data", "sessions"."last_seen" '
                    'FROM "sessions" WHERE "sid" = %s')
    assert (read.parameters("s-1"), read.result) == (("s-1",), Result.ROWS)
    scan, text = statement("kv-cache", "scan")
    assert text.endswith('FROM "usertable" WHERE "ycsb_key" >= %s ORDER BY "ycsb_key" LIMIT %s')
    assert scan.parameters(Scan("user7", 37)) == ("user7", 37)


def test_delete_counts_the_rows_it_removed() -> None:
    delete, text = statement("session-cache", "logout")
    assert text == 'DELETE FROM "sessions" WHERE "sid" = %s'
    assert (delete.parameters("s-1"), delete.result) == (("s-1",), Result.ROWCOUNT)


def test_find_matches_then_filters_with_constants() -> None:
    login, text = statement("user-accounts", "login")
    assert text == ('SELECT "users"."id", "users"."email", "users"."is_active" FROM "users" '
                    'WHERE "users"."email" = %s AND "users"."is_active" = %s')
    assert login.parameters({"email": "ann@example.com"}) == ["ann@example.com", True]
    history, text = statement("audit-log", "user-history")
    assert text.endswith('FROM "events" WHERE "events"."user_id" = %s ORDER BY "events"."created_at" DESC LIMIT 50')
    assert history.parameters({"user_id": 3}) == [3]


def test_range_is_equality_then_between_sorted_and_limited() -> None:
    browse, text = statement("document-catalog", "browse")
    assert text == ('SELECT "products"."sku", "products"."name", "products"."price" FROM "products" '
                    'WHERE "products"."category" = %s AND "products"."price" BETWEEN %s AND %s '
                    'ORDER BY "products"."price" ASC LIMIT 20')
    assert browse.parameters(Window({"category": "garden"}, 200.0, 250.0)) == ["garden", 200.0, 250.0]


def test_aggregate_buckets_timestamps_from_a_fixed_origin() -> None:
    mean, text = statement("metrics-timeseries", "hourly-mean-per-host")
    assert text == ('SELECT "metrics"."host", date_bin(make_interval(secs => 60.0), "metrics"."ts", '
                    "TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, avg(\"metrics\".\"cpu\") AS value "
                    'FROM "metrics" WHERE "metrics"."ts" BETWEEN %s AND %s '
                    'GROUP BY "metrics"."host", bucket ORDER BY "metrics"."host", bucket')
    end = datetime(2026, 1, 1, 1)
    assert mean.parameters(Window({}, end - timedelta(hours=1), end)) == [end - timedelta(hours=1), end]


def test_aggregate_of_a_number_buckets_with_floor() -> None:
    spec = library("metrics-timeseries")
    op = next(op for op in spec.operations if isinstance(op, AggregateOp))
    numeric = op.model_copy(update={"range_field": "mem", "bucket_s": 8.0, "group_by": (), "function": "max"})
    assert build(numeric, spec).query.as_string(None) == (
        'SELECT NULL AS series, floor("metrics"."mem" / 8.0) * 8.0 AS bucket, max("metrics"."cpu") AS value '
        'FROM "metrics" WHERE "metrics"."mem" BETWEEN %s AND %s GROUP BY bucket ORDER BY bucket')


def test_search_quotes_each_term_and_ranks_by_relevance() -> None:
    search, text = statement("product-search", "search-in-category")
    assert text == ('SELECT "catalog"."id", "catalog"."title", "catalog"."description", "catalog"."category", '
                    '"catalog"."price" FROM "catalog", to_tsquery(\'simple\', %s) AS dbarena_query '
                    'WHERE "catalog"."fts_title_description" @@ dbarena_query AND "catalog"."category" = %s '
                    'ORDER BY ts_rank("catalog"."fts_title_description", dbarena_query) DESC, "catalog"."id" LIMIT 10')
    assert search.parameters(Query(("red", "o'k"), {"category": "books"})) == ["'red' | 'o''k'", "books"]
    assert tsquery_text(["a\\b"]) == "'a\\\\b'"


def test_updates_set_whole_fields_or_one_key_inside_the_json() -> None:
    restock, text = statement("document-catalog", "restock")
    assert text == 'UPDATE "products" SET "stock" = %s WHERE "sku" = %s'
    assert (restock.parameters(Change("sku-1", {"stock": 7})), restock.result) == ([7, "sku-1"], Result.ROWCOUNT)
    nested, text = statement("document-catalog", "set-attribute")
    assert text == ('UPDATE "products" SET "attributes" = jsonb_set(coalesce("attributes", \'{}\'), \'{k1}\', '
                    'to_jsonb(%s::text)) WHERE "sku" = %s')
    assert nested.parameters(Change("sku-1", {"attributes.k1": "lavender"})) == ["lavender", "sku-1"]
    spec = library("document-catalog")
    op = next(op for op in spec.operations if isinstance(op, UpdateOp))
    both = op.model_copy(update={"set": ("attributes", "attributes.k2", "stock")})
    update = build(both, spec)
    assert update.query.as_string(None) == (
        'UPDATE "products" SET "attributes" = jsonb_set(%s, \'{k2}\', to_jsonb(%s::text)), "stock" = %s '
        'WHERE "sku" = %s')
    whole, *rest = update.parameters(Change("sku-1", {"attributes": '{"k1": "a"}', "attributes.k2": "b", "stock": 1}))
    assert isinstance(whole, Jsonb) and whole.obj == {"k1": "a"} and rest == ["b", 1, "sku-1"]


def test_insert_sends_every_field_and_json_as_jsonb() -> None:
    append, text = statement("audit-log", "append")
    assert text == ('INSERT INTO "events" ("id", "user_id", "action", "resource_type", "resource_id", "ip", '
                    '"details", "created_at") VALUES (%s, %s, %s, %s, %s, %s, %s, %s)')
    record = {"id": "e-1", "user_id": 3, "action": "read", "resource_type": "report", "resource_id": 9,
              "ip": "10.0.0.1", "details": '{"k0": "v"}', "created_at": datetime(2025, 1, 1)}
    parameters = list(append.parameters(record))
    assert isinstance(parameters[6], Jsonb) and parameters[6].obj == {"k0": "v"}
    assert [*parameters[:6], parameters[7]] == ["e-1", 3, "read", "report", 9, "10.0.0.1", datetime(2025, 1, 1)]


def test_traversals_follow_the_edge_entitys_two_refs() -> None:
    spec = library("social-graph")
    hop = next(op for op in spec.operations if isinstance(op, TraverseOp))
    assert edge_columns(hop, spec) == ("src", "dst")
    two_hop, text = statement("social-graph", "friends-of-friends")
    assert text == ('WITH RECURSIVE walk(node, depth) AS (SELECT %s::bigint, 0 UNION SELECT e."dst", w.depth + 1 '
                    'FROM walk w JOIN "follows" e ON e."src" = w.node WHERE w.depth < 2) '
                    "SELECT node FROM walk WHERE depth = 2 AND node <> %s LIMIT 100")
    assert two_hop.parameters(1) == (1, 1)
    mutual, text = statement("social-graph", "mutual-follows")
    assert text == ('SELECT DISTINCT a."dst" AS node FROM "follows" a JOIN "follows" b ON b."src" = a."dst" '
                    'AND b."dst" = a."src" WHERE a."src" = %s AND a."dst" <> a."src"')
    assert mutual.parameters(1) == (1,)
    path, text = statement("social-graph", "connection-path")
    assert text == ('WITH RECURSIVE bfs(node, depth) AS (SELECT %s::bigint, 0 UNION SELECT e."dst", b.depth + 1 '
                    'FROM bfs b JOIN "follows" e ON e."src" = b.node WHERE b.depth < 4) '
                    "SELECT coalesce((SELECT depth FROM bfs WHERE node = %s LIMIT 1), 0)")
    assert (path.parameters(Pair(1, 7)), path.result) == ((1, 7), Result.SCALAR)
    projected = build(hop.model_copy(update={"project": ("name",)}), spec).query.as_string(None)
    assert projected.startswith('SELECT "person"."name" FROM "person" JOIN (WITH RECURSIVE walk')
    assert projected.endswith(') AS reached ON "person"."id" = reached.node')


def test_edge_columns_are_in_declaration_order_and_missing_refs_are_a_bug() -> None:
    spec = library("social-graph")
    hop = next(op for op in spec.operations if isinstance(op, TraverseOp))
    person, follows = spec.dataset.entities
    swapped = follows.model_copy(update={"fields": dict(reversed(follows.fields.items()))})
    assert edge_columns(hop, with_entities(spec, person, swapped)) == ("dst", "src")
    one_ref = follows.model_copy(update={"fields": {k: v for k, v in follows.fields.items() if k != "dst"}})
    with pytest.raises(HarnessBug, match="no two ref fields"):
        build(hop, with_entities(spec, person, one_ref))


def with_entities(spec: Workload, *entities: Any) -> Workload:
    return spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"entities": entities})})


def test_native_statements_send_the_parameters_they_name_in_order() -> None:
    spec = library("kv-cache")
    native = NativeOp(name="count-prefix", kind=OperationKind.NATIVE, entity="usertable", weight=1,
                      statements={"postgres": "SELECT count(*) FROM usertable WHERE ycsb_key >= %(key)s"})
    built = build(native, spec)
    assert built.query.as_string(None) == "SELECT count(*) FROM usertable WHERE ycsb_key >= %s"
    assert (built.parameters({"key": "user1", "unused": 2}), built.result) == (["user1"], Result.ANY)
    constant = native.model_copy(update={"statements": {"postgres": "SELECT 1"}})
    assert build(constant, spec).parameters({"key": "user1"}) == []  # none named: none sent


def test_schema_creates_tables_indexes_and_search_vectors() -> None:
    spec = library("product-search")
    assert [s.as_string(None) for s in schema(spec, spec.dataset.entities[0])] == [
        'DROP TABLE IF EXISTS "catalog" CASCADE',
        'CREATE TABLE "catalog" ("id" bigint PRIMARY KEY, "title" text, "description" text, "category" text, '
        '"price" double precision)',
        'ALTER TABLE "catalog" ADD COLUMN "fts_title_description" tsvector GENERATED ALWAYS AS '
        "(to_tsvector('simple', coalesce(\"title\", '')) || to_tsvector('simple', coalesce(\"description\", ''))) "
        "STORED",
        'CREATE INDEX "catalog_fts_title_description" ON "catalog" USING gin ("fts_title_description")',
    ]
    graph = library("social-graph")
    follows = [s.as_string(None) for s in schema(graph, graph.dataset.entities[1])]
    assert follows[1] == 'CREATE TABLE "follows" ("id" bigint PRIMARY KEY, "src" bigint, "dst" bigint)'
    assert follows[2:] == ['CREATE INDEX "follows_idx0_src" ON "follows" ("src")',
                           'CREATE INDEX "follows_idx1_dst" ON "follows" ("dst")']


# ---- every library operation, against the golden file ------------------------------------


def sample_argument(op: Operation, spec: Workload) -> Any:
    """The call argument of `op`'s kind, from record 3 of the dataset (deterministic, no clock)."""
    return golden.sample_argument(op, dataset_factories(spec)[op.entity], row=3, new_row=3, nested=lambda path: "v1",
                                  terms=("red", "o'k", "blue"))


def shown(value: Any) -> Any:
    if isinstance(value, Jsonb):
        return {"jsonb": value.obj}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def rendered() -> str:
    """Schema and every supported operation's SQL, result and sample parameters, for each library workload."""
    adapter = PostgresAdapter("postgres", "postgresql://golden@127.0.0.1:1/none")  # never connected
    blocks: list[str] = []
    for path in LIBRARY:
        spec = load_workload(path)
        for entity in spec.dataset.entities:
            ddl = ";\n".join(s.as_string(None) for s in schema(spec, entity))
            blocks.append(f"-- {spec.name} schema of {entity.name}\n{ddl};\n")
        for op in spec.operations:
            reason = adapter.unsupported_reason(op, spec)
            if reason is not None:
                blocks.append(f"-- {spec.name}/{op.name}: n/a ({reason})\n")
                continue
            listed = isinstance(op, NativeOp) and op.is_transaction("postgres")
            for built in transaction(op).statements if isinstance(op, NativeOp) and listed else (build(op, spec),):
                parameters = built.parameters(sample_argument(op, spec))
                values = {k: shown(v) for k, v in parameters.items()} if isinstance(parameters, dict) else [
                    shown(v) for v in parameters]
                blocks.append(f"-- {spec.name}/{op.name}: {op.kind.value}{' (one transaction)' if listed else ''}"
                              f" -> {built.result.value}\n{built.query.as_string(None)};\n"
                              f"-- parameters: {json.dumps(values, default=str, ensure_ascii=False)}\n")
    return "\n".join(blocks)


def test_every_library_operation_matches_the_golden_file() -> None:
    golden.check_golden(GOLDEN, rendered(), what="PostgreSQL statements")


def test_the_golden_file_covers_every_library_workload() -> None:
    expected = GOLDEN.read_text(encoding="utf-8")
    assert all(f"-- {load_workload(path).name}/" in expected for path in LIBRARY)
    assert "n/a (PostgreSQL has no record expiry" in expected  # session-cache's ttl operations
