"""How the Redis adapter lays records and declared indexes out in keys, and reads them back.

Record `k` of entity `e` is the hash `dbarena:e:k`. Each declared index becomes one structure,
chosen so a lookup is one command plus one pipelined fetch of the records:
- unique single field f: the hash `dbarena:e:idx:f` (value -> key);
- last field ordered (int, float, timestamp): a sorted set per value of the leading fields,
  `dbarena:e:z:f1:v1` (or `dbarena:e:z:f` with no leading field), scored by the last field
  (timestamps as epoch seconds), member = record key: ZRANGE/ZREVRANGE paginate, ZRANGEBYSCORE
  ranges. One sorted set per leading prefix: a second ordered index with the same leading
  fields is not kept, so an operation needing it is refused;
- otherwise: a set of keys per combination of values, `dbarena:e:idx:f1:v1[:f2:v2]`.
An entity with two `ref` fields to one entity is an edge list: `dbarena:e:out:<from>` and
`dbarena:e:in:<to>` hold the neighbours for traversals.
Index entries of expiring records stay behind when the hash expires (Redis expires keys,
not their index entries): readers skip the missing hashes, so a page can then hold fewer
than `limit` records; the next `prepare` drops the leftovers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harness.spec.models import Entity, FloatField, IntField, Operation, OperationKind, RefField, TimestampField

PREFIX = "dbarena"
Row = dict[bytes, bytes | None]
# values of a find/range (match values, "_from"/"_to") -> the records returned, in order
Finder = Callable[[Mapping[str, Any]], list[Row]]


def encode_value(value: Any) -> str | int | float:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value  # type: ignore[no-any-return]


def text_of(value: Any) -> str:
    """The value as stored in a hash field (bytes read back from Redis pass through)."""
    return value.decode() if isinstance(value, bytes) else str(encode_value(value))


def record_key(entity: str, key: Any) -> str:
    return f"{PREFIX}:{entity}:{text_of(key)}"


@dataclass(frozen=True)
class SortedIndex:
    """A sorted set per value of `prefix`, scored by the ordered field `field`."""

    entity: str
    prefix: tuple[str, ...]
    field: str
    timestamp: bool  # scores are epoch seconds of stored ISO timestamps

    def key(self, values: Mapping[str, Any]) -> str:
        parts = "".join(f":{f}:{text_of(values[f])}" for f in self.prefix) or f":{self.field}"
        return f"{PREFIX}:{self.entity}:z{parts}"

    def score(self, value: Any) -> float:
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (bytes, str)):
            text = text_of(value)
            return datetime.fromisoformat(text).timestamp() if self.timestamp else float(text)
        return float(value)


@dataclass(frozen=True)
class IndexLayout:
    """Every index structure of one entity, maintained together on load, insert, update, delete."""

    entity: str
    unique: tuple[str, ...] = ()
    equality: tuple[tuple[str, ...], ...] = ()
    ordered: tuple[SortedIndex, ...] = ()
    edge: tuple[str, str] | None = None  # (from, to) ref fields of an edge entity

    @classmethod
    def of(cls, entity: Entity) -> IndexLayout:
        unique: list[str] = []
        equality: list[tuple[str, ...]] = []
        ordered: dict[tuple[str, ...], SortedIndex] = {}
        for index in entity.indexes:
            fields, last = index.fields, entity.fields[index.fields[-1]]
            if fields == (entity.key,):
                continue  # the record hash itself
            if index.unique and len(fields) == 1:
                unique.append(fields[0])
            elif isinstance(last, (IntField, FloatField, TimestampField)):
                ordered.setdefault(fields[:-1], SortedIndex(entity.name, fields[:-1], fields[-1],
                                                            isinstance(last, TimestampField)))
            else:
                equality.append(fields)
        targets: dict[str, list[str]] = {}
        for name, spec in entity.fields.items():
            if isinstance(spec, RefField):
                targets.setdefault(spec.entity, []).append(name)
        edge = next(((refs[0], refs[1]) for refs in targets.values() if len(refs) >= 2), None)
        return cls(entity.name, tuple(unique), tuple(equality), tuple(ordered.values()), edge)

    def fields(self) -> list[str]:
        """Every field some index reads, once."""
        names = [*self.unique, *(f for fs in self.equality for f in fs),
                 *(f for z in self.ordered for f in (*z.prefix, z.field)), *(self.edge or ())]
        return list(dict.fromkeys(names))

    def touched_by(self, changed: set[str]) -> IndexLayout:
        """The indexes an update of `changed` fields must move."""
        return IndexLayout(
            self.entity,
            tuple(f for f in self.unique if f in changed),
            tuple(fs for fs in self.equality if changed & set(fs)),
            tuple(z for z in self.ordered if changed & {*z.prefix, z.field}),
            self.edge if self.edge and changed & set(self.edge) else None,
        )

    def equality_key(self, fields: tuple[str, ...], values: Mapping[str, Any]) -> str:
        return f"{PREFIX}:{self.entity}:idx" + "".join(f":{f}:{text_of(values[f])}" for f in fields)

    def unique_key(self, field: str) -> str:
        return f"{PREFIX}:{self.entity}:idx:{field}"

    def edge_key(self, direction: str, node: Any) -> str:
        return f"{PREFIX}:{self.entity}:{direction}:{text_of(node)}"

    def add(self, pipe: Any, key: Any, values: Mapping[str, Any]) -> None:
        """Queue the index entries of record `key` with these field values (python or stored)."""
        for field in self.unique:
            pipe.hset(self.unique_key(field), text_of(values[field]), key)
        for fields in self.equality:
            pipe.sadd(self.equality_key(fields, values), key)
        for z in self.ordered:
            pipe.zadd(z.key(values), {key: z.score(values[z.field])})
        if self.edge:
            src, dst = values[self.edge[0]], values[self.edge[1]]
            pipe.sadd(self.edge_key("out", src), text_of(dst))
            pipe.sadd(self.edge_key("in", dst), text_of(src))

    def remove(self, pipe: Any, key: Any, values: Mapping[str, Any]) -> None:
        """Queue removal of the entries `add` made. A duplicate edge's removal drops the adjacency."""
        for field in self.unique:
            pipe.hdel(self.unique_key(field), text_of(values[field]))
        for fields in self.equality:
            pipe.srem(self.equality_key(fields, values), key)
        for z in self.ordered:
            pipe.zrem(z.key(values), key)
        if self.edge:
            src, dst = values[self.edge[0]], values[self.edge[1]]
            pipe.srem(self.edge_key("out", src), text_of(dst))
            pipe.srem(self.edge_key("in", dst), text_of(src))


