"""Redis statements: an operation of a workload -> the commands it sends, with no server.

`build(op, workload)` runs once per bind and is pure: every key name, the UPDATE script and
its ARGV, the index structure a find or range reads (and why one is refused) are decided
here. Each statement turns the executor's call argument (harness.engines.calls) into
`Command`s, the words redis-py puts on the wire; the adapter sends them, queues them on
non-transactional pipelines and sequences the round trips. Golden-tested with no server in
tests/engines/redis/test_statements.py.

    read        HGETALL record (HMGET record f1 f2 ... with a projection)
    insert      one pipeline: HSET record f v ..., the index entries (index.py), PEXPIRE with ttl_s
    update      EVALSHA of UPDATE_SCRIPT; when an indexed field changes, HMGET of the indexed fields
                first, then one pipeline: EVALSHA, the old entries removed, the new ones added
    delete      DEL record (with indexes: HMGET first, then DEL and the entries removed in one pipeline)
    find/range  one index command (`find_statement` chooses the structure), then one pipelined
                fetch of the records (HGETALL, or HMGET with a projection, per key)
    traverse    SMEMBERS / SUNION of the out-sets, one per level; SINTER of out- and in-set for mutual
    native      the user's words, `{key}` fields formatted per call from the params

The update script writes only if the record exists, so a touch never resurrects a
logged-out session as a partial hash; it sets a nested key of a JSON field
(`attributes.k1`) with cjson (which does not keep the object's key order) and re-arms the
expiry when the op has `ttl_s`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Literal

from harness.engines.calls import Change, Match, Pair, Params, Window
from harness.engines.redis.index import (
    PREFIX,
    Command,
    IndexLayout,
    Row,
    SortedIndex,
    encode_value,
    record_key,
    text_of,
)
from harness.errors import HarnessBug, UnsupportedOperation
from harness.spec.models import (
    DeleteOp,
    Entity,
    FindOp,
    InsertOp,
    NativeOp,
    Operation,
    OperationKind,
    RangeOp,
    ReadOp,
    TraverseOp,
    UpdateOp,
    Workload,
)

# KEYS[1] record; ARGV: expiry in ms ("0": none), number of plain pairs, the field/value pairs,
# then (json field, nested key, value) triples.
UPDATE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local last = 2 + 2 * tonumber(ARGV[2])
if last > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3, last)) end
for i = last + 1, #ARGV, 3 do
  local doc = cjson.decode(redis.call('HGET', KEYS[1], ARGV[i]) or '{}')
  doc[ARGV[i + 1]] = ARGV[i + 2]
  redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(doc))
end
if ARGV[1] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1
"""
UPDATE_SHA = hashlib.sha1(UPDATE_SCRIPT.encode()).hexdigest()  # what SCRIPT LOAD answers

REFUSED: dict[OperationKind, str] = {
    OperationKind.SEARCH: "full-text search needs the RediSearch module (FT.SEARCH); this redis-server loads no modules",
    OperationKind.AGGREGATE: "time-bucket aggregates need the RedisTimeSeries module (TS.MRANGE AGGREGATION); "
                             "this redis-server loads no modules, and bucketing every point in the client "
                             "would measure the client, not Redis",
    OperationKind.SCAN: "Redis keeps no key order; a scan by key would need a sorted set of every key, "
                        "which this adapter does not maintain",
}


def expiry_ms(op: InsertOp | UpdateOp) -> int:
    """PEXPIRE's milliseconds for the op's `ttl_s` (at least 1), 0 when the op sets no expiry."""
    return max(1, round(op.ttl_s * 1000)) if op.ttl_s else 0


def _expected(match_fields: Sequence[str], constant: Mapping[str, Any], match: Match) -> dict[bytes, bytes]:
    """Stored form of every equality of a find: match values plus constant filters."""
    pairs = (*((f, match[f]) for f in match_fields), *constant.items())
    return {f.encode(): text_of(v).encode() for f, v in pairs}


