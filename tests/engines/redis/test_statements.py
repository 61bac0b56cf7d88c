"""Golden tests of the Redis statements, with no server: the commands, keys and ARGV of every operation.

A representative set is written out inline; `statements.golden.txt` holds every operation of
the library workloads (workloads/*.yaml): the commands Redis receives for a sample argument
(`>` one command, `|` queued on one pipeline), or why the operation is refused. After an
intended change, regenerate it with
`DBARENA_UPDATE_GOLDEN=1 .venv/bin/pytest tests/engines/redis/test_statements.py` and review the diff.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from harness.dataset.generate import dataset_factories
from harness.engines.calls import Change, Pair, Window
from harness.engines.redis.index import Command, IndexLayout, text_of
from harness.engines.redis.statements import (
    UPDATE_SCRIPT,
    UPDATE_SHA,
    Delete,
    Fetch,
    MemberFind,
    NativeCommand,
    Read,
    ScoreRange,
    SortedPage,
    Statement,
    Traversal,
    UniqueLookup,
    Update,
    Write,
    build,
    refusal,
)
from harness.errors import UnsupportedOperation
from harness.spec.models import (
    DeleteOp,
    FindOp,
    Index,
    NativeOp,
    Operation,
    OperationKind,
    SortSpec,
    UpdateOp,
    Workload,
)
from tests.engines import golden
from tests.engines.helpers import ROOT, workload

GOLDEN = Path(__file__).with_name("statements.golden.txt")
LIBRARY = sorted(path.stem for path in (ROOT / "workloads").glob("*.yaml"))


def ops(name: str) -> tuple[Workload, dict[str, Operation]]:
    spec = workload(name, 100)
    return spec, {op.name: op for op in spec.operations}


# ---- the golden file: every library operation ---------------------------------------


def word(arg: Any) -> str:
    """One argument as redis-py puts it on the wire (floats by repr), quoted when it has spaces or quotes."""
    text = arg.decode() if isinstance(arg, bytes) else repr(arg) if isinstance(arg, float) else str(arg)
    return json.dumps(text) if not text or any(c.isspace() or c == '"' for c in text) else text


def lines(mark: str, commands: Sequence[Command]) -> list[str]:
    return [f"{mark} " + " ".join(word(arg) for arg in command) for command in commands]


def sample_run(op: Operation, spec: Workload, statement: Statement) -> list[str]:
    """The commands `statement` sends for a sample argument built from records 7 and 8 of the dataset."""
    factory = dataset_factories(spec)[op.entity]
    argument = golden.sample_argument(op, factory, row=7, new_row=8, insert_row=7, nested=new_key, nodes=(1, 2))
    record = factory.record(7)
    key = record[factory.key_field]
    if isinstance(statement, Read):
        return lines(">", [statement.command(argument)])
    if isinstance(statement, Write):
        return lines("|", statement.commands(argument))
    if isinstance(statement, Update):
        first, then = statement.read_indexed(key), [statement.evalsha(argument)]
        then += statement.moves(key, stored(record), argument.values)
    elif isinstance(statement, Delete):
        first, then = statement.read_indexed(key), [statement.command(argument), *statement.removals(key, stored(record))]
    elif isinstance(statement, Traversal):
        return lines(">", sample_walk(statement, argument))
    elif isinstance(statement, NativeCommand):
        return lines(">", [statement.command(argument)])
    else:
        return sample_find(statement, argument, [text_of(key).encode(), text_of(factory.key_of(8)).encode()])
    return [*lines(">", [first]), *lines("|", then)] if statement.indexed else lines(">", then[:1])


def new_key(path: str) -> str:
    """The new value of a nested path: `new-<key>` ("attributes.k1" -> "new-k1")."""
    return f"new-{path.split('.')[1]}"


def stored(record: dict[str, Any]) -> dict[str, bytes]:
    """The record's values as HMGET reads them back."""
    return {f: text_of(v).encode() for f, v in record.items()}


def sample_find(find: Any, argument: Any, members: list[bytes]) -> list[str]:
    """The index command of a find (its match) or range (its window), then the fetch of `members`."""
    if isinstance(find, UniqueLookup):
        return lines(">", [find.lookup(argument), find.record(members[0])])
    return [*lines(">", [find.command(argument)]), *lines("|", find.fetch.commands(members))]


