"""Operation + entity -> what the search engines receive: index mappings and query DSL bodies.

No server, no client library: everything here is pure and deterministic, so the golden tests
(tests/engines/search/test_statements.py) check every request body with no engine running.

`build(op, entity)` is called once per bind. It fixes everything a call does not change (the
index, `_source`, sort, size, the constant `filter` terms, the composite aggregation's sources
and metric) and returns a statement whose functions turn the call's one typed argument
(harness/engines/calls.py) into the document id and the request body:

    kind        statement   argument -> request
    read        Get         key -> GET /index/_doc/<key>
    delete      Delete      key -> DELETE /index/_doc/<key>
    insert      Index       record -> PUT /index/_doc/<record key> with the record as document
    update      Update      Change -> POST /index/_update/<key> with {"doc": the new values}
    scan        Search      Scan -> `length` ids from `key` up, sorted by key
    find        Search      match -> a filter per `match` and `filter` field
    range       Search      Window -> those filters plus `range_field` in [low, high]
    search      Search      Query -> `multi_match` of the terms (BM25) plus the filters
    aggregate   Aggregate   Window -> a composite aggregation, paged with `next_page`

Queries are filters (no scoring) except `search`, and skip counting total hits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harness.engines.calls import Change, Match, Query, Record, Scan, Window
from harness.engines.limits import FIND_LIMIT, SEARCH_LIMIT
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
    Operation,
    RangeOp,
    ReadOp,
    ScanOp,
    SearchOp,
    Selecting,
    SortSpec,
    StringField,
    TextField,
    TimestampField,
    UpdateOp,
)

INDEX_PREFIX = "dbarena-"
AGG_PAGE = 10_000  # composite buckets per request
MAX_TERM_BYTES = 32766  # Lucene's limit on one indexed term; longer strings are stored, not indexed
METRICS = {"mean": "avg", "sum": "sum", "min": "min", "max": "max", "count": "value_count"}

Body = dict[str, Any]
Filters = list[dict[str, Any]]


# ---- index layout ---------------------------------------------------------------------


def index_name(entity: str) -> str:
    return f"{INDEX_PREFIX}{entity}"


def field_mapping(spec: FieldSpec, is_key: bool) -> dict[str, Any]:
    if isinstance(spec, IntField):
        return {"type": "long"}
    if isinstance(spec, FloatField):
        return {"type": "double"}
    if isinstance(spec, BoolField):
        return {"type": "boolean"}
    if isinstance(spec, TimestampField):
        return {"type": "date"}
    if isinstance(spec, JsonField):
        return {"type": "object", "dynamic": True}  # the top level is strict; objects keep their keys
    if isinstance(spec, TextField) and not is_key:
        return {"type": "text"}
    if isinstance(spec, StringField) and len(spec.prefix) + spec.length > MAX_TERM_BYTES:
        return {"type": "keyword", "index": False, "doc_values": False}
    return {"type": "keyword"}  # uuids, emails, usernames, choices, strings; tags are arrays of keywords


def index_body(entity: Entity) -> Body:
    """The body of `PUT /dbarena-<entity>`: 1 shard, 0 replicas, strict explicit mappings."""
    properties = {name: field_mapping(spec, name == entity.key) for name, spec in entity.fields.items()}
    # Values inside JSON objects are matched, not analysed or summed; as keywords they also
    # survive a nested update that changes a key's type (a word where a number was).
    as_keyword = [{f"json_{kind}": {"match_mapping_type": kind, "mapping": {"type": "keyword"}}}
                  for kind in ("string", "long", "double", "boolean")]
    return {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {"dynamic": "strict", "date_detection": False, "dynamic_templates": as_keyword,
                     "properties": properties},
    }


def json_fields(entity: Entity) -> frozenset[str]:
    return frozenset(name for name, spec in entity.fields.items() if isinstance(spec, JsonField))


# ---- documents ------------------------------------------------------------------------


def plain(value: Any, is_json: bool) -> Any:
    """A record value as the document holds it: JSON strings become objects, datetimes ISO strings."""
    if is_json and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def to_document(values: Mapping[str, Any], json_paths: frozenset[str]) -> dict[str, Any]:
    """A record or partial update as a document; "json_field.key" paths become nested objects,
    which a partial update merges into the stored object."""
    out: dict[str, Any] = {}
    for path, value in values.items():
        *parents, leaf = path.split(".")
        node = out
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = plain(value, path in json_paths)
    return out


# ---- selection ------------------------------------------------------------------------


def equality(field: str, value: Any, spec: FieldSpec | None) -> Filters:
    """Filters for `field == value`: a phrase for analysed text, a term per key of a JSON
    object, a term per element of a list (tags: the document must carry them all)."""
    if isinstance(spec, TextField):
        return [{"match_phrase": {field: value}}]
    if isinstance(spec, JsonField) and isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in equality(f"{field}.{k}", v, None)]
    values = value if isinstance(value, list) else [value]
    return [{"term": {field: plain(v, False)}} for v in values]


def ordered_fields(op: Operation) -> list[str]:
    """The fields `op` sorts, bounds, groups or aggregates by."""
    fields = [op.sort.field] if isinstance(op, (FindOp, RangeOp)) and op.sort else []
    if isinstance(op, (RangeOp, AggregateOp)):
        fields.append(op.range_field)
    if isinstance(op, AggregateOp):
        fields += [op.value_field, *op.group_by]
    return fields


def field_problem(op: Operation, entity: Entity) -> str | None:
    """Why `op` cannot sort, bound, group or aggregate one of its fields here, or None.

    Analysed text and JSON objects have no single value to order or bucket by.
    """
    for field in ordered_fields(op):
        spec = entity.fields.get(field)
        if isinstance(spec, (TextField, JsonField)):
            return f"operation {op.name!r} orders or buckets by {field!r}, a {spec.type} field, which has no single value here"
    return None


class Selection:
    """The filters choosing one call's records: the `match` values of the call, then (range and
    aggregate) the window on `range_field`, then the constant `filter` terms, built once."""

    def __init__(self, op: Selecting, entity: Entity) -> None:
        self.specs = {field: entity.fields.get(field) for field in op.match}
        self.constant = [t for field, value in op.filter.items() for t in equality(field, value, entity.fields.get(field))]
        self.window = op.range_field if isinstance(op, (RangeOp, AggregateOp)) else None

    def matching(self, match: Match) -> Filters:
        return [t for field, spec in self.specs.items() for t in equality(field, match[field], spec)]

    def of_match(self, match: Match) -> Filters:
        return self.matching(match) + self.constant

    def of_window(self, window: Window) -> Filters:
        if self.window is None:
            raise HarnessBug("a window selection built for an operation without a range_field")
        bounds = {"gte": plain(window.low, False), "lte": plain(window.high, False)}
        return [*self.matching(window.match), {"range": {self.window: bounds}}, *self.constant]


# ---- statements -----------------------------------------------------------------------


@dataclass(frozen=True)
class Get:
    """`GET /index/_doc/<id>` (real-time): `source` fields, or the whole document."""

    index: str
    doc_id: Callable[[Any], str]
    source: list[str] | None


@dataclass(frozen=True)
class Delete:
    """`DELETE /index/_doc/<id>`."""

    index: str
    doc_id: Callable[[Any], str]


@dataclass(frozen=True)
class Index:
    """`PUT /index/_doc/<id>`: the whole document (a new record)."""

    index: str
    doc_id: Callable[[Any], str]
    body: Callable[[Any], Body]


@dataclass(frozen=True)
class Update:
    """`POST /index/_update/<id>`: `{"doc": ...}` merged into the stored document."""

    index: str
    doc_id: Callable[[Any], str]
    body: Callable[[Any], Body]


@dataclass(frozen=True)
class Search:
    """`POST /index/_search`: the hits of one request are the records returned."""

    index: str
    body: Callable[[Any], Body]


@dataclass(frozen=True)
class Aggregate:
    """`POST /index/_search` with a composite aggregation: the first page; `next_page` the others."""

    index: str
    body: Callable[[Any], Body]


Statement = Get | Delete | Index | Update | Search | Aggregate


def next_page(body: Body, after_key: Any) -> Body:
    """The request of the composite page after the one `body` asked for."""
    rows = body["aggs"]["rows"]
    return {**body, "aggs": {"rows": {**rows, "composite": {**rows["composite"], "after": after_key}}}}


def _key_id(key: Any) -> str:
    return str(key)


def _change_id(change: Change) -> str:
    return str(change.key)


def _static(project: tuple[str, ...], sort: SortSpec | None, size: int) -> Body:
    """The parts of a search body no call changes."""
    static: Body = {"track_total_hits": False}
    if project:
        static["_source"] = list(project)
    if sort is not None:
        static["sort"] = [{sort.field: sort.order}]
    static["size"] = size
    return static


def _get(op: ReadOp, entity: Entity) -> Statement:
    return Get(index_name(entity.name), _key_id, list(op.project) or None)


def _delete(op: DeleteOp, entity: Entity) -> Statement:
    return Delete(index_name(entity.name), _key_id)


def _index(op: InsertOp, entity: Entity) -> Statement:
    key_field, paths = entity.key, json_fields(entity)

    def record_id(record: Record) -> str:
        return str(record[key_field])

    def document(record: Record) -> Body:
        return to_document(record, paths)
    return Index(index_name(entity.name), record_id, document)


def _update(op: UpdateOp, entity: Entity) -> Statement:
    paths = json_fields(entity)

    def partial(change: Change) -> Body:
        return {"doc": to_document(change.values, paths)}
    return Update(index_name(entity.name), _change_id, partial)


def _scan(op: ScanOp, entity: Entity) -> Statement:
    key_field = entity.key
    static = _static(op.project, SortSpec(field=key_field, order="asc"), op.max_length)

    def body(scan: Scan) -> Body:
        return {**static, "size": scan.length, "query": {"range": {key_field: {"gte": scan.key}}}}
    return Search(index_name(entity.name), body)


def _find(op: FindOp, entity: Entity) -> Statement:
    static, selection = _static(op.project, op.sort, op.limit or FIND_LIMIT), Selection(op, entity)

    def body(match: Match) -> Body:
        return {**static, "query": {"bool": {"filter": selection.of_match(match)}}}
    return Search(index_name(entity.name), body)


def _range(op: RangeOp, entity: Entity) -> Statement:
    static, selection = _static(op.project, op.sort, op.limit or FIND_LIMIT), Selection(op, entity)

    def body(window: Window) -> Body:
        return {**static, "query": {"bool": {"filter": selection.of_window(window)}}}
    return Search(index_name(entity.name), body)


def _search(op: SearchOp, entity: Entity) -> Statement:
    static, selection = _static(op.project, None, op.limit or SEARCH_LIMIT), Selection(op, entity)
    text_fields = list(op.text_fields)

    def body(query: Query) -> Body:
        must = {"multi_match": {"query": " ".join(query.terms), "fields": text_fields}}
        return {**static, "query": {"bool": {"must": must, "filter": selection.of_match(query.match)}}}
    return Search(index_name(entity.name), body)


def _aggregate(op: AggregateOp, entity: Entity) -> Statement:
    bucket: dict[str, dict[str, Any]]
    if isinstance(entity.fields.get(op.range_field), TimestampField):
        bucket = {"date_histogram": {"field": op.range_field, "fixed_interval": f"{round(op.bucket_s * 1000)}ms"}}
    else:
        bucket = {"histogram": {"field": op.range_field, "interval": op.bucket_s}}
    sources = [*({field: {"terms": {"field": field}}} for field in op.group_by), {"@bucket": bucket}]
    rows = {"composite": {"size": AGG_PAGE, "sources": sources},
            "aggs": {"value": {METRICS[op.function]: {"field": op.value_field}}}}
    selection = Selection(op, entity)

    def body(window: Window) -> Body:
        # every page: the whole result crosses the wire, as a drained cursor would
        return {"size": 0, "track_total_hits": False, "query": {"bool": {"filter": selection.of_window(window)}},
                "aggs": {"rows": rows}}
    return Aggregate(index_name(entity.name), body)


_BUILDERS: dict[type, Callable[[Any, Entity], Statement]] = {
    ReadOp: _get, DeleteOp: _delete, InsertOp: _index, UpdateOp: _update, ScanOp: _scan,
    FindOp: _find, RangeOp: _range, SearchOp: _search, AggregateOp: _aggregate,
}


def build(op: Operation, entity: Entity) -> Statement:
    """The statement of one operation on `entity`'s index, built once per bind."""
    builder = _BUILDERS.get(type(op))
    if builder is None:
        raise HarnessBug(f"no search statement for {op.kind.value} operations (the adapter refuses them first)")
    return builder(op, entity)
