"""The SQL of the PostgreSQL adapter: column types, schema, and one statement per operation.

Pure: no server, no connection. `build(op, workload)` returns a `Statement` pairing the SQL
with the function that turns the executor's one typed argument (harness.engines.calls) into
its parameters, so the executor and EXPLAIN always run exactly the same thing; the adapter
builds it once per bind. Reads name their columns (never `SELECT *`): the search vector is
the adapter's column, not the record's.

- range / aggregate: equality on `match` and `filter`, then `range_field BETWEEN lo AND hi`,
  so a composite index (category, price) or (host, ts) serves the whole predicate.
- search: a stored generated `tsvector` column per set of text fields (GIN-indexed), queried
  with `to_tsquery('simple', 'a' | 'b')` (any term) and ranked by `ts_rank`. 'simple' because
  the words are synthetic: stemming and stop words would only distort them.
- traverse: breadth-first recursive CTEs over the edge table, whose (from, to) columns are the
  edge entity's two ref fields to the node entity, in declaration order. `UNION` removes
  repeated (node, depth) rows, so each level is a distinct frontier and walks never explode;
  the recursion is evaluated lazily, so a LIMIT stops it at the first answer (BFS order).
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
from typing import Any, Generic, TypeVar

from psycopg import sql
from psycopg.types.json import Jsonb

from harness.engines.calls import Change, Match, Pair, Params, Query, Record, Scan, Window
from harness.engines.limits import SEARCH_LIMIT
from harness.errors import HarnessBug
from harness.spec.models import (
    AggregateOp,
    BoolField,
    DeleteOp,
    Entity,
    FieldSpec,
    FindOp,
    FloatField,
    InsertOp,
    IntField,
    JsonField,
    NativeOp,
    Operation,
    RangeOp,
    ReadOp,
    RefField,
    ScanOp,
    SearchOp,
    TagsField,
    TimestampField,
    TraverseOp,
    UpdateOp,
    UuidField,
    Workload,
)

TEXT_CONFIG = sql.Literal("simple")
# date_bin's origin, with an explicit offset so buckets never depend on the session's time zone
BUCKET_ORIGIN = sql.SQL("TIMESTAMPTZ '2000-01-01 00:00:00+00'")
# field type -> column type (every other field is text; a ref takes its target's key type)
COLUMN_TYPES: dict[type[Any], str] = {
    IntField: "bigint", FloatField: "double precision", BoolField: "boolean", UuidField: "uuid",
    TimestampField: "timestamptz", JsonField: "jsonb", TagsField: "text[]",
}
AGGREGATES = {"mean": "avg", "sum": "sum", "count": "count", "min": "min", "max": "max"}

ArgT = TypeVar("ArgT")
# what psycopg executes with: positional values for %s, a mapping for %(name)s (native statements)
Parameters = Sequence[Any] | Mapping[str, Any]


class Result(Enum):
    ROWS = "rows"  # fetch every row; the count is the result
    ROWCOUNT = "rowcount"  # a write: rows affected
    SCALAR = "scalar"  # one value is the answer (shortest-path length)
    ANY = "any"  # native statements: rows if it returns any, else rows affected


@dataclass(frozen=True)
class Statement(Generic[ArgT]):
    """The SQL of one operation, how its call argument becomes the parameters, and what is counted."""

    query: sql.Composable
    parameters: Callable[[ArgT], Parameters]
    result: Result


# ---- schema ---------------------------------------------------------------------------


def column_type(spec: FieldSpec, key_types: Mapping[str, str] | None = None) -> str:
    """A field's column type; a ref takes the type of the key it references."""
    if isinstance(spec, RefField):
        return (key_types or {}).get(spec.entity, "text")
    return COLUMN_TYPES.get(type(spec), "text")


def key_type(entity: Entity) -> str:
    return column_type(entity.fields[entity.key])


def ident(*names: str) -> sql.Identifier:
    return sql.Identifier(*names)


def search_column(text_fields: Sequence[str]) -> str:
    return f"fts_{'_'.join(text_fields)}"[:63]