def sample_walk(walk: Traversal, argument: Any) -> list[Command]:
    """The first command of a traversal from node 1 (to node 2, for a shortest path)."""
    if walk.pattern == "shortest-path":
        source, _ = walk.ends(argument)
        return [walk.union([source])]
    start = walk.node(argument)
    if walk.pattern == "mutual":
        return [walk.mutual(start)]
    return [walk.neighbours(start), walk.union([b"2", b"3"])]


def golden_text() -> str:
    blocks = []
    for name in LIBRARY:
        spec = workload(name, 100)
        for op in spec.operations:
            head = f"== {name} / {op.name} ({op.kind.value})"
            if reason := refusal(op, spec):
                blocks.append(f"{head}\nrefused: {reason}\n")
            else:
                statement = build(op, spec)
                blocks.append("\n".join([f"{head} {type(statement).__name__}", *sample_run(op, spec, statement)]) + "\n")
    return "\n".join(blocks)


def test_every_library_operation_matches_the_golden_file() -> None:
    golden.check_golden(GOLDEN, golden_text(), what="Redis commands")


def test_the_golden_file_covers_every_library_operation() -> None:
    heads = [line for line in GOLDEN.read_text().splitlines() if line.startswith("== ")]
    expected = [f"{name} / {op.name}" for name in LIBRARY for op in workload(name, 100).operations]
    assert [head[3:].split(" (")[0] for head in heads] == expected


# ---- records: read, insert, update (the script and its ARGV), delete ---------------------


def test_reads_are_one_hgetall_or_an_hmget_of_the_projection() -> None:
    spec, kv = ops("kv-cache")
    read = build(kv["read"], spec)
    assert read == Read("usertable", ())
    assert read.command("user1") == ("HGETALL", "dbarena:usertable:user1")
    assert read.found({b"field0": b"x"}) == 1 and read.found({}) == 0
    projected = build(kv["read"].model_copy(update={"project": ("field0", "field1")}), spec)
    assert isinstance(projected, Read)
    assert projected.command("user1") == ("HMGET", "dbarena:usertable:user1", "field0", "field1")
    assert projected.found([None, b"x"]) == 1 and projected.found([None, None]) == 0


def test_an_insert_is_the_hash_its_index_entries_and_the_expiry_in_one_pipeline() -> None:
    spec, sessions = ops("session-cache")
    create = build(sessions["create"], spec)
    assert isinstance(create, Write) and create.expiry_ms == 1_800_000
    record = {"sid": "sess-1", "user_id": 7, "data": "x", "last_seen": datetime(2026, 1, 1, 0, 0, 5, tzinfo=timezone.utc)}
    assert create.commands(record) == [
        ("HSET", "dbarena:sessions:sess-1", "sid", "sess-1", "user_id", 7, "data", "x",
         "last_seen", "2026-01-01T00:00:05+00:00"),
        ("PEXPIRE", "dbarena:sessions:sess-1", 1_800_000),
    ]
    spec, accounts = ops("user-accounts")
    signup = build(accounts["signup"], spec)
    assert isinstance(signup, Write) and signup.expiry_ms == 0
    user = {"id": "u1", "email": "a@example.com", "username": "ann", "is_active": True, "metadata": {"k": 1}}
    assert signup.commands(user) == [
        ("HSET", "dbarena:users:u1", "id", "u1", "email", "a@example.com", "username", "ann", "is_active", "1",
         "metadata", '{"k":1}'),
        ("HSET", "dbarena:users:idx:email", "a@example.com", "u1"),
        ("HSET", "dbarena:users:idx:username", "ann", "u1"),
    ]
    spec, graph = ops("social-graph")
    follow = build(graph["follow"], spec)
    assert isinstance(follow, Write)
    assert follow.commands({"id": 9, "src": 1, "dst": 2}) == [
        ("HSET", "dbarena:follows:9", "id", 9, "src", 1, "dst", 2),
        ("SADD", "dbarena:follows:idx:src:1", 9),  # the declared indexes on src and dst
        ("SADD", "dbarena:follows:idx:dst:2", 9),
        ("SADD", "dbarena:follows:out:1", "2"),  # the adjacency sets of the edge entity
        ("SADD", "dbarena:follows:in:2", "1"),
    ]


