"""The documents of the MongoDB adapter: operation + workload -> filter, projection, sort, limit, update, command.

One statement per operation, built once per bind with no server and no driver connection;
its methods only fill the call's argument (calls.py) into the parts that vary per call, so
the executor sends exactly what the golden tests show.

- The entity key is stored as `_id` (never twice): reads, updates, deletes and scans go by `_id`.
- JSON-object fields are embedded documents (a JSON string of the record is decoded), so a
  nested update is `$set` on a dotted path ("attributes.k1").
- find: equality on `match` (from the argument) then the constant `filter`; range adds
  `range_field` in [low, high] (`$gte` / `$lte`). No limit means none (0), as before.
- scan: `_id >= key` in `_id` order, as many documents as the call's length (`calls.Scan`).
- native: a database command in (extended) JSON; string values "{name}" are replaced by the
  call's parameter of that name (typed), others stay as written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bson import json_util
from pymongo import ASCENDING, DESCENDING

from harness.engines.calls import Change, Match, Params, Window
from harness.errors import HarnessBug
from harness.spec.models import (
    DeleteOp,
    Entity,
    FindOp,
    InsertOp,
    JsonField,
    NativeOp,
    Operation,
    RangeOp,
    ReadOp,
    ScanOp,
    SortSpec,
    UpdateOp,
    Workload,
)

Document = dict[str, Any]
Sort = tuple[tuple[str, int], ...]  # (field, ASCENDING or DESCENDING)
ID = "_id"
# Commands whose reply is a cursor (drained in full); any other command's reply counts "n" (or 1).
CURSOR_COMMANDS = frozenset({"find", "aggregate", "listCollections", "listIndexes"})


def field_name(entity: Entity, name: str) -> str:
    """The document field of a record field: the key is `_id`."""
    return ID if name == entity.key else name


def projection_of(entity: Entity, project: tuple[str, ...]) -> Document | None:
    """The projection of `project` (None: whole documents); `_id` only when asked for."""
    if not project:
        return None
    projection: Document = {field_name(entity, f): 1 for f in project}
    projection.setdefault(ID, 0)
    return projection


def sort_of(entity: Entity, sort: SortSpec | None) -> Sort | None:
    if sort is None:
        return None
    return ((field_name(entity, sort.field), DESCENDING if sort.order == "desc" else ASCENDING),)


@dataclass(frozen=True)
class DocumentMapper:
    """Records to documents: the key becomes `_id`, JSON strings of json fields become embedded documents."""

    key: str
    json_fields: frozenset[str]

    @classmethod
    def of(cls, entity: Entity) -> DocumentMapper:
        return cls(entity.key, frozenset(n for n, s in entity.fields.items() if isinstance(s, JsonField)))

    def value(self, name: str, raw: Any) -> Any:
        return json.loads(raw) if name in self.json_fields and isinstance(raw, str) else raw

    def document(self, record: Mapping[str, Any]) -> Document:
        return {(ID if n == self.key else n): self.value(n, v) for n, v in record.items()}


def fill_placeholders(template: Any, values: Mapping[str, Any]) -> Any:
    """A copy of a native command with every string "{name}" replaced by that value (typed)."""
    if isinstance(template, dict):
        return {k: fill_placeholders(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill_placeholders(v, values) for v in template]
    if isinstance(template, str) and template.startswith("{") and template.endswith("}"):
        return values.get(template[1:-1], template)
    return template


def command_problem(statement: str) -> str | None:
    """What makes a native statement unusable as a command document, or None."""
    try:
        command = json_util.loads(statement)
    except ValueError as exc:
        return f"is not (extended) JSON: {exc}"
    if not isinstance(command, dict) or not command:
        return 'must be a command document, like {"find": ...}'
    return None


def native_statement(op: NativeOp, engine: str) -> str | None:
    """The statement `engine` runs: its own, else the workload's `mongodb` one (FerretDB speaks MongoDB).

    None for a list of statements (a transaction): the base adapter's unsupported_reason refuses it.
    """
    given = op.statements.get(engine) or op.statements.get("mongodb")
    return given if isinstance(given, str) else None


# ---- one statement per operation kind -------------------------------------------------


@dataclass(frozen=True)
class Read:
    """read: `find_one(filter(key), projection)`."""

    projection: Document | None

    @staticmethod
    def filter(key: Any) -> Document:
        return {ID: key}


@dataclass(frozen=True)
class Insert:
    """insert: `insert_one(document(record))`."""

    mapper: DocumentMapper

    def document(self, record: Mapping[str, Any]) -> Document:
        return self.mapper.document(record)


@dataclass(frozen=True)
class Update:
    """update: `update_one(filter(change), update(change))`, `$set` of the `set` paths."""

    paths: tuple[str, ...]
    decoded: frozenset[str]  # paths that are whole json fields: a JSON string becomes a document

    @staticmethod
    def filter(change: Change) -> Document:
        return {ID: change.key}

    def update(self, change: Change) -> Document:
        values, decoded = change.values, self.decoded
        return {"$set": {path: _decoded(values[path]) if path in decoded else values[path] for path in self.paths}}


def _decoded(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw


@dataclass(frozen=True)
class Delete:
    """delete: `delete_one(filter(key))`."""

    @staticmethod
    def filter(key: Any) -> Document:
        return {ID: key}


@dataclass(frozen=True)
class Scan:
    """scan: `find(filter(key), projection, sort=sort, limit=length)`, `_id` from the key on (calls.Scan)."""

    projection: Document | None
    sort: Sort = ((ID, ASCENDING),)

    @staticmethod
    def filter(key: Any) -> Document:
        return {ID: {"$gte": key}}


@dataclass(frozen=True)
class Find:
    """find: `find(filter(match), projection, sort=sort, limit=limit)`, equality on `match`, then `filter`."""

    match: tuple[tuple[str, str], ...]  # (argument field, document field), filled per call
    constant: Document  # the op's `filter`, the same on every call
    projection: Document | None
    sort: Sort | None
    limit: int  # 0: no limit

    def filter(self, match: Match) -> Document:
        return {name: match[f] for f, name in self.match} | self.constant


@dataclass(frozen=True)
class Range:
    """range: the `find` of its equalities, with `range_field` in [low, high] after them."""

    find: Find
    range_field: str

    def filter(self, window: Window) -> Document:
        query = self.find.filter(window.match)
        query[self.range_field] = {"$gte": window.low, "$lte": window.high}
        return query


@dataclass(frozen=True)
class Command:
    """native: `db.cursor_command(command(params))` (drained) or `db.command(command(params))`."""

    template: Document
    returns_cursor: bool

    def command(self, params: Params) -> Document:
        """A fresh document per call: the driver adds its session fields to the command it sends."""
        filled: Document = fill_placeholders(self.template, params)
        return filled


Statement = Read | Insert | Update | Delete | Scan | Find | Range | Command


def _find(op: FindOp | RangeOp, entity: Entity) -> Find:
    return Find(
        match=tuple((f, field_name(entity, f)) for f in op.match),
        constant={field_name(entity, f): v for f, v in op.filter.items()},
        projection=projection_of(entity, op.project),
        sort=sort_of(entity, op.sort),
        limit=op.limit or 0,
    )


def _command(op: NativeOp, engine: str) -> Command:
    statement = native_statement(op, engine)
    if statement is None:
        raise HarnessBug(f"{op.name}: bound with no native statement for {engine} (unsupported_reason says so)")
    problem = command_problem(statement)
    if problem is not None:
        raise HarnessBug(f"{op.name}: bound although its native statement {problem} (unsupported_reason says so)")
    template: Document = json_util.loads(statement)
    return Command(template, next(iter(template)) in CURSOR_COMMANDS)


def statement(op: Operation, workload: Workload, engine: str = "mongodb") -> Statement:
    """The statement of `op` on its entity's collection; HarnessBug for a kind the adapter refuses."""
    entity = workload.entity(op.entity)
    if isinstance(op, ReadOp):
        return Read(projection_of(entity, op.project))
    if isinstance(op, InsertOp):
        return Insert(DocumentMapper.of(entity))
    if isinstance(op, UpdateOp):
        return Update(op.set, DocumentMapper.of(entity).json_fields & frozenset(op.set))
    if isinstance(op, DeleteOp):
        return Delete()
    if isinstance(op, ScanOp):
        return Scan(projection_of(entity, op.project))
    if isinstance(op, FindOp):
        return _find(op, entity)
    if isinstance(op, RangeOp):
        return Range(_find(op, entity), field_name(entity, op.range_field))
    if isinstance(op, NativeOp):
        return _command(op, engine)
    raise HarnessBug(f"{op.name}: no MongoDB statement for '{op.kind.value}' (unsupported_reason refuses it)")
