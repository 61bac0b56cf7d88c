"""The Cypher of the Neo4j adapter: one statement per operation (schema and bulk load: schema.py).

Pure: no server, no driver. `build(op, workload)` returns a `Statement`: the Cypher, the
function that turns the executor's one typed argument (harness.engines.calls) into its
parameters, and how the result is counted; the adapter builds it once per bind, and
EXPLAIN (PROFILE) runs exactly the same thing. `FORMS` is the one table of what each kind
of operation sends: its Cypher builder, its parameter builder and its count.

Mapping. A node entity `users` is the label `:users`; its key is a property under a
uniqueness constraint and its declared indexes are range indexes (unique ones: uniqueness
constraints). An edge entity (two `ref` fields to the same node entity, e.g. `follows`: src,
dst) is loaded as relationships of type `FOLLOWS` from the src node to the dst node, carrying
its other fields; the end nodes are matched by the node entity's key field, as the workload
declares it. Neo4j properties cannot be maps, so a JSON field is stored as its JSON string;
tags are lists of strings, timestamps zoned datetimes. Names (labels, types, properties) are
quoted into the text; every value is a parameter.

- traverse: variable-length patterns over the edge entity's relationships; Cypher never
  repeats an edge within one path. Neo4j refuses `shortestPath` between a node and itself,
  hence `a <> b` (no path: 0 hops).
- search: a full-text (Lucene) index per set of text fields, `db.index.fulltext.queryNodes`
  with any of the terms; the top hits by score.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from harness.engines.calls import Change, Match, Pair, Params, Query, Record, Scan, Window
from harness.errors import HarnessBug, UnsupportedOperation
from harness.spec.models import (
    AggregateOp,
    DeleteOp,
    Entity,
    FindOp,
    InsertOp,
    NativeOp,
    Operation,
    OperationBase,
    OperationKind,
    RangeOp,
    ReadOp,
    RefField,
    ScanOp,
    SearchOp,
    Selecting,
    TraverseOp,
    UpdateOp,
    Workload,
    nested_paths,
    ttl_of,
)

ENGINE = "neo4j"  # the key of a native operation's Cypher

# the executor's call argument -> the statement's parameters
Parameters = Callable[[Any], dict[str, Any]]


# ---- names and values -----------------------------------------------------------------


def ident(name: str) -> str:
    """A label, type or property name quoted for Cypher (names cannot be parameters)."""
    return "`" + name.replace("`", "``") + "`"


def property_value(value: Any) -> Any:
    """A record value as a Neo4j property: maps (not allowed as properties) become JSON strings."""
    return json.dumps(value, separators=(",", ":")) if isinstance(value, dict) else value


def relationship_type(entity: str) -> str:
    return entity.upper()


def fulltext_index(entity: str, fields: Sequence[str]) -> str:
    return f"dbarena_{entity}_text_{'_'.join(fields)}"


def lucene_query(terms: Sequence[str]) -> str:
    """Any of the terms (Lucene's default OR), each quoted so no word is read as syntax."""
    return " OR ".join('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in terms)


# ---- where an entity's records live ------------------------------------------------------


def edge_ends(entity: Entity) -> tuple[str, str, str] | None:
    """(node entity, from field, to field) when `entity` is an edge: two refs to one node entity."""
    refs = [(name, spec.entity) for name, spec in entity.fields.items() if isinstance(spec, RefField)]
    for target in dict.fromkeys(t for _, t in refs):
        names = [name for name, t in refs if t == target]
        if len(names) >= 2:
            return target, names[0], names[1]
    return None


@dataclass(frozen=True)
class Ends:
    """The end nodes of an edge entity's relationships: their label and key property, and the
    edge's fields holding the from and to node keys."""

    node: str
    key: str
    src: str
    dst: str


@dataclass(frozen=True)
class Shape:
    """Where an entity's records live: nodes `(n:L)`, or relationships `(a:P)-[n:T]->(b:P)`.

    The record variable is `n` either way; `field` maps a field to the expression holding it
    (an edge's src/dst are the end nodes' keys).
    """

    entity: Entity
    ends: Ends | None = None

    @property
    def is_edge(self) -> bool:
        return self.ends is not None

    @property
    def ref_fields(self) -> tuple[str, ...]:
        """The fields that are the end nodes' keys (an edge's src and dst), not properties."""
        return () if self.ends is None else (self.ends.src, self.ends.dst)

    def pattern(self, key_param: str | None = None) -> str:
        key = f" {{{ident(self.entity.key)}: ${key_param}}}" if key_param else ""
        if self.ends is None:
            return f"(n:{ident(self.entity.name)}{key})"
        node = ident(self.ends.node)
        return f"(a:{node})-[n:{ident(relationship_type(self.entity.name))}{key}]->(b:{node})"

    def field(self, name: str) -> str:
        if self.ends is not None and name in self.ref_fields:
            return f"{'a' if name == self.ends.src else 'b'}.{ident(self.ends.key)}"
        return f"n.{ident(name)}"

    def projection(self, fields: Sequence[str]) -> str:
        if fields:
            return "{" + ", ".join(f"{ident(f)}: {self.field(f)}" for f in fields) + "}"
        if self.ends is None:
            return "n {.*}"
        return "n {.*, " + ", ".join(f"{ident(f)}: {self.field(f)}" for f in self.ref_fields) + "}"


def shape_of(entity: Entity, workload: Workload) -> Shape:
    """An entity's shape; an edge's end nodes are keyed by their node entity's key field."""
    ends = edge_ends(entity)
    if ends is None:
        return Shape(entity)
    node, src, dst = ends
    return Shape(entity, Ends(node, workload.entity(node).key, src, dst))


def shapes(workload: Workload) -> dict[str, Shape]:
    """Every entity's shape, by entity name."""
    return {entity.name: shape_of(entity, workload) for entity in workload.dataset.entities}


# ---- edge records -------------------------------------------------------------------------


def edge_create(shape: Shape, ends: Ends, prefix: str) -> str:
    """Properties as a map literal: `SET n = map` makes the planner add an Eager (it may clash with the MATCH)."""
    node, key = ident(ends.node), ident(ends.key)
    props = ", ".join(f"{ident(f)}: {prefix}props.{ident(f)}" for f in shape.entity.fields if f not in shape.ref_fields)
    return (f"MATCH (a:{node} {{{key}: {prefix}src}}), (b:{node} {{{key}: {prefix}dst}}) "
            f"CREATE (a)-[n:{ident(relationship_type(shape.entity.name))} {{{props}}}]->(b)")


def edge_row(ends: Ends, record: Mapping[str, Any]) -> dict[str, Any]:
    """An edge record as `edge_create`'s parameters: the end nodes' keys and the other fields."""
    return {"src": record[ends.src], "dst": record[ends.dst],
            "props": {k: property_value(v) for k, v in record.items() if k not in (ends.src, ends.dst)}}


def node_row(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: property_value(v) for k, v in record.items()}


# ---- operations: what Neo4j cannot express -------------------------------------------------


def refusal(op: Operation, workload: Workload) -> str | None:
    """Why Cypher (as this adapter maps the workload) cannot express `op`, or None."""
    if isinstance(op, AggregateOp):
        return (f"{ENGINE} has no time-bucket aggregation; bucketing datetimes by hand in Cypher over a "
                "label scan would measure a workaround, not the engine")
    if ttl_of(op) is not None:
        return f"{ENGINE} cannot expire nodes (TTL needs the APOC plugin's background job, not part of the server)"
    if nested_paths(op):
        return (f"{ENGINE} properties cannot be maps: a JSON field is one string property, so one nested key "
                "cannot be updated in place")
    if isinstance(op, NativeOp) and ENGINE not in op.statements:
        return f"operation {op.name!r} has no native statement for {ENGINE}"
    shape = shape_of(workload.entity(op.entity), workload)
    if isinstance(op, UpdateOp) and (moved := [f for f in op.set if f in shape.ref_fields]):
        return (f"{ENGINE} cannot update {', '.join(moved)} of {op.entity}: its records are relationships and "
                f"those fields are their end nodes (operation {op.name!r} would move a relationship)")
    if isinstance(op, SearchOp) and shape.is_edge:
        return (f"{ENGINE} has no full-text search over relationships: {op.entity} is stored as relationships "
                f"(operation {op.name!r})")
    return None


# ---- operations: Cypher builders (operation, shape -> text) ----------------------------------


def _returned(op: ReadOp | ScanOp | FindOp | RangeOp | SearchOp, shape: Shape) -> str:
    return f"RETURN {shape.projection(op.project)} AS record"


def _limit(op: FindOp | RangeOp | SearchOp | TraverseOp) -> str:
    return f" LIMIT {op.limit}" if op.limit is not None else ""


def _order(op: FindOp | RangeOp, shape: Shape) -> str:
    return f" ORDER BY {shape.field(op.sort.field)} {op.sort.order.upper()}" if op.sort is not None else ""


def _where(op: Selecting, shape: Shape) -> str:
    """Equality on `match` ($m0, $m1, ...) and `filter` ($f0, ...)."""
    return " AND ".join([*(f"{shape.field(f)} = $m{i}" for i, f in enumerate(op.match)),
                         *(f"{shape.field(f)} = $f{i}" for i, f in enumerate(op.filter))])


def _read(op: ReadOp, shape: Shape) -> str:
    return f"MATCH {shape.pattern('key')} {_returned(op, shape)}"


def _insert(op: InsertOp, shape: Shape) -> str:
    if shape.ends is not None:
        return edge_create(shape, shape.ends, "$")
    return f"CREATE (n:{ident(shape.entity.name)}) SET n = $row"


def _update(op: UpdateOp, shape: Shape) -> str:
    assignments = ", ".join(f"n.{ident(f)} = $v{i}" for i, f in enumerate(op.set))
    return f"MATCH {shape.pattern('key')} SET {assignments} RETURN count(n) AS updated"


def _delete(op: DeleteOp, shape: Shape) -> str:
    return f"MATCH {shape.pattern('key')} {'DELETE' if shape.is_edge else 'DETACH DELETE'} n"


def _scan(op: ScanOp, shape: Shape) -> str:
    key = shape.field(shape.entity.key)
    return (f"MATCH {shape.pattern()} WHERE {key} >= $key {_returned(op, shape)} ORDER BY {key} "
            "LIMIT $length")


def _find(op: FindOp, shape: Shape) -> str:
    return f"MATCH {shape.pattern()} WHERE {_where(op, shape)} {_returned(op, shape)}{_order(op, shape)}{_limit(op)}"


def _range(op: RangeOp, shape: Shape) -> str:
    field = shape.field(op.range_field)
    where = " AND ".join(filter(None, (_where(op, shape), f"{field} >= $lo AND {field} <= $hi")))
    return f"MATCH {shape.pattern()} WHERE {where} {_returned(op, shape)}{_order(op, shape)}{_limit(op)}"


def _search_options(op: SearchOp) -> bool:
    """Whether the index query itself takes the limit (only when nothing filters its hits afterwards)."""
    return op.limit is not None and not (op.match or op.filter)


def _search(op: SearchOp, shape: Shape) -> str:
    where = _where(op, shape)
    options = ", {limit: $limit}" if _search_options(op) else ""
    return (f"CALL db.index.fulltext.queryNodes($index, $query{options}) YIELD node AS n, score "
            f"{'WHERE ' + where + ' ' if where else ''}{_returned(op, shape)} ORDER BY score DESC{_limit(op)}")


def _traversed(op: TraverseOp, shape: Shape) -> tuple[str, str, str]:
    """The node label, its key property and the relationship type a traversal walks."""
    return ident(shape.entity.name), ident(shape.entity.key), ident(relationship_type(op.edges))


def _k_hop(op: TraverseOp, shape: Shape) -> str:
    node, key, rel = _traversed(op, shape)
    return (f"MATCH (s:{node} {{{key}: $key}})-[:{rel}*{op.hops}..{op.hops}]->(f) WHERE f <> s "
            f"RETURN DISTINCT f.{key} AS node{_limit(op)}")


def _mutual(op: TraverseOp, shape: Shape) -> str:
    node, key, rel = _traversed(op, shape)
    return (f"MATCH (s:{node} {{{key}: $key}})-[:{rel}]->(m)-[:{rel}]->(s) WHERE m <> s "
            f"RETURN DISTINCT m.{key} AS node{_limit(op)}")


def _shortest_path(op: TraverseOp, shape: Shape) -> str:
    node, key, rel = _traversed(op, shape)
    return (f"MATCH (a:{node} {{{key}: $key}}), (b:{node} {{{key}: $to}}) WHERE a <> b "
            f"MATCH p = shortestPath((a)-[:{rel}*..{op.hops}]->(b)) RETURN length(p) AS hops")


def _native(op: NativeOp, shape: Shape) -> str:
    (text,) = op.statement_list(ENGINE)  # a list of several is refused before (EngineAdapter.unsupported_reason)
    return text


# ---- operations: parameter builders (operation, shape -> argument -> parameters) -------------


def _by_key(op: OperationBase, shape: Shape) -> Parameters:
    def by_key(key: Any) -> dict[str, Any]:
        return {"key": key}
    return by_key


def _scan_parameters(op: ScanOp, shape: Shape) -> Parameters:
    def scan(call: Scan) -> dict[str, Any]:
        return {"key": call.key, "length": call.length}
    return scan


def _insert_parameters(op: InsertOp, shape: Shape) -> Parameters:
    ends = shape.ends
    if ends is not None:
        def edge(record: Record) -> dict[str, Any]:
            return edge_row(ends, record)
        return edge

    def node(record: Record) -> dict[str, Any]:
        return {"row": node_row(record)}
    return node


def _update_parameters(op: UpdateOp, shape: Shape) -> Parameters:
    assigned = tuple(enumerate(op.set))

    def update(change: Change) -> dict[str, Any]:
        return {"key": change.key, **{f"v{i}": property_value(change.values[f]) for i, f in assigned}}
    return update


def _matching(op: Selecting) -> Callable[[Match], dict[str, Any]]:
    """`match` values of the call ($m0, ...) and the constant `filter` values ($f0, ...)."""
    fixed = {f"f{i}": v for i, v in enumerate(op.filter.values())}
    matched = tuple(enumerate(op.match))

    def matching(match: Match) -> dict[str, Any]:
        return {**fixed, **{f"m{i}": property_value(match[f]) for i, f in matched}}
    return matching


def _find_parameters(op: FindOp, shape: Shape) -> Parameters:
    return _matching(op)


def _range_parameters(op: RangeOp, shape: Shape) -> Parameters:
    matching = _matching(op)

    def window(call: Window) -> dict[str, Any]:
        return {**matching(call.match), "lo": call.low, "hi": call.high}
    return window


def _search_parameters(op: SearchOp, shape: Shape) -> Parameters:
    matching = _matching(op)
    fixed: dict[str, Any] = {"index": fulltext_index(op.entity, op.text_fields)}
    if _search_options(op):
        fixed["limit"] = op.limit

    def search(query: Query) -> dict[str, Any]:
        return {**matching(query.match), **fixed, "query": lucene_query(query.terms)}
    return search


def _pair_parameters(op: TraverseOp, shape: Shape) -> Parameters:
    def pair(call: Pair) -> dict[str, Any]:
        return {"key": call.source, "to": call.target}
    return pair


def _native_parameters(op: NativeOp, shape: Shape) -> Parameters:
    def native(params: Params) -> dict[str, Any]:
        return dict(params)
    return native


# ---- the table ------------------------------------------------------------------------------


class Count(Enum):
    """How an executor counts what its statement did (the records touched or returned)."""

    ROWS = "rows"  # fetch every row; the number of rows
    SINGLE = "single"  # the one row's one value (records updated, a path's length); 0 without a row
    CREATED = "created"  # the summary counter nodes_created (relationships_created for an edge entity)
    DELETED = "deleted"  # the summary counter nodes_deleted (relationships_deleted)


@dataclass(frozen=True)
class Form:
    """What one kind of operation sends: Cypher, parameters (built once per bind), and its count."""

    op_type: type[OperationBase]
    cypher: Callable[[Any, Shape], str]
    parameters: Callable[[Any, Shape], Parameters]
    count: Count


# Keyed by kind; a traversal's patterns are rows of their own (shortest-path takes a Pair).
FORMS: dict[str, Form] = {
    "insert": Form(InsertOp, _insert, _insert_parameters, Count.CREATED),
    "read": Form(ReadOp, _read, _by_key, Count.ROWS),
    "update": Form(UpdateOp, _update, _update_parameters, Count.SINGLE),
    "delete": Form(DeleteOp, _delete, _by_key, Count.DELETED),
    "scan": Form(ScanOp, _scan, _scan_parameters, Count.ROWS),
    "find": Form(FindOp, _find, _find_parameters, Count.ROWS),
    "range": Form(RangeOp, _range, _range_parameters, Count.ROWS),
    "search": Form(SearchOp, _search, _search_parameters, Count.ROWS),
    "traverse k-hop": Form(TraverseOp, _k_hop, _by_key, Count.ROWS),
    "traverse mutual": Form(TraverseOp, _mutual, _by_key, Count.ROWS),
    "traverse shortest-path": Form(TraverseOp, _shortest_path, _pair_parameters, Count.SINGLE),
    "native": Form(NativeOp, _native, _native_parameters, Count.ROWS),
}
SUPPORTED_KINDS = frozenset(OperationKind(name.split(" ")[0]) for name in FORMS)


def form_name(op: Operation) -> str:
    """The row of `FORMS` that maps `op`."""
    return f"{op.kind.value} {op.pattern}" if isinstance(op, TraverseOp) else op.kind.value


@dataclass(frozen=True)
class Statement:
    """The Cypher of one operation, how its call argument becomes the parameters, and what is counted."""

    cypher: str
    parameters: Parameters
    count: Count
    counter: str = ""  # CREATED / DELETED: the summary counter read ("nodes_created", ...)


def build(op: Operation, workload: Workload) -> Statement:
    """The statement of `op` of `workload`; UnsupportedOperation when Cypher cannot express it."""
    reason = refusal(op, workload)
    form = FORMS.get(form_name(op))
    if reason is not None or form is None:
        raise UnsupportedOperation(reason or f"{ENGINE} has no mapping for '{op.kind.value}' operations")
    if not isinstance(op, form.op_type):
        raise HarnessBug(f"neo4j statements: {form_name(op)!r} maps {form.op_type.__name__}, got {type(op).__name__}")
    shape = shape_of(workload.entity(op.entity), workload)
    counter = ""
    if form.count in (Count.CREATED, Count.DELETED):
        counter = f"{'relationships' if shape.is_edge else 'nodes'}_{form.count.value}"
    return Statement(form.cypher(op, shape), form.parameters(op, shape), form.count, counter)