def test_an_update_is_one_evalsha_of_the_script_with_expiry_pairs_and_nested_triples() -> None:
    assert hashlib.sha1(UPDATE_SCRIPT.encode()).hexdigest() == UPDATE_SHA
    assert "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end" in UPDATE_SCRIPT  # no partial ghosts
    spec, sessions = ops("session-cache")
    touch = build(sessions["touch"], spec)
    assert isinstance(touch, Update) and touch.indexed == ()
    seen = datetime(2026, 2, 1, 12, 0, tzinfo=timezone.utc)
    assert touch.evalsha(Change("sess-1", {"last_seen": seen})) == (
        "EVALSHA", UPDATE_SHA, 1, "dbarena:sessions:sess-1", 1_800_000, 1, "last_seen", "2026-02-01T12:00:00+00:00")
    spec, catalog = ops("document-catalog")
    set_attribute = build(catalog["set-attribute"], spec)
    assert isinstance(set_attribute, Update)
    assert set_attribute.argv({"attributes.k1": "mauve"}) == [0, 0, "attributes", "k1", "mauve"]
    both = build(UpdateOp(name="u", kind=OperationKind.UPDATE, entity="products", weight=1,
                          set=("stock", "attributes.k2"), ttl_s=0.0004), spec)
    assert isinstance(both, Update)
    assert both.argv({"stock": 3, "attributes.k2": True}) == [1, 1, "stock", 3, "attributes", "k2", True]


def test_an_update_of_an_indexed_field_reads_the_old_values_and_moves_the_entries() -> None:
    spec, _ = ops("document-catalog")
    reprice = build(UpdateOp(name="reprice", kind=OperationKind.UPDATE, entity="products", weight=1,
                             set=("category", "price")), spec)
    assert isinstance(reprice, Update) and reprice.indexed == ("category", "price")
    assert reprice.read_indexed("sku-1") == ("HMGET", "dbarena:products:sku-1", "category", "price")
    old = {"category": b"books", "price": b"9.5"}
    assert reprice.moves("sku-1", old, {"category": "pets", "price": 12.5}) == [
        ("ZREM", "dbarena:products:z:category:books", "sku-1"),
        ("ZADD", "dbarena:products:z:category:pets", 12.5, "sku-1"),
    ]


def test_a_delete_removes_the_index_entries_of_what_it_read() -> None:
    spec, sessions = ops("session-cache")
    logout = build(sessions["logout"], spec)
    assert logout == Delete("sessions", IndexLayout("sessions"), ())
    assert logout.command("sess-1") == ("DEL", "dbarena:sessions:sess-1")
    spec, _ = ops("user-accounts")
    drop = build(DeleteOp(name="drop", kind=OperationKind.DELETE, entity="users", weight=1), spec)
    assert isinstance(drop, Delete) and drop.read_indexed("u1") == ("HMGET", "dbarena:users:u1", "email", "username")
    assert drop.removals("u1", {"email": b"a@example.com", "username": b"ann"}) == [
        ("HDEL", "dbarena:users:idx:email", "a@example.com"), ("HDEL", "dbarena:users:idx:username", "ann")]


# ---- finds and ranges: which index, which command -------------------------------------


def test_a_find_by_a_unique_field_is_hget_then_hgetall_checked_against_the_filter() -> None:
    spec, accounts = ops("user-accounts")
    login = build(accounts["login"], spec)
    assert isinstance(login, UniqueLookup)
    match = {"email": "a@example.com"}
    assert login.lookup(match) == ("HGET", "dbarena:users:idx:email", "a@example.com")
    assert login.record(b"u1") == ("HGETALL", "dbarena:users:u1")
    assert login.accepts({b"email": b"a@example.com", b"is_active": b"1"}, match)
    assert not login.accepts({b"email": b"a@example.com", b"is_active": b"0"}, match)
    assert not login.accepts({}, match)


