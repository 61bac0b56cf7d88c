"""How the Redis adapter lays records and declared indexes out in keys (pure: commands, no server).

Record `k` of entity `e` is the hash `dbarena:e:k`. Each declared index becomes one structure,
chosen so a lookup is one command plus one pipelined fetch of the records:
- unique single field f: the hash `dbarena:e:idx:f` (value -> key);
- last field ordered (int, float, timestamp): a sorted set per value of the leading fields,
  `dbarena:e:z:f1:v1` (or `dbarena:e:z:f` with no leading field), scored by the last field
  (timestamps as epoch seconds), member = record key: ZRANGE/ZREVRANGE paginate, ZRANGEBYSCORE
  ranges. One sorted set per leading prefix: a second ordered index with the same leading
  fields is not kept, so an operation needing it is refused (see statements.py);
- otherwise: a set of keys per combination of values, `dbarena:e:idx:f1:v1[:f2:v2]`.
An entity with two `ref` fields to one entity is an edge list: `dbarena:e:out:<from>` and
`dbarena:e:in:<to>` hold the neighbours for traversals.
Index entries of expiring records stay behind when the hash expires (Redis expires keys,
not their index entries): readers skip the missing hashes, so a page can then hold fewer
than `limit` records; the next `prepare` drops the leftovers.

Maintaining the layout is expressed as commands (`Command`, the words sent on the wire, as
redis-py's `execute_command` takes them); the adapter queues them on its pipelines.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harness.spec.models import Entity, FloatField, IntField, RefField, TimestampField

PREFIX = "dbarena"
Command = tuple[Any, ...]  # one Redis command: name, then its arguments (redis-py encodes str/int/float/bytes)
Row = dict[bytes, bytes | None]  # one record as read back: field -> stored value


def encode_value(value: Any) -> str | int | float:
    """A field value as written into a record hash (bools "1"/"0", ISO timestamps, compact JSON)."""
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

    def fields(self) -> tuple[str, ...]:
        """Every field some index reads, once."""
        names = [*self.unique, *(f for fs in self.equality for f in fs),
                 *(f for z in self.ordered for f in (*z.prefix, z.field)), *(self.edge or ())]
        return tuple(dict.fromkeys(names))

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

    def add(self, key: Any, values: Mapping[str, Any]) -> list[Command]:
        """The commands adding the index entries of record `key` with these field values (python or stored)."""
        commands: list[Command] = [("HSET", self.unique_key(f), text_of(values[f]), key) for f in self.unique]
        commands += [("SADD", self.equality_key(fields, values), key) for fields in self.equality]
        commands += [("ZADD", z.key(values), z.score(values[z.field]), key) for z in self.ordered]
        if self.edge:
            src, dst = values[self.edge[0]], values[self.edge[1]]
            commands += [("SADD", self.edge_key("out", src), text_of(dst)),
                         ("SADD", self.edge_key("in", dst), text_of(src))]
        return commands

    def remove(self, key: Any, values: Mapping[str, Any]) -> list[Command]:
        """The commands removing the entries `add` made. A duplicate edge's removal drops the adjacency."""
        commands: list[Command] = [("HDEL", self.unique_key(f), text_of(values[f])) for f in self.unique]
        commands += [("SREM", self.equality_key(fields, values), key) for fields in self.equality]
        commands += [("ZREM", z.key(values), key) for z in self.ordered]
        if self.edge:
            src, dst = values[self.edge[0]], values[self.edge[1]]
            commands += [("SREM", self.edge_key("out", src), text_of(dst)),
                         ("SREM", self.edge_key("in", dst), text_of(src))]
        return commands
