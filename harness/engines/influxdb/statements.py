"""The Flux and the points of the InfluxDB adapter: one statement per operation, no server.

Pure: no server, no client connection. `build(op, workload, bucket)` returns either a `Flux`
(read, range, aggregate: the query text for the executor's one typed argument, see
harness.engines.calls) or a `Write` (insert, update: the point for the argument at the call's
wall-clock time). Everything that does not depend on the argument is composed once, when the
adapter binds; per call only the argument's literals are filled in, because Flux v0.65
(InfluxDB 1.8) has no query parameters. `refusal(op, entity)` says why an operation the
adapter maps in general cannot run on this entity's shape.

- an entity is a measurement. An entity that declares `series` (metrics) is stored as time
  series: those fields are the tags and its timestamp field is the point time. Any other entity
  (kv-cache) has its key as the one tag, so each record is its own series, loaded at the fixed
  instant `LOAD_TIME_NS` and written at the wall-clock time.
- the remaining fields are fields: bool/int/float/string natively, a timestamp as an RFC 3339
  UTC string, a JSON object as its string, a tags list joined with ",".
- read is `range(start: 0) |> filter(measurement, key tag) |> last()` (each field's latest
  value) pivoted into one row.
- range is `range()` over point time (`[low, high]`, inclusive like the other engines) with tag
  filters, the fields pivoted into rows, then sort and limit; aggregate is
  `group(columns: group_by) |> aggregateWindow(every: bucket_s, fn: function)`.
- insert writes one point (now, or at its own time in a series); update writes a newer point
  carrying only the changed fields: last-value semantics, a blind upsert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

from influxdb_client import Point, WritePrecision

from harness.engines.calls import Change, Record, Window
from harness.errors import HarnessBug, UserError
from harness.spec.models import (
    AggregateOp,
    Entity,
    InsertOp,
    Operation,
    OperationKind,
    RangeOp,
    ReadOp,
    TimestampField,
    UpdateOp,
    Workload,
)

LOAD_TIME_NS = 1_577_836_800 * 10**9  # 2020-01-01T00:00:00Z: deterministic, older than any update
# Kinds refused whatever the entity (the adapter asks before its general checks).
REFUSED = {
    OperationKind.FIND: "InfluxDB has no secondary index on field values, so a find would scan every series; "
                        "making the field a tag would put it in each series' identity, so every update "
                        "would first need a query to learn the record's tag set",
    OperationKind.DELETE: "InfluxDB has no portable point delete (InfluxQL DELETE is 1.x only, the delete API "
                          "2.x only) and deletes tombstone shards: maintenance, not an online operation",
}
PIVOT_FIELDS = ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'

ArgT = TypeVar("ArgT")


@dataclass(frozen=True)
class Flux(Generic[ArgT]):
    """A query: its text for one call argument (the fixed parts composed once, at build)."""

    text: Callable[[ArgT], str]


@dataclass(frozen=True)
class Write(Generic[ArgT]):
    """A write of one point: from the call argument and the call's wall-clock time in ns."""

    point: Callable[[ArgT, int], Point]


# ---- values and literals ----------------------------------------------------------------


def field_value(value: Any) -> Any:
    """A record value as an InfluxDB field: scalars stay typed, the rest become strings."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # sorts as text
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return value


def flux_string(value: Any) -> str:
    """A Flux string literal (values are written into the query: Flux v0.65 has no parameters)."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{text}"'


def flux_value(value: Any) -> str:
    """A Flux literal of a field value as stored (see `field_value`)."""
    value = field_value(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, (int, float)) else flux_string(value)


def flux_time(value: datetime, plus_ns: int = 0) -> str:
    """A Flux time literal with nanoseconds (`plus_ns` < 1000 makes an exclusive stop inclusive)."""
    return f"{value.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%S.%f}{plus_ns:03d}Z"


def only_fields(names: Sequence[str], skip: Sequence[str] | str) -> str:
    """A Flux predicate fragment keeping the `_field`s named (all when none are)."""
    fields = [f for f in names if f not in skip]
    return " and (" + " or ".join(f"r._field == {flux_string(f)}" for f in fields) + ")" if fields else ""