def test_a_sorted_find_pages_its_sorted_set_and_fetches_in_one_pipeline() -> None:
    spec, audit = ops("audit-log")
    history = build(audit["user-history"], spec)
    assert isinstance(history, SortedPage) and history.descending and history.limit == 50
    assert history.command({"user_id": 7}) == ("ZREVRANGE", "dbarena:events:z:user_id:7", 0, 49)
    assert history.fetch == Fetch("events", ())
    assert history.fetch.commands([b"e1", b"e2"]) == [("HGETALL", b"dbarena:events:e1"), ("HGETALL", b"dbarena:events:e2")]
    assert history.fetch.rows([{b"id": b"e1"}, {}]) == [{b"id": b"e1"}]  # an expired record is skipped
    ascending = build(audit["user-history"].model_copy(update={"sort": SortSpec(field="created_at")}), spec)
    assert isinstance(ascending, SortedPage) and ascending.command({"user_id": 7})[0] == "ZRANGE"


def test_an_equality_on_an_ordered_index_reads_members_at_one_score() -> None:
    spec, audit = ops("audit-log")
    lookup = build(audit["resource-lookup"], spec)
    assert isinstance(lookup, MemberFind) and lookup.residual == ()
    assert lookup.command({"resource_type": "invoice", "resource_id": 77_777}) == (
        "ZRANGEBYSCORE", "dbarena:events:z:resource_type:invoice", 77777.0, 77777.0, "LIMIT", 0, 100)
    assert lookup.page([b"a", b"b"]) == [b"a", b"b"]
    prefix = build(FindOp(name="f", kind=OperationKind.FIND, entity="events", weight=1, match=("user_id",), limit=3),
                   spec)
    assert isinstance(prefix, MemberFind)
    assert prefix.command({"user_id": 7}) == ("ZRANGE", "dbarena:events:z:user_id:7", 0, 2)


def test_equalities_no_index_covers_are_checked_on_the_fetched_records_before_the_limit() -> None:
    spec, _ = ops("audit-log")
    find = build(FindOp(name="f", kind=OperationKind.FIND, entity="events", weight=1, limit=2,
                        match=("resource_type", "resource_id"), filter={"action": "login"}, project=("id",)), spec)
    assert isinstance(find, MemberFind) and find.residual == ("action",)
    assert find.fetch == Fetch("events", ("id", "action"))  # the residual field is fetched too
    match = {"resource_type": "invoice", "resource_id": 5}
    assert find.command(match) == ("ZRANGEBYSCORE", "dbarena:events:z:resource_type:invoice", 5.0, 5.0)  # no LIMIT
    rows: list[dict[bytes, bytes | None]] = [{b"id": b"1", b"action": b"login"}, {b"id": b"2", b"action": b"read"},
            {b"id": b"3", b"action": b"login"}, {b"id": b"4", b"action": b"login"}]
    assert find.kept(rows, match) == [rows[0], rows[2]]


def test_a_range_reads_scores_between_the_window_bounds_with_a_limit() -> None:
    spec, catalog = ops("document-catalog")
    browse = build(catalog["browse"], spec)
    assert isinstance(browse, ScoreRange) and browse.fetch == Fetch("products", ("sku", "name", "price"))
    assert browse.command(Window({"category": "books"}, 10.5, 60.5)) == (
        "ZRANGEBYSCORE", "dbarena:products:z:category:books", 10.5, 60.5, "LIMIT", 0, 20)
    assert browse.fetch.commands([b"sku-1"]) == [("HMGET", b"dbarena:products:sku-1", "sku", "name", "price")]
    assert browse.fetch.rows([[b"sku-1", None, b"3.5"], [None, None, None]]) == [
        {b"sku": b"sku-1", b"name": None, b"price": b"3.5"}]
    descending = build(catalog["browse"].model_copy(update={"sort": SortSpec(field="price", order="desc"),
                                                            "limit": None}), spec)
    assert isinstance(descending, ScoreRange)
    assert descending.command(Window({"category": "books"}, 10, 60)) == (
        "ZREVRANGEBYSCORE", "dbarena:products:z:category:books", 60.0, 10.0)
    spec, metrics = ops("metrics-timeseries")
    series = build(metrics["series-last-hour"], spec)
    end = datetime(2026, 1, 1, 1, 0, tzinfo=timezone.utc)
    assert isinstance(series, ScoreRange)
    assert series.command(Window({"host": "host-03"}, end - timedelta(hours=1), end)) == (
        "ZRANGEBYSCORE", "dbarena:metrics:z:host:host-03", 1767225600.0, 1767229200.0, "LIMIT", 0, 1000)