def sorted_index_for(op: Operation, layout: IndexLayout) -> SortedIndex | str:
    """The sorted set a sorted find or a range reads, or why there is none.

    Every equality of the operation must be a leading field, or LIMIT could not be applied
    by Redis (the client would have to filter an unbounded page).
    """
    equal = {*op.match, *op.filter}
    field = op.range_field if op.kind is OperationKind.RANGE else op.sort.field if op.sort else None
    if op.sort is not None and op.sort.field != field:
        return f"redis: a range over {field!r} can only be sorted by {field!r}, not {op.sort.field!r}"
    for z in layout.ordered:
        if z.field == field and set(z.prefix) <= equal:
            if extra := sorted(equal - set(z.prefix)):
                return (f"redis: the sorted-set index ({', '.join((*z.prefix, z.field))}) does not cover the "
                        f"equality on {', '.join(extra)}, so Redis could not apply the limit")
            return z
    wanted = ", ".join((*sorted(equal), str(field)))
    return (f"redis: {op.kind.value} on {op.entity} ordered by {field!r} needs a declared index ({wanted}) "
            f"whose last field is {field!r}; Redis keeps that as a sorted set, and this workload declares none")


def find_problem(op: Operation, layout: IndexLayout) -> str | None:
    """Why a find or range cannot run on this layout, or None."""
    if op.kind is OperationKind.RANGE or op.sort is not None:
        found = sorted_index_for(op, layout)
        return found if isinstance(found, str) else None
    equal = {*op.match, *op.filter}
    if any(f in equal for f in layout.unique) or any(set(fs) <= equal for fs in layout.equality):
        return None
    if any(set(z.prefix) <= equal and (z.prefix or z.field in equal) for z in layout.ordered):
        return None
    return (f"redis: find on {op.entity} by {', '.join(sorted(equal))} needs a declared index on those fields "
            f"(Redis has no secondary lookups of its own)")


def fetch(client: Any, entity: str, keys: list[bytes], fields: list[str]) -> list[Row]:
    """The records named by `keys`, in order, in one pipelined round trip; gone ones are skipped."""
    if not keys:
        return []
    base = f"{PREFIX}:{entity}:".encode()
    pipe = client.pipeline(transaction=False)
    for key in keys:
        if fields:
            pipe.hmget(base + key, fields)
        else:
            pipe.hgetall(base + key)
    replies = pipe.execute()
    if not fields:
        return [row for row in replies if row]
    names = [f.encode() for f in fields]
    return [dict(zip(names, reply)) for reply in replies if any(v is not None for v in reply)]