def schema(workload: Workload, entity: Entity) -> list[sql.Composed]:
    """DDL of one entity: table, declared indexes and search vectors."""
    table = ident(entity.name)
    key_types = {e.name: key_type(e) for e in workload.dataset.entities}
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(ident(name), sql.SQL(column_type(spec, key_types)),
                                  sql.SQL(" PRIMARY KEY") if name == entity.key and entity.primary_key else sql.SQL(""))
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
    searched = {op.text_fields for op in workload.operations if isinstance(op, SearchOp) and op.entity == entity.name}
    for fields in sorted(searched):
        column = search_column(fields)
        vector = sql.SQL(" || ").join(
            sql.SQL("to_tsvector({}, coalesce({}, ''))").format(TEXT_CONFIG, ident(f)) for f in fields)
        ddl.append(sql.SQL("ALTER TABLE {} ADD COLUMN {} tsvector GENERATED ALWAYS AS ({}) STORED").format(
            table, ident(column), vector))
        ddl.append(sql.SQL("CREATE INDEX {} ON {} USING gin ({})").format(
            ident(f"{entity.name}_{column}"[:63]), table, ident(column)))
    return ddl


def positional(query: str) -> str:
    """psycopg's %s placeholders as PostgreSQL's $1, $2... (for PREPARE)."""
    numbers = itertools.count(1)
    return re.sub(r"%%|%s", lambda m: "%" if m.group() == "%%" else f"${next(numbers)}", query)


def tsquery_text(terms: Sequence[str]) -> str:
    """'a' | 'b': any of the terms, each quoted so no word is read as tsquery syntax."""
    return " | ".join("'" + term.replace("\\", "\\\\").replace("'", "''") + "'" for term in terms)


def edge_columns(op: TraverseOp, workload: Workload) -> tuple[str, str]:
    """(from, to) columns of a traversal's edge table: its entity's first two ref fields to the nodes."""
    refs = [name for name, spec in workload.entity(op.edges).fields.items()
            if isinstance(spec, RefField) and spec.entity == op.entity]
    if len(refs) < 2:  # the spec loader refuses such a workload
        raise HarnessBug(f"edge entity {op.edges!r} has no two ref fields to {op.entity!r}")
    return refs[0], refs[1]


# ---- one statement per operation ------------------------------------------------------


def build(op: Operation, workload: Workload) -> Statement[Any]:
    """The statement of one operation of `workload`, for the call argument of its kind."""
    entity = workload.entity(op.entity)
    if isinstance(op, TraverseOp):
        return _traverse(op, entity, edge_columns(op, workload))
    if isinstance(op, NativeOp):
        return _positional_native(op.statement_list("postgres")[0])  # as a transaction's: only the names it uses
    if isinstance(op, InsertOp):
        return _insert(entity)
    if isinstance(op, UpdateOp):
        return _update(op, entity)
    if isinstance(op, (ReadOp, DeleteOp, ScanOp)):
        return _by_key(op, entity)
    if isinstance(op, (FindOp, SearchOp)):
        return _find(op, entity) if isinstance(op, FindOp) else _search(op, entity)
    return _windowed(op, entity)


@dataclass(frozen=True)
class Transaction:
    """A native operation's list of statements, run in order as one transaction and timed as one call.

    Each statement's `%(name)s` placeholders are positional `%s` here (in order of appearance),
    so every statement can be prepared once per connection like the built-in ones; its
    `parameters` picks the named values out of the call's Params.
    """

    statements: tuple[Statement[Params], ...]
    texts: tuple[str, ...]  # the statements as written (named placeholders), for EXPLAIN and the cursor path


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def transaction(op: NativeOp) -> Transaction:
    """The statements of a native operation whose PostgreSQL entry is a list (see NativeOp)."""
    texts = op.statement_list("postgres")
    return Transaction(tuple(_positional_native(text) for text in texts), texts)