# ---- traversals and native commands --------------------------------------------------


def test_traversals_read_the_neighbour_sets_of_the_edge_entity() -> None:
    spec, graph = ops("social-graph")
    friends = build(graph["friends-of-friends"], spec)
    assert friends == Traversal("k-hop", b"dbarena:follows:out:", b"dbarena:follows:in:", 2, 100)
    assert friends.neighbours(friends.node(1)) == ("SMEMBERS", b"dbarena:follows:out:1")
    assert friends.union([b"2", b"3"]) == ("SUNION", b"dbarena:follows:out:2", b"dbarena:follows:out:3")
    mutual = build(graph["mutual-follows"], spec)
    assert isinstance(mutual, Traversal)
    assert mutual.mutual(b"1") == ("SINTER", b"dbarena:follows:out:1", b"dbarena:follows:in:1")
    path = build(graph["connection-path"], spec)
    assert isinstance(path, Traversal) and (path.pattern, path.hops) == ("shortest-path", 4)
    assert path.ends(Pair(1, 2)) == (b"1", b"2")


def test_a_native_command_formats_its_templated_words_per_call() -> None:
    spec, _ = ops("kv-cache")
    op = NativeOp(name="n", kind=OperationKind.NATIVE, entity="usertable", weight=1,
                  statements={"redis": "GET key:{key:012d}", "postgres": "SELECT 1"})
    native = build(op, spec)
    assert native == NativeCommand(("GET", "key:{key:012d}"), (1,))
    assert native.command({"key": 5}) == ("GET", "key:000000000005")
    assert native.count([b"a", b"b"]) == 2 and native.count(None) == 0 and native.count(b"x") == 1
    with pytest.raises(UnsupportedOperation, match="no mapping for 'native'"):
        build(op, spec, engine="neo4j")


# ---- refusals --------------------------------------------------------------------------


def test_search_aggregate_and_scan_are_refused_with_their_reasons() -> None:
    spec, search = ops("product-search")
    assert "RediSearch" in str(refusal(search["search"], spec))
    spec, metrics = ops("metrics-timeseries")
    assert "RedisTimeSeries" in str(refusal(metrics["hourly-mean-per-host"], spec))
    assert refusal(metrics["series-last-hour"], spec) is None and refusal(metrics["ingest"], spec) is None
    spec, kv = ops("kv-cache")
    assert refusal(kv["scan"], spec) == ("redis: Redis keeps no key order; a scan by key would need a sorted set "
                                         "of every key, which this adapter does not maintain")
    with pytest.raises(UnsupportedOperation, match="key order"):
        build(kv["scan"], spec)


def test_finds_and_ranges_no_declared_index_serves_are_refused_with_the_index_they_need() -> None:
    spec, audit = ops("audit-log")
    events = spec.dataset.entities[0]
    bare = events.model_copy(update={"indexes": (Index(fields=("resource_type", "resource_id")),)})
    unindexed = spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"entities": (bare,)})})
    assert refusal(audit["user-history"], unindexed) == (
        "redis: find on events ordered by 'created_at' needs a declared index (user_id, created_at) whose last "
        "field is 'created_at'; Redis keeps that as a sorted set, and this workload declares none")
    with pytest.raises(UnsupportedOperation, match="user-history: redis: find on events"):
        build(audit["user-history"], unindexed)
    filtered = audit["user-history"].model_copy(update={"filter": {"action": "login"}})
    assert refusal(filtered, spec) == ("redis: the sorted-set index (user_id, created_at) does not cover the "
                                       "equality on action, so Redis could not apply the limit")
    by_ip = FindOp(name="f", kind=OperationKind.FIND, entity="events", weight=1, match=("ip",))
    assert refusal(by_ip, spec) == ("redis: find on events by ip needs a declared index on those fields "
                                    "(Redis has no secondary lookups of its own)")
    spec, catalog = ops("document-catalog")
    by_stock = catalog["browse"].model_copy(update={"sort": SortSpec(field="stock")})
    assert refusal(by_stock, spec) == "redis: a range over 'price' can only be sorted by 'price', not 'stock'"