# ---- record commands ----------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """HGETALL of the record, or HMGET of the projected fields; counts 1 when the record exists."""

    entity: str
    fields: tuple[str, ...]  # the projection; empty: the whole hash

    def command(self, key: Any) -> Command:
        rkey = record_key(self.entity, key)
        return ("HMGET", rkey, *self.fields) if self.fields else ("HGETALL", rkey)

    def found(self, reply: Any) -> int:
        return int(any(v is not None for v in reply)) if self.fields else int(bool(reply))


@dataclass(frozen=True)
class Write:
    """HSET of the whole record, its index entries and, with an expiry, PEXPIRE (one pipeline)."""

    entity: str
    key_field: str
    layout: IndexLayout
    expiry_ms: int  # 0: the record does not expire

    @classmethod
    def of(cls, entity: Entity, expiry: int = 0) -> Write:
        return cls(entity.name, entity.key, IndexLayout.of(entity), expiry)

    def commands(self, record: Mapping[str, Any]) -> list[Command]:
        key = record[self.key_field]
        rkey = record_key(self.entity, key)
        fields = chain.from_iterable((f, encode_value(v)) for f, v in record.items())
        commands: list[Command] = [("HSET", rkey, *fields), *self.layout.add(key, record)]
        if self.expiry_ms:
            commands.append(("PEXPIRE", rkey, self.expiry_ms))
        return commands


@dataclass(frozen=True)
class Update:
    """EVALSHA of UPDATE_SCRIPT; when an indexed field changes, the indexes it moves.

    ARGV: expiry in ms (0: none), number of plain fields, field/value pairs, then
    (json field, nested key, value) triples for the "json_field.key" paths.
    """

    entity: str
    plain: tuple[str, ...]  # whole fields set
    nested: tuple[str, ...]  # "json_field.key" paths set inside a JSON field
    expiry_ms: int
    moved: IndexLayout  # the index structures a change of `plain` moves
    indexed: tuple[str, ...]  # the fields those structures read (HMGET before the write); empty: none

    def argv(self, values: Mapping[str, Any]) -> list[Any]:
        return [self.expiry_ms, len(self.plain),
                *chain.from_iterable((f, encode_value(values[f])) for f in self.plain),
                *chain.from_iterable((*f.split(".", 1), values[f]) for f in self.nested)]

    def evalsha(self, change: Change) -> Command:
        return ("EVALSHA", UPDATE_SHA, 1, record_key(self.entity, change.key), *self.argv(change.values))

    def read_indexed(self, key: Any) -> Command:
        return ("HMGET", record_key(self.entity, key), *self.indexed)

    def moves(self, key: Any, old: Mapping[str, Any], values: Mapping[str, Any]) -> list[Command]:
        """The old index entries removed, the new ones added (`old`: the indexed fields as stored)."""
        new = {**old, **{f: values[f] for f in self.plain}}
        return [*self.moved.remove(key, old), *self.moved.add(key, new)]


@dataclass(frozen=True)
class Delete:
    """DEL of the record; with indexes, HMGET of the indexed fields first to remove their entries."""

    entity: str
    layout: IndexLayout
    indexed: tuple[str, ...]

    def command(self, key: Any) -> Command:
        return ("DEL", record_key(self.entity, key))

    def read_indexed(self, key: Any) -> Command:
        return ("HMGET", record_key(self.entity, key), *self.indexed)

    def removals(self, key: Any, old: Mapping[str, Any]) -> list[Command]:
        return self.layout.remove(key, old)


# ---- finds and ranges ---------------------------------------------------------------


@dataclass(frozen=True)
class Fetch:
    """The records named by index members, in order, in one pipeline; gone ones are skipped."""

    entity: str
    fields: tuple[str, ...]  # HMGET these; empty: HGETALL

    def commands(self, keys: Iterable[bytes]) -> list[Command]:
        base = f"{PREFIX}:{self.entity}:".encode()
        if self.fields:
            return [("HMGET", base + key, *self.fields) for key in keys]
        return [("HGETALL", base + key) for key in keys]

    def rows(self, replies: Sequence[Any]) -> list[Row]:
        if not self.fields:
            return [row for row in replies if row]
        names = [f.encode() for f in self.fields]
        return [dict(zip(names, reply)) for reply in replies if any(v is not None for v in reply)]