def _positional_native(text: str) -> Statement[Params]:
    names = tuple(_PLACEHOLDER.findall(text))

    def parameters(params: Params) -> Parameters:
        return [params[name] for name in names]

    return Statement[Params](sql.SQL(_PLACEHOLDER.sub("%s", text)), parameters, Result.ANY)


def _key_only(key: Any) -> Parameters:
    return (key,)


def _projection(project: tuple[str, ...], entity: Entity) -> sql.Composable:
    return sql.SQL(", ").join(ident(entity.name, f) for f in project or entity.fields)


def _by_key(op: ReadOp | DeleteOp | ScanOp, entity: Entity) -> Statement[Any]:
    table, key = ident(entity.name), ident(entity.key)
    if isinstance(op, DeleteOp):
        return Statement(sql.SQL("DELETE FROM {} WHERE {} = %s").format(table, key), _key_only, Result.ROWCOUNT)
    projection = _projection(op.project, entity)
    if isinstance(op, ReadOp):
        return Statement(sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(projection, table, key),
                         _key_only, Result.ROWS)
    return Statement(sql.SQL("SELECT {} FROM {} WHERE {} >= %s ORDER BY {} LIMIT %s").format(
        projection, table, key, key), _scan_parameters, Result.ROWS)


def _scan_parameters(scan: Scan) -> Parameters:
    return (scan.key, scan.length)


def _json_adapter(entity: Entity) -> Callable[[str, Any], Any]:
    """value -> what psycopg sends: json fields (generated as JSON text) as jsonb."""
    json_fields = {n for n, s in entity.fields.items() if isinstance(s, JsonField)}

    def adapt(name: str, value: Any) -> Any:
        return Jsonb(json.loads(value)) if name in json_fields and isinstance(value, str) else value

    return adapt


def _insert(entity: Entity) -> Statement[Record]:
    names, adapt = list(entity.fields), _json_adapter(entity)
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        ident(entity.name), sql.SQL(", ").join(map(ident, names)), sql.SQL(", ").join(sql.Placeholder() for _ in names))
    return Statement(query, lambda record: [adapt(n, record[n]) for n in names], Result.ROWCOUNT)


def _update(op: UpdateOp, entity: Entity) -> Statement[Change]:
    """Whole fields get a value; "attributes.k1" sets one key inside the jsonb column (jsonb_set)."""
    paths: dict[str, list[str]] = {}
    for path in op.set:
        paths.setdefault(path.split(".", 1)[0], []).append(path)
    assignments: list[sql.Composable] = []
    order: list[str] = []  # the `set` paths in the order of their placeholders
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
        ident(entity.name), sql.SQL(", ").join(assignments), ident(entity.key))
    adapt = _json_adapter(entity)
    return Statement(query, lambda change: [*(adapt(p, change.values[p]) for p in order), change.key],
                     Result.ROWCOUNT)


def _equalities(op: FindOp | RangeOp | AggregateOp | SearchOp, entity: Entity) -> list[sql.Composable]:
    """`field = %s` for the match fields, then the filter fields (their values: constants)."""
    return [sql.SQL("{} = %s").format(ident(entity.name, f)) for f in (*op.match, *op.filter)]


def _tail(op: FindOp | RangeOp, entity: Entity) -> sql.Composable:
    tail: sql.Composable = sql.SQL("")
    if op.sort is not None:
        tail += sql.SQL(" ORDER BY {} {}").format(ident(entity.name, op.sort.field), sql.SQL(op.sort.order.upper()))
    if op.limit is not None:
        tail += sql.SQL(" LIMIT {}").format(sql.Literal(op.limit))
    return tail


def _find(op: FindOp, entity: Entity) -> Statement[Match]:
    fields, constants = op.match, tuple(op.filter.values())
    query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        _projection(op.project, entity), ident(entity.name), sql.SQL(" AND ").join(_equalities(op, entity)))
    return Statement(query + _tail(op, entity), lambda match: [*(match[f] for f in fields), *constants],
                     Result.ROWS)


