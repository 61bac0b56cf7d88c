"""The SQL of the PostgreSQL adapter: column types, schema, and one statement per operation.

A `Statement` pairs the SQL with the function that turns the runner's (key, values) into
its parameters, so the executor and EXPLAIN always run exactly the same thing. Reads name
their columns (never `SELECT *`): the search vector is the adapter's column, not the record's.

- range / aggregate: equality on `match` and `filter`, then `range_field BETWEEN lo AND hi`,
  so a composite index (category, price) or (host, ts) serves the whole predicate.
- search: a stored generated `tsvector` column per set of text fields (GIN-indexed), queried
  with `to_tsquery('simple', 'a' | 'b')` (any term) and ranked by `ts_rank`. 'simple' because
  the words are synthetic: stemming and stop words would only distort them.
- traverse: breadth-first recursive CTEs over the edge table. `UNION` removes repeated
  (node, depth) rows, so each level is a distinct frontier and walks never explode; the
  recursion is evaluated lazily, so a LIMIT stops it at the first answer (BFS order).
  k-hop follows walks (an edge may repeat), which for 2 hops equals Cypher's edge-unique
  paths; mutual excludes a self-follow.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from harness.spec.models import (
    BoolField,
    Entity,
    FieldSpec,
    FloatField,
    IntField,
    JsonField,
    Operation,
    OperationKind,
    RefField,
    TagsField,
    TimestampField,
    UuidField,
    Workload,
)

SCAN_LIMIT = 100
SEARCH_LIMIT = 10  # hits of a search without a limit: the search engines' default page
TEXT_CONFIG = sql.Literal("simple")
# date_bin's origin, with an explicit offset so buckets never depend on the session's time zone
BUCKET_ORIGIN = sql.SQL("TIMESTAMPTZ '2000-01-01 00:00:00+00'")
AGGREGATES = {"mean": "avg", "sum": "sum", "count": "count", "min": "min", "max": "max"}
# Edge columns are found again at bind time (workers never see prepare) by this column comment.
REF_COMMENT = "dbarena ref to {}"

Arguments = Callable[[Any, Mapping[str, Any] | None], Sequence[Any] | Mapping[str, Any]]


def given(values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    assert values is not None, "this operation is always called with values"
    return values


class Result(Enum):
    ROWS = "rows"  # fetch every row; the count is the result
    ROWCOUNT = "rowcount"  # a write: rows affected
    SCALAR = "scalar"  # one value is the answer (shortest-path length)
    ANY = "any"  # native statements: rows if it returns any, else rows affected


@dataclass(frozen=True)
class Statement:
    query: sql.Composable
    arguments: Arguments
    result: Result


def column_type(spec: FieldSpec, key_types: Mapping[str, str] | None = None) -> str:
    """A field's column type; a ref takes the type of the key it references."""
    if isinstance(spec, RefField):
        return (key_types or {}).get(spec.entity, "text")
    if isinstance(spec, IntField):
        return "bigint"
    if isinstance(spec, FloatField):
        return "double precision"
    if isinstance(spec, BoolField):
        return "boolean"
    if isinstance(spec, UuidField):
        return "uuid"
    if isinstance(spec, TimestampField):
        return "timestamptz"
    if isinstance(spec, JsonField):
        return "jsonb"
    if isinstance(spec, TagsField):
        return "text[]"
    return "text"


def key_type(entity: Entity) -> str:
    return column_type(entity.fields[entity.key])


def ident(*names: str) -> sql.Identifier:
    return sql.Identifier(*names)


def search_column(text_fields: Sequence[str]) -> str:
    return f"fts_{'_'.join(text_fields)}"[:63]