@dataclass(frozen=True)
class SortedPage:
    """A sorted find: the first `limit` members of the sorted set (ZRANGE, or ZREVRANGE descending)."""

    index: SortedIndex
    descending: bool
    limit: int | None
    constant: Mapping[str, Any]  # the op's filter: leading fields with constant values
    fetch: Fetch

    def command(self, match: Match) -> Command:
        key = self.index.key({**match, **self.constant})
        return ("ZREVRANGE" if self.descending else "ZRANGE", key, 0, (self.limit or 0) - 1)


@dataclass(frozen=True)
class ScoreRange:
    """A range: members scored within the window (ZRANGEBYSCORE, or ZREVRANGEBYSCORE descending), LIMIT."""

    index: SortedIndex
    descending: bool
    limit: int | None
    constant: Mapping[str, Any]
    fetch: Fetch

    def command(self, window: Window) -> Command:
        key = self.index.key({**window.match, **self.constant})
        low, high = self.index.score(window.low), self.index.score(window.high)
        page = ("LIMIT", 0, self.limit) if self.limit else ()
        if self.descending:
            return ("ZREVRANGEBYSCORE", key, high, low, *page)
        return ("ZRANGEBYSCORE", key, low, high, *page)


@dataclass(frozen=True)
class UniqueLookup:
    """HGET on the unique hash, then HGETALL of the record, checked against every equality."""

    entity: str
    index_key: str  # the unique hash: value -> record key
    field: str
    match: tuple[str, ...]
    constant: Mapping[str, Any]

    def lookup(self, match: Match) -> Command:
        return ("HGET", self.index_key, text_of(match.get(self.field, self.constant.get(self.field))))

    def record(self, found: bytes) -> Command:
        return ("HGETALL", record_key(self.entity, found))

    def accepts(self, record: Row, match: Match) -> bool:
        wanted = _expected(self.match, self.constant, match)
        return bool(record) and all(record.get(f) == v for f, v in wanted.items())


@dataclass(frozen=True)
class Members:
    """Where a find's keys come from: the equality set of the values (SMEMBERS), or the sorted set of
    the leading fields' values, at the exact score of its scored field when that is an equality
    too (ZRANGEBYSCORE s s), else from its start (ZRANGE)."""

    covered: frozenset[str]  # the equalities this index answers
    layout: IndexLayout
    fields: tuple[str, ...] = ()  # an equality set's fields
    index: SortedIndex | None = None  # or a sorted set

    def command(self, values: Mapping[str, Any], limit: int | None) -> Command:
        z = self.index
        if z is None:
            return ("SMEMBERS", self.layout.equality_key(self.fields, values))
        if z.field in self.covered:
            score = z.score(values[z.field])
            return ("ZRANGEBYSCORE", z.key(values), score, score, *(("LIMIT", 0, limit) if limit else ()))
        return ("ZRANGE", z.key(values), 0, (limit or 0) - 1)


@dataclass(frozen=True)
class MemberFind:
    """Keys from the index covering most equalities, then one pipelined fetch.

    Equalities the index does not cover (`residual`) are checked in the client on the fetched
    records, so then every member is fetched and the limit applied afterwards.
    """

    source: Members
    residual: tuple[str, ...]
    match: tuple[str, ...]
    constant: Mapping[str, Any]
    limit: int | None
    fetch: Fetch

    def command(self, match: Match) -> Command:
        return self.source.command({**match, **self.constant}, None if self.residual else self.limit)

    def page(self, keys: list[bytes]) -> list[bytes]:
        """The members fetched when the index covers every equality."""
        return keys[:self.limit] if self.limit else keys

    def kept(self, rows: list[Row], match: Match) -> list[Row]:
        """The fetched records that also satisfy the residual equalities, up to `limit`."""
        wanted = {f: v for f, v in _expected(self.match, self.constant, match).items() if f.decode() in self.residual}
        rows = [row for row in rows if all(row.get(f) == v for f, v in wanted.items())]
        return rows[:self.limit] if self.limit else rows