def _search(op: SearchOp, entity: Entity) -> Statement[Query]:
    name, fields, constants = entity.name, op.match, tuple(op.filter.values())
    column = ident(name, search_column(op.text_fields))
    conditions = [sql.SQL("{} @@ dbarena_query").format(column), *_equalities(op, entity)]
    query = sql.SQL("SELECT {} FROM {}, to_tsquery({}, %s) AS dbarena_query WHERE {}"
                    " ORDER BY ts_rank({}, dbarena_query) DESC, {} LIMIT {}").format(
        _projection(op.project, entity), ident(name), TEXT_CONFIG, sql.SQL(" AND ").join(conditions), column,
        ident(name, entity.key), sql.Literal(op.limit or SEARCH_LIMIT))
    return Statement(query, lambda q: [tsquery_text(q.terms), *(q.match[f] for f in fields), *constants],
                     Result.ROWS)


def _windowed(op: RangeOp | AggregateOp, entity: Entity) -> Statement[Window]:
    """range and aggregate: equality on match + filter, then `range_field BETWEEN low AND high`."""
    name, fields, constants = entity.name, op.match, tuple(op.filter.values())
    bounded = ident(name, op.range_field)
    where = sql.SQL(" AND ").join([*_equalities(op, entity), sql.SQL("{} BETWEEN %s AND %s").format(bounded)])

    def window(w: Window) -> Parameters:
        return [*(w.match[f] for f in fields), *constants, w.low, w.high]

    if isinstance(op, RangeOp):
        query = sql.SQL("SELECT {} FROM {} WHERE {}").format(_projection(op.project, entity), ident(name), where)
        return Statement(query + _tail(op, entity), window, Result.ROWS)
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


def _traverse(op: TraverseOp, nodes: Entity, edges: tuple[str, str]) -> Statement[Any]:
    table, (source, target) = ident(op.edges), map(ident, edges)
    start = sql.SQL("%s::{}").format(sql.SQL(key_type(nodes)))
    hops = sql.Literal(op.hops)
    if op.pattern == "shortest-path":
        query = sql.SQL(
            "WITH RECURSIVE bfs(node, depth) AS (SELECT {start}, 0 UNION"
            " SELECT e.{target}, b.depth + 1 FROM bfs b JOIN {table} e ON e.{source} = b.node WHERE b.depth < {hops})"
            " SELECT coalesce((SELECT depth FROM bfs WHERE node = %s LIMIT 1), 0)"
        ).format(start=start, target=target, table=table, source=source, hops=hops)
        return Statement[Pair](query, lambda pair: (pair.source, pair.target), Result.SCALAR)
    parameters: Callable[[Any], Parameters]
    if op.pattern == "mutual":
        # DISTINCT: parallel edges count once; a self-follow is not a mutual follow
        query = sql.SQL(
            "SELECT DISTINCT a.{target} AS node FROM {table} a JOIN {table} b ON b.{source} = a.{target}"
            " AND b.{target} = a.{source} WHERE a.{source} = %s AND a.{target} <> a.{source}"
        ).format(table=table, source=source, target=target)
        parameters = _key_only
    else:
        # nodes at the end of a walk of exactly `hops` edges; UNION keeps (node, depth) distinct
        query = sql.SQL(
            "WITH RECURSIVE walk(node, depth) AS (SELECT {start}, 0 UNION"
            " SELECT e.{target}, w.depth + 1 FROM walk w JOIN {table} e ON e.{source} = w.node WHERE w.depth < {hops})"
            " SELECT node FROM walk WHERE depth = {hops} AND node <> %s{limit}"
        ).format(start=start, target=target, table=table, source=source, hops=hops,
                 limit=sql.SQL(" LIMIT {}").format(sql.Literal(op.limit)) if op.limit else sql.SQL(""))
        parameters = lambda key: (key, key)  # noqa: E731
    if op.project:
        query = sql.SQL("SELECT {} FROM {} JOIN ({}) AS reached ON {} = reached.node").format(
            sql.SQL(", ").join(ident(nodes.name, f) for f in op.project), ident(nodes.name), query,
            ident(nodes.name, nodes.key))
    return Statement(query, parameters, Result.ROWS)