# ---- point layout -------------------------------------------------------------------------


def time_field_of(entity: Entity) -> str | None:
    """The first timestamp field of an entity (its point time when it declares series)."""
    return next((n for n, s in entity.fields.items() if isinstance(s, TimestampField)), None)


def layout_problem(entity: Entity) -> str | None:
    """Why an entity's records cannot become points, or None."""
    if entity.series and time_field_of(entity) is None:
        return (f"{entity.name} declares series {list(entity.series)} but no timestamp field: "
                "its points would overwrite each other")
    return None


@dataclass(frozen=True)
class Layout:
    """How an entity's records become points: which fields are tags, which one is the point time."""

    measurement: str
    tags: tuple[str, ...]
    time_field: str | None  # None: loaded at LOAD_TIME_NS, written at the wall-clock time

    @classmethod
    def of(cls, entity: Entity) -> Layout:
        """The entity's layout; UserError for a series entity with no timestamp field."""
        problem = layout_problem(entity)
        if problem:
            raise UserError(f"influxdb: {problem}")
        if not entity.series:
            return cls(entity.name, (entity.key,), None)
        return cls(entity.name, entity.series, time_field_of(entity))

    def point(self, values: Mapping[str, Any], time_ns: int) -> Point:
        """One line-protocol point: tags and fields from `values`, at the record's time or `time_ns`."""
        point = Point(self.measurement)
        for tag in self.tags:
            point.tag(tag, str(values[tag]))
        for name, value in values.items():
            if name not in self.tags and name != self.time_field and value is not None:
                point.field(name, field_value(value))
        return point.time(values[self.time_field] if self.time_field else time_ns, WritePrecision.NS)


# ---- refusals that depend on the entity -----------------------------------------------------


def refusal(op: Operation, entity: Entity) -> str | None:
    """Why InfluxDB cannot run `op` (of a kind it maps) on this entity's shape, or None."""
    problem = layout_problem(entity)
    if problem:
        return problem
    series = list(entity.series)
    if isinstance(op, ReadOp) and series:
        return (f"{op.name} reads {entity.name} by key, but its points are addressed by series {series} and "
                "time: the key is a field")
    if isinstance(op, UpdateOp) and series:
        return f"{op.name} updates {entity.name} by key, but its points are addressed by series {series} and time"
    if isinstance(op, (RangeOp, AggregateOp)):
        return _window_refusal(op, entity)
    return None


def _window_refusal(op: RangeOp | AggregateOp, entity: Entity) -> str | None:
    tags = entity.series
    if not tags or op.range_field != time_field_of(entity):
        return (f"{op.name} ranges over {entity.name}.{op.range_field}, but InfluxDB ranges over point time only "
                "(an entity's timestamp field, when it declares series)")
    if isinstance(op, AggregateOp) and any(f not in tags for f in (*op.match, *op.filter, *op.group_by)):
        return f"{op.name} filters or groups by fields; an aggregate here filters and groups by series tags {list(tags)} only"
    return None


# ---- one statement per operation -----------------------------------------------------------


def build(op: Operation, workload: Workload, bucket: str) -> Flux[Any] | Write[Any]:
    """The Flux or the point of one operation of `workload`, for the call argument of its kind.

    A HarnessBug for an operation the adapter refuses (it asks `refusal` first).
    """
    entity = workload.entity(op.entity)
    reason = refusal(op, entity)
    if reason is not None:
        raise HarnessBug(f"influxdb: {op.name} bound although refused: {reason}")
    if isinstance(op, InsertOp):
        return _insert(entity)
    if isinstance(op, UpdateOp):
        return _update(op, entity)
    if isinstance(op, ReadOp):
        return read(op, entity, bucket)
    if isinstance(op, (RangeOp, AggregateOp)):
        return window(op, entity, bucket)
    raise HarnessBug(f"influxdb: no statement for {op.kind.value} operations")


def _insert(entity: Entity) -> Write[Record]:
    """The record as a point: at its own time in a series, else at the call's time."""
    layout = Layout.of(entity)
    return Write(layout.point)