def schema(workload: Workload, entity: Entity) -> list[sql.Composed]:
    """DDL of one entity: table, declared indexes, search vectors and ref comments."""
    table = ident(entity.name)
    key_types = {e.name: key_type(e) for e in workload.dataset.entities}
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(ident(name), sql.SQL(column_type(spec, key_types)),
                                  sql.SQL(" PRIMARY KEY") if name == entity.key else sql.SQL(""))
        for name, spec in entity.fields.items()
    )
    ddl: list[sql.Composed] = [
        sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(table),
        sql.SQL("CREATE TABLE {} ({})").format(table, columns),
    ]
    for number, index in enumerate(entity.indexes):
        ddl.append(sql.SQL("CREATE {}INDEX {} ON {} ({})").format(
            sql.SQL("UNIQUE ") if index.unique else sql.SQL(""),
            ident(f"{entity.name}_idx{number}_{'_'.join(index.fields)}"[:63]),
            table, sql.SQL(", ").join(map(ident, index.fields)),
        ))
    searched = {op.text_fields for op in workload.operations
                if op.kind is OperationKind.SEARCH and op.entity == entity.name}
    for fields in sorted(searched):
        column = search_column(fields)
        vector = sql.SQL(" || ").join(
            sql.SQL("to_tsvector({}, coalesce({}, ''))").format(TEXT_CONFIG, ident(f)) for f in fields)
        ddl.append(sql.SQL("ALTER TABLE {} ADD COLUMN {} tsvector GENERATED ALWAYS AS ({}) STORED").format(
            table, ident(column), vector))
        ddl.append(sql.SQL("CREATE INDEX {} ON {} USING gin ({})").format(
            ident(f"{entity.name}_{column}"[:63]), table, ident(column)))
    for name, spec in entity.fields.items():
        if isinstance(spec, RefField):
            ddl.append(sql.SQL("COMMENT ON COLUMN {} IS {}").format(
                ident(entity.name, name), sql.Literal(REF_COMMENT.format(spec.entity))))
    return ddl


def positional(query: str) -> str:
    """psycopg's %s placeholders as PostgreSQL's $1, $2... (for PREPARE)."""
    numbers = itertools.count(1)
    return re.sub(r"%%|%s", lambda m: "%" if m.group() == "%%" else f"${next(numbers)}", query)


def tsquery_text(terms: Sequence[str]) -> str:
    """'a' | 'b': any of the terms, each quoted so no word is read as tsquery syntax."""
    return " | ".join("'" + term.replace("\\", "\\\\").replace("'", "''") + "'" for term in terms)


def build(op: Operation, entity: Entity, edges: tuple[str, str] | None = None) -> Statement:
    """The statement of one operation; `edges` = the (from, to) columns of a traverse's edge table."""
    kind = op.kind
    if kind is OperationKind.TRAVERSE:
        assert edges is not None and op.edges is not None
        return _traverse(op, entity, op.edges, edges)
    if kind is OperationKind.NATIVE:
        return Statement(sql.SQL(op.statements["postgres"]),  # type: ignore[arg-type]
                         lambda key, values: {"key": key, **(values or {})}, Result.ANY)
    if kind in (OperationKind.INSERT, OperationKind.UPDATE):
        return _write(op, entity)
    table, key = ident(entity.name), ident(entity.key)
    projection = sql.SQL(", ").join(ident(entity.name, f) for f in op.project or entity.fields)
    by_key: Arguments = lambda key, values: (key,)  # noqa: E731
    if kind is OperationKind.READ:
        return Statement(sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(projection, table, key),
                         by_key, Result.ROWS)
    if kind is OperationKind.DELETE:
        return Statement(sql.SQL("DELETE FROM {} WHERE {} = %s").format(table, key), by_key, Result.ROWCOUNT)
    if kind is OperationKind.SCAN:
        return Statement(sql.SQL("SELECT {} FROM {} WHERE {} >= %s ORDER BY {} LIMIT {}").format(
            projection, table, key, key, sql.Literal(op.limit or SCAN_LIMIT)), by_key, Result.ROWS)
    return _filtered(op, entity, projection)