Find = SortedPage | ScoreRange | UniqueLookup | MemberFind


def sorted_index_for(op: FindOp | RangeOp, layout: IndexLayout) -> SortedIndex | str:
    """The sorted set a sorted find or a range reads, or why there is none.

    Every equality of the operation must be a leading field, or LIMIT could not be applied
    by Redis (the client would have to filter an unbounded page).
    """
    equal = {*op.match, *op.filter}
    field = op.range_field if isinstance(op, RangeOp) else op.sort.field if op.sort else None
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


def find_problem(op: FindOp | RangeOp, layout: IndexLayout) -> str | None:
    """Why a find or range cannot run on this layout, or None."""
    if isinstance(op, RangeOp) or op.sort is not None:
        found = sorted_index_for(op, layout)
        return found if isinstance(found, str) else None
    equal = {*op.match, *op.filter}
    if any(f in equal for f in layout.unique) or any(set(fs) <= equal for fs in layout.equality):
        return None
    if any(set(z.prefix) <= equal and (z.prefix or z.field in equal) for z in layout.ordered):
        return None
    return (f"redis: find on {op.entity} by {', '.join(sorted(equal))} needs a declared index on those fields "
            f"(Redis has no secondary lookups of its own)")


def _member_source(layout: IndexLayout, equal: set[str]) -> Members:
    """The set (or sorted set, by score equality or prefix) covering most equalities."""
    options = [Members(frozenset(fields), layout, fields=fields) for fields in layout.equality if set(fields) <= equal]
    for z in layout.ordered:
        if set(z.prefix) <= equal and z.field in equal:
            options.append(Members(frozenset((*z.prefix, z.field)), layout, index=z))
        elif z.prefix and set(z.prefix) <= equal:
            options.append(Members(frozenset(z.prefix), layout, index=z))
    return max(options, key=lambda option: len(option.covered))


def find_statement(op: FindOp | RangeOp, layout: IndexLayout) -> Find:
    """The index a find or range reads; UnsupportedOperation (with `find_problem`'s reason) if none serves."""
    if problem := find_problem(op, layout):
        raise UnsupportedOperation(f"{op.name}: {problem}")
    constant, fetch = dict(op.filter), Fetch(layout.entity, op.project)
    if isinstance(op, RangeOp) or op.sort is not None:
        z = sorted_index_for(op, layout)
        if not isinstance(z, SortedIndex):
            raise HarnessBug(f"{op.name}: find_problem accepted an operation with no sorted set ({z})")
        descending = op.sort is not None and op.sort.order == "desc"
        if isinstance(op, RangeOp):
            return ScoreRange(z, descending, op.limit, constant, fetch)
        return SortedPage(z, descending, op.limit, constant, fetch)
    unique = next((f for f in (*op.match, *op.filter) if f in layout.unique), None)
    if unique is not None:
        return UniqueLookup(layout.entity, layout.unique_key(unique), unique, op.match, constant)
    equal = {*op.match, *op.filter}
    source = _member_source(layout, equal)
    residual = tuple(sorted(equal - source.covered))
    fields = tuple(dict.fromkeys((*op.project, *residual))) if op.project else ()
    return MemberFind(source, residual, op.match, constant, op.limit, Fetch(layout.entity, fields))


# ---- traversals and native commands -------------------------------------------------