def _update(op: UpdateOp, entity: Entity) -> Write[Change]:
    """A newer point of the record's series carrying only the `set` fields."""
    layout, key, fields = Layout.of(entity), entity.key, op.set

    def point(change: Change, time_ns: int) -> Point:
        return layout.point({key: change.key, **{f: change.values[f] for f in fields}}, time_ns)

    return Write(point)


def read(op: ReadOp, entity: Entity, bucket: str) -> Flux[Any]:
    """Each field's latest value of the record whose key tag is the call's key, as one row."""
    key = flux_string(entity.key)
    head = (f"from(bucket: {flux_string(bucket)}) |> range(start: 0) |> filter(fn: (r) => "
            f"r._measurement == {flux_string(entity.name)} and r[{key}] == ")
    tail = (f'{only_fields(op.project, entity.key)}) |> last() |> pivot(rowKey: [{key}], columnKey: ["_field"], '
            'valueColumn: "_value")')
    return Flux(lambda k: head + flux_string(k) + tail)


def window(op: RangeOp | AggregateOp, entity: Entity, bucket: str) -> Flux[Window]:
    """range / aggregate: the Flux over `[low, high]` of the point time, with `match` and `filter` applied.

    Tags are filtered before the fields are pivoted into rows, other fields after; an aggregate
    groups the value field's points by tags and folds them per `aggregateWindow` bucket.
    """
    layout = Layout.of(entity)
    tags = [f for f in op.match if f in layout.tags]
    fields = [f for f in op.match if f not in layout.tags]
    head = f"from(bucket: {flux_string(bucket)}) |> range(start: "
    where = f"r._measurement == {flux_string(entity.name)}" + "".join(
        f" and r[{flux_string(f)}] == {flux_string(v)}" for f, v in op.filter.items() if f in layout.tags)
    if isinstance(op, AggregateOp):
        where += f" and r._field == {flux_string(op.value_field)}"
        pivot, tail = "", _aggregate_tail(op)
    else:
        where += _range_fields(op, layout)
        pivot, tail = PIVOT_FIELDS, _range_tail(op, layout)

    def text(w: Window) -> str:
        matched = "".join(f" and r[{flux_string(f)}] == {flux_string(w.match[f])}" for f in tags)
        pivoted = "".join(f" |> filter(fn: (r) => r[{flux_string(f)}] == {flux_value(w.match[f])})" for f in fields)
        span = f"{flux_time(w.low)}, stop: {flux_time(w.high, plus_ns=1)})"
        return f"{head}{span} |> filter(fn: (r) => {where}{matched}){pivot}{pivoted}{tail}"

    return Flux(text)


def _aggregate_tail(op: AggregateOp) -> str:
    return (f" |> group(columns: [{', '.join(map(flux_string, op.group_by))}])"
            f" |> aggregateWindow(every: {round(op.bucket_s * 1000)}ms, fn: {op.function}, createEmpty: false)")


def _range_fields(op: RangeOp, layout: Layout) -> str:
    """The `_field`s a range needs before the pivot: all, or the projected, matched and sorted ones."""
    if not op.project:
        return ""
    fields = [f for f in op.match if f not in layout.tags]
    constants = [f for f in op.filter if f not in layout.tags]
    needed = (*op.project, *fields, *constants, *((op.sort.field,) if op.sort else ()))
    return only_fields(needed, (*layout.tags, layout.time_field or ""))


def _range_tail(op: RangeOp, layout: Layout) -> str:
    """After the pivot: the constant field filters, one table, then sort and limit."""
    tail = "".join(f" |> filter(fn: (r) => r[{flux_string(f)}] == {flux_value(v)})"
                   for f, v in op.filter.items() if f not in layout.tags)
    tail += " |> group()"
    if op.sort is not None:
        column = "_time" if op.sort.field == layout.time_field else op.sort.field
        tail += f" |> sort(columns: [{flux_string(column)}], desc: {str(op.sort.order == 'desc').lower()})"
    if op.limit is not None:
        tail += f" |> limit(n: {op.limit})"
    return tail