def make_finder(client: Any, op: Operation, layout: IndexLayout) -> Finder:
    """The records a find or range returns; `find_problem` has already accepted the operation."""
    if op.kind is OperationKind.RANGE or op.sort is not None:
        z = sorted_index_for(op, layout)
        assert isinstance(z, SortedIndex)
        return _sorted_finder(client, op, layout.entity, z)
    equal = [*op.match, *op.filter]
    unique = next((f for f in equal if f in layout.unique), None)
    if unique is not None:
        return _unique_finder(client, op, layout, unique)
    return _member_finder(client, op, layout)


def _expected(op: Operation, values: Mapping[str, Any]) -> dict[bytes, bytes]:
    """Stored form of every equality of the operation: match values plus constant filters."""
    return {f.encode(): text_of(v).encode() for f, v in (*((f, values[f]) for f in op.match), *op.filter.items())}


def _sorted_finder(client: Any, op: Operation, entity: str, z: SortedIndex) -> Finder:
    """ZRANGE/ZREVRANGE (pagination) or ZRANGEBYSCORE (range) with LIMIT, then one pipelined fetch."""
    descending = op.sort is not None and op.sort.order == "desc"
    limit, fields, constant = op.limit, list(op.project), dict(op.filter)

    def find(values: Mapping[str, Any]) -> list[Row]:
        key = z.key({**values, **constant})
        if op.kind is OperationKind.RANGE:
            lo, hi = z.score(values["_from"]), z.score(values["_to"])
            page = (0, limit) if limit else (None, None)
            keys = (client.zrevrangebyscore(key, hi, lo, *page) if descending
                    else client.zrangebyscore(key, lo, hi, *page))
        else:
            stop = (limit or 0) - 1
            keys = client.zrevrange(key, 0, stop) if descending else client.zrange(key, 0, stop)
        return fetch(client, entity, keys, fields)
    return find


def _unique_finder(client: Any, op: Operation, layout: IndexLayout, field: str) -> Finder:
    """HGET on the unique hash, then HGETALL of the record, checked against every equality."""
    def find(values: Mapping[str, Any]) -> list[Row]:
        wanted = _expected(op, values)
        found = client.hget(layout.unique_key(field), text_of(values.get(field, op.filter.get(field))))
        if found is None:
            return []
        record = client.hgetall(record_key(layout.entity, found))
        return [record] if record and all(record.get(f) == v for f, v in wanted.items()) else []
    return find


Members = Callable[[Mapping[str, Any], int | None], list[bytes]]  # (equality values, limit) -> record keys


def _member_source(client: Any, layout: IndexLayout, equal: set[str]) -> tuple[set[str], Members]:
    """The set (or sorted set, by score equality or prefix) covering most equalities, and its reader."""
    options: list[tuple[set[str], Members]] = []
    for fields in layout.equality:
        if set(fields) <= equal:
            def members(values: Mapping[str, Any], limit: int | None, fields: tuple[str, ...] = fields) -> list[bytes]:
                return list(client.smembers(layout.equality_key(fields, values)))
            options.append((set(fields), members))
    for z in layout.ordered:
        if set(z.prefix) <= equal and z.field in equal:
            def scored(values: Mapping[str, Any], limit: int | None, z: SortedIndex = z) -> list[bytes]:
                score = z.score(values[z.field])
                return list(client.zrangebyscore(z.key(values), score, score, *((0, limit) if limit else (None, None))))
            options.append(({*z.prefix, z.field}, scored))
        elif z.prefix and set(z.prefix) <= equal:
            def prefixed(values: Mapping[str, Any], limit: int | None, z: SortedIndex = z) -> list[bytes]:
                return list(client.zrange(z.key(values), 0, (limit or 0) - 1))
            options.append((set(z.prefix), prefixed))
    return max(options, key=lambda option: len(option[0]))


def _member_finder(client: Any, op: Operation, layout: IndexLayout) -> Finder:
    """Keys from the index covering most equalities, then one pipelined fetch.

    Equalities the index does not cover are checked in the client on the fetched records,
    so then every member is fetched and the limit applied afterwards.
    """
    equal = {*op.match, *op.filter}
    covered, members = _member_source(client, layout, equal)
    residual = sorted(equal - covered)
    fields = list(dict.fromkeys((*op.project, *residual))) if op.project else []
    constant, limit = dict(op.filter), op.limit

    def find(values: Mapping[str, Any]) -> list[Row]:
        merged = {**values, **constant}
        if not residual:
            keys = members(merged, limit)
            return fetch(client, layout.entity, keys[:limit] if limit else keys, fields)
        wanted = {f: v for f, v in _expected(op, values).items() if f.decode() in residual}
        rows = [row for row in fetch(client, layout.entity, members(merged, None), fields)
                if all(row.get(f) == v for f, v in wanted.items())]
        return rows[:limit] if limit else rows
    return find