@dataclass(frozen=True)
class Traversal:
    """Neighbour sets of the edge entity; the walk (k-hop union, breadth-first search) runs in the client."""

    pattern: Literal["k-hop", "mutual", "shortest-path"]
    out: bytes  # key prefix of the out-sets: + node -> the nodes it points to
    into: bytes  # key prefix of the in-sets: + node -> the nodes pointing to it
    hops: int
    limit: int | None

    @staticmethod
    def node(key: Any) -> bytes:
        """A node key as stored in the neighbour sets."""
        return text_of(key).encode()

    def neighbours(self, node: bytes) -> Command:
        return ("SMEMBERS", self.out + node)

    def union(self, nodes: Iterable[bytes]) -> Command:
        """The next level: every node the `nodes` point to."""
        return ("SUNION", *(self.out + node for node in nodes))

    def mutual(self, node: bytes) -> Command:
        """The nodes `node` follows and is followed by."""
        return ("SINTER", self.out + node, self.into + node)

    def ends(self, pair: Pair) -> tuple[bytes, bytes]:
        return self.node(pair.source), self.node(pair.target)


@dataclass(frozen=True)
class NativeCommand:
    """The user's command split on spaces; words with a `{name}` field are formatted per call, the rest once."""

    words: tuple[str, ...]
    templated: tuple[int, ...]  # positions of the words with a field

    @classmethod
    def parse(cls, text: str) -> NativeCommand:
        words = tuple(text.split())
        return cls(words, tuple(i for i, w in enumerate(words) if "{" in w))

    def command(self, params: Params) -> Command:
        command = list(self.words)
        for i in self.templated:
            command[i] = self.words[i].format_map(params)
        return tuple(command)

    @staticmethod
    def count(reply: Any) -> int:
        """Elements of an array or map reply, else 1 unless the reply is nil."""
        return len(reply) if isinstance(reply, (list, dict, set)) else int(reply is not None)  # redis-py: SMEMBERS a set


# ---- operation -> statement ----------------------------------------------------------

Statement = Read | Write | Update | Delete | Find | Traversal | NativeCommand


def refusal(op: Operation, workload: Workload) -> str | None:
    """Why Redis cannot run `op` of `workload`: the kinds it has no module for, finds no declared index serves."""
    if op.kind in REFUSED:
        return f"redis: {REFUSED[op.kind]}"
    if isinstance(op, NativeOp) and "redis" not in op.statements:
        return f"operation {op.name!r} has no native statement for redis"
    if isinstance(op, (FindOp, RangeOp)):
        return find_problem(op, IndexLayout.of(workload.entity(op.entity)))
    return None


def _update(op: UpdateOp, entity: Entity) -> Update:
    plain = tuple(f for f in op.set if "." not in f)
    nested = tuple(f for f in op.set if "." in f)
    moved = IndexLayout.of(entity).touched_by(set(plain))
    return Update(entity.name, plain, nested, expiry_ms(op), moved, moved.fields())


def traversal(op: TraverseOp) -> Traversal:
    return Traversal(op.pattern, f"{PREFIX}:{op.edges}:out:".encode(), f"{PREFIX}:{op.edges}:in:".encode(),
                     op.hops, op.limit)


def build(op: Operation, workload: Workload, engine: str = "redis") -> Statement:
    """The statement of `op` (once per bind); UnsupportedOperation when Redis cannot express it."""
    entity = workload.entity(op.entity)
    if isinstance(op, ReadOp):
        return Read(entity.name, op.project)
    if isinstance(op, InsertOp):
        return Write.of(entity, expiry_ms(op))
    if isinstance(op, UpdateOp):
        return _update(op, entity)
    if isinstance(op, DeleteOp):
        layout = IndexLayout.of(entity)
        return Delete(entity.name, layout, layout.fields())
    if isinstance(op, (FindOp, RangeOp)):
        return find_statement(op, IndexLayout.of(entity))
    if isinstance(op, TraverseOp):
        return traversal(op)
    if isinstance(op, NativeOp) and isinstance(text := op.statements.get(engine), str):  # a list: refused (base)
        return NativeCommand.parse(text)
    raise UnsupportedOperation(f"{op.name}: {refusal(op, workload) or f'redis has no mapping for {op.kind.value!r}'}")