def _write(op: Operation, entity: Entity) -> Statement:
    table, names = ident(entity.name), list(entity.fields)
    json_fields = {n for n, s in entity.fields.items() if isinstance(s, JsonField)}

    def adapt(name: str, value: Any) -> Any:
        return Jsonb(json.loads(value)) if name in json_fields and isinstance(value, str) else value

    if op.kind is OperationKind.INSERT:
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            table, sql.SQL(", ").join(map(ident, names)), sql.SQL(", ").join(sql.Placeholder() for _ in names))
        return Statement(query, lambda key, values: [adapt(n, given(values)[n]) for n in names], Result.ROWCOUNT)
    # Whole fields get a value; "attributes.k1" sets one key inside the jsonb column (jsonb_set).
    paths: dict[str, list[str]] = {}
    for path in op.set:
        paths.setdefault(path.split(".", 1)[0], []).append(path)
    assignments: list[sql.Composable] = []
    order: list[str] = []
    for field, field_paths in paths.items():
        expression: sql.Composable = sql.SQL("coalesce({}, '{{}}')").format(ident(field))
        if field in field_paths:
            expression = sql.Placeholder()
            order.append(field)
        for path in (p for p in field_paths if p != field):
            expression = sql.SQL("jsonb_set({}, {}, to_jsonb(%s::text))").format(
                expression, sql.Literal(path.split(".")[1:]))
            order.append(path)
        assignments.append(sql.SQL("{} = {}").format(ident(field), expression))
    query = sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
        table, sql.SQL(", ").join(assignments), ident(entity.key))
    return Statement(query, lambda key, values: [*(adapt(p, given(values)[p]) for p in order), key],
                     Result.ROWCOUNT)


def _tail(op: Operation, entity: Entity) -> sql.Composable:
    tail: sql.Composable = sql.SQL("")
    if op.sort is not None:
        tail += sql.SQL(" ORDER BY {} {}").format(ident(entity.name, op.sort.field), sql.SQL(op.sort.order.upper()))
    if op.limit is not None:
        tail += sql.SQL(" LIMIT {}").format(sql.Literal(op.limit))
    return tail


def _filtered(op: Operation, entity: Entity, projection: sql.Composable) -> Statement:
    """find, range, aggregate and search: equality on match + filter fields, then each kind's own part."""
    name, kind = entity.name, op.kind
    conditions = [sql.SQL("{} = %s").format(ident(name, f)) for f in (*op.match, *op.filter)]
    constants = list(op.filter.values())
    if kind is OperationKind.SEARCH:
        column = ident(name, search_column(op.text_fields))
        conditions.insert(0, sql.SQL("{} @@ dbarena_query").format(column))
        query = sql.SQL("SELECT {} FROM {}, to_tsquery({}, %s) AS dbarena_query WHERE {}"
                        " ORDER BY ts_rank({}, dbarena_query) DESC, {} LIMIT {}").format(
            projection, ident(name), TEXT_CONFIG, sql.SQL(" AND ").join(conditions), column,
            ident(name, entity.key), sql.Literal(op.limit or SEARCH_LIMIT))
        return Statement(query, lambda key, values: [
            tsquery_text(given(values)["_terms"]), *(given(values)[f] for f in op.match), *constants], Result.ROWS)
    if kind is OperationKind.FIND:
        query = sql.SQL("SELECT {} FROM {} WHERE {}").format(projection, ident(name), sql.SQL(" AND ").join(conditions))
        return Statement(query + _tail(op, entity), lambda key, values: [
            *(given(values)[f] for f in op.match), *constants], Result.ROWS)
    assert op.range_field is not None
    bounded = ident(name, op.range_field)
    conditions.append(sql.SQL("{} BETWEEN %s AND %s").format(bounded))
    where = sql.SQL(" AND ").join(conditions)

    def window(key: Any, values: Mapping[str, Any] | None) -> list[Any]:
        values = given(values)
        return [*(values[f] for f in op.match), *constants, values["_from"], values["_to"]]

    if kind is OperationKind.RANGE:
        query = sql.SQL("SELECT {} FROM {} WHERE {}").format(projection, ident(name), where)
        return Statement(query + _tail(op, entity), window, Result.ROWS)
    assert op.function is not None and op.value_field is not None and op.bucket_s is not None
    if isinstance(entity.fields[op.range_field], TimestampField):
        bucket = sql.SQL("date_bin(make_interval(secs => {}), {}, {})").format(
            sql.Literal(float(op.bucket_s)), bounded, BUCKET_ORIGIN)
    else:
        bucket = sql.SQL("floor({} / {}) * {}").format(bounded, sql.Literal(op.bucket_s), sql.Literal(op.bucket_s))
    groups = [ident(name, f) for f in op.group_by]
    keys = sql.SQL(", ").join([*groups, sql.SQL("bucket")])
    query = sql.SQL("SELECT {}, {} AS bucket, {}({}) AS value FROM {} WHERE {} GROUP BY {} ORDER BY {}").format(
        sql.SQL(", ").join(groups) if groups else sql.SQL("NULL AS series"), bucket,
        sql.SQL(AGGREGATES[op.function]), ident(name, op.value_field), ident(name), where, keys, keys)
    return Statement(query, window, Result.ROWS)


def _traverse(op: Operation, nodes: Entity, edge_table: str, edges: tuple[str, str]) -> Statement:
    table, (source, target) = ident(edge_table), map(ident, edges)
    start = sql.SQL("%s::{}").format(sql.SQL(key_type(nodes)))
    hops = sql.Literal(op.hops)
    if op.pattern == "shortest-path":
        query = sql.SQL(
            "WITH RECURSIVE bfs(node, depth) AS (SELECT {start}, 0 UNION"
            " SELECT e.{target}, b.depth + 1 FROM bfs b JOIN {table} e ON e.{source} = b.node WHERE b.depth < {hops})"
            " SELECT coalesce((SELECT depth FROM bfs WHERE node = %s LIMIT 1), 0)"
        ).format(start=start, target=target, table=table, source=source, hops=hops)
        return Statement(query, lambda key, values: (key, given(values)["_to"]), Result.SCALAR)
    if op.pattern == "mutual":
        # DISTINCT: parallel edges count once; a self-follow is not a mutual follow
        query = sql.SQL(
            "SELECT DISTINCT a.{target} AS node FROM {table} a JOIN {table} b ON b.{source} = a.{target}"
            " AND b.{target} = a.{source} WHERE a.{source} = %s AND a.{target} <> a.{source}"
        ).format(table=table, source=source, target=target)
        arguments: Arguments = lambda key, values: (key,)  # noqa: E731
    else:
        # nodes at the end of a walk of exactly `hops` edges; UNION keeps (node, depth) distinct
        query = sql.SQL(
            "WITH RECURSIVE walk(node, depth) AS (SELECT {start}, 0 UNION"
            " SELECT e.{target}, w.depth + 1 FROM walk w JOIN {table} e ON e.{source} = w.node WHERE w.depth < {hops})"
            " SELECT node FROM walk WHERE depth = {hops} AND node <> %s{limit}"
        ).format(start=start, target=target, table=table, source=source, hops=hops,
                 limit=sql.SQL(" LIMIT {}").format(sql.Literal(op.limit)) if op.limit else sql.SQL(""))
        arguments = lambda key, values: (key, key)  # noqa: E731
    if op.project:
        query = sql.SQL("SELECT {} FROM {} JOIN ({}) AS reached ON {} = reached.node").format(
            sql.SQL(", ").join(ident(nodes.name, f) for f in op.project), ident(nodes.name), query,
            ident(nodes.name, nodes.key))
    return Statement(query, arguments, Result.ROWS)
