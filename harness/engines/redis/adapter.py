"""Redis adapter (redis-py with hiredis): hashes for records, sets and sorted sets for indexes.

The key layout is in `index`, the commands each operation sends in `statements`; this module
sends them. Each record operation is one or two round trips: loading and multi-key writes use
non-transactional pipelines, a find or range is one index command plus one pipelined fetch.
Only keys under `dbarena:` are ever touched (a run's dataset lock is `dbarena:_lock:<entity>`).

- TTL: an insert with `ttl_s` queues HSET + PEXPIRE (millisecond precision) in its pipeline.
- update: one Lua script (EVALSHA, loaded once per bind, and again when a restarted server
  answers NOSCRIPT) writes only if the record exists and sets nested keys of JSON fields
  atomically; an update of an indexed field reads the old values first and moves the index
  entries in the same pipeline.
- traverse: neighbour sets of the edge entity; the traversal logic (k-hop union, BFS) runs
  in the client, one SMEMBERS/SUNION round trip per level, and that cost is in the numbers.
- aggregate, search and scan are refused (no RediSearch/RedisTimeSeries here, no key order),
  and so is a find or range no declared index serves: all in `unsupported_reason`, before
  anything is dropped or loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import redis

from harness.dataset.generate import RecordBatch
from harness.engines.base import EngineAdapter, Executor, LockHolder, Record
from harness.engines.calls import Change, Match, Pair, Params, Window
from harness.engines.redis.bulk import load as load_pipelined
from harness.engines.redis.bulk import load_columns as load_columns_pipelined
from harness.engines.redis.index import PREFIX, Command, IndexLayout, Row
from harness.engines.redis.statements import (
    UPDATE_SCRIPT,
    UPDATE_SHA,
    Delete,
    Fetch,
    Find,
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
    find_statement,
    refusal,
    traversal,
)
from harness.engines.redis.wire import Wire, native_executor, read_executor
from harness.errors import HarnessBug, UnsupportedOperation
from harness.spec.models import DEFAULT_OP_TIMEOUT_S, Entity, FindOp, Operation, OperationKind, RangeOp, TraverseOp, Workload, timeout_of

Finder = Callable[[Any], list[Row]]  # a find's match mapping, or a range's Window -> the records, in order
Reachable = Callable[[Any], set[bytes]]  # a start key -> the node keys a k-hop or mutual traversal reaches


def _send(pipe: Any, commands: Sequence[Command]) -> list[Any]:
    """Queue `commands` on a pipeline and run it: one round trip, the replies in order."""
    for command in commands:
        pipe.execute_command(*command)
    return list(pipe.execute())


class RedisAdapter(EngineAdapter[Any]):
    """One redis-py connection (`single_connection_client`); the client is sync, so `Any` is honest here."""

    client_library = "redis"
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset({
        OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.DELETE,
        OperationKind.FIND, OperationKind.RANGE, OperationKind.TRAVERSE, OperationKind.NATIVE,
    })
    supports_ttl: ClassVar[bool] = True
    supports_nested_set: ClassVar[bool] = True
    # ValueError: redis-py's refusal of a URL it cannot use (a database that is not a number, a bad option).
    unreachable_errors: ClassVar[tuple[type[BaseException], ...]] = (redis.RedisError, ValueError)
    url_schemes: ClassVar[tuple[str, ...]] = ("redis", "rediss", "unix")
    url_example: ClassVar[str] = "redis://127.0.0.1:6379/0"
    disconnect_errors: ClassVar[tuple[type[BaseException], ...]] = (
        redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError)
    # the socket timeout fired; redis-py then drops the connection and opens a new one on the next command
    timeout_errors: ClassVar[tuple[type[BaseException], ...]] = (redis.TimeoutError, TimeoutError)
    reconnects_in_call: ClassVar[bool] = True  # redis-py and the wire path connect again on the next command
    locks_datasets: ClassVar[bool] = True  # SET NX PX per entity, renewed (lock_dataset)

    def __init__(self, name: str, url: str, op_timeout_s: float = DEFAULT_OP_TIMEOUT_S) -> None:
        super().__init__(name, url, op_timeout_s)
        self._calls_at_load: dict[str, tuple[int, int]] | None = None  # command -> (calls, usec)

    def refused(self, error: BaseException) -> bool:
        # an AUTH or SELECT the server answered with an error (wrong password, a database index it does not have)
        return isinstance(error, (redis.AuthenticationError, redis.ResponseError))

    def _open(self) -> Any:
        # socket_timeout: no reply within the operation timeout raises redis.TimeoutError (Redis has no
        # server-side limit on a command); a client from a URL retries nothing (no retry inside the timer)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=10, socket_timeout=self.op_timeout_s,
                                      single_connection_client=True)
        try:
            client.ping()
        except BaseException:
            client.close()
            raise
        return client

    def unsupported_reason(self, op: Operation, workload: Workload) -> str | None:
        return refusal(op, workload) or super().unsupported_reason(op, workload)

    # ---- schema and data ------------------------------------------------------------

    def prepare(self, workload: Workload) -> None:
        """Drop every key a previous run left under the workload's entities (finds were checked before)."""
        client = self.client
        for entity in workload.dataset.entities:
            batch: list[bytes] = []
            for key in client.scan_iter(match=f"{PREFIX}:{entity.name}:*", count=5000):
                batch.append(key)
                if len(batch) >= 5000:
                    client.unlink(*batch)
                    batch.clear()
            if batch:
                client.unlink(*batch)

    def load(self, workload: Workload, entity: Entity, records: Sequence[Record]) -> None:
        """The records' HSETs and index entries, pipelined as `redis-cli --pipe` sends them (harness.engines.redis.bulk)."""
        load_pipelined(self.client, Write.of(entity), records)

    def load_columns(self, workload: Workload, entity: Entity, batch: RecordBatch) -> None:
        """`load`, packed from the generated columns as they are (no record dicts)."""
        load_columns_pipelined(self.client, Write.of(entity), batch)

    def finish_load(self, workload: Workload) -> None:
        # commandstats are cumulative since server start: remember them so telemetry shows the run alone.
        self._calls_at_load = {k: (v["calls"], v["usec"]) for k, v in self.client.info("commandstats").items()}

    # ---- operations -----------------------------------------------------------------

    def bind(self, op: Operation, workload: Workload) -> Executor:
        if reason := self.unsupported_reason(op, workload):
            raise UnsupportedOperation(f"{op.name}: {reason}")
        call = self.executor(build(op, workload, self.name))
        seconds = timeout_of(op, self.op_timeout_s)
        return call if seconds == self.op_timeout_s else _socket_timeout(self.client, call, seconds, self.op_timeout_s)

    def executor(self, statement: Statement) -> Executor:
        """The executor sending `statement`'s commands on this connection."""
        client = self.client
        if isinstance(statement, Read):  # pre-encoded, hiredis-parsed (wire.py): the hot path of a read mix
            return read_executor(Wire(client), statement.entity, statement.fields)
        if isinstance(statement, Write):
            return _insert(client, statement)
        if isinstance(statement, Update):
            return _update(client, statement)
        if isinstance(statement, Delete):
            return _delete(client, statement)
        if isinstance(statement, Traversal):
            return _traverse(client, statement)
        if isinstance(statement, NativeCommand):
            fast = native_executor(Wire(client), statement.words, statement.templated)
            return fast or _native(client, statement)
        finder = _finder(client, statement)
        return lambda argument: len(finder(argument))

    def finder(self, op: FindOp | RangeOp, workload: Workload) -> Finder:
        """The records a find or range returns, in order (the executor counts them; tests read them)."""
        return _finder(self.client, find_statement(op, IndexLayout.of(workload.entity(op.entity))))

    def reachable(self, op: TraverseOp) -> Reachable:
        """k-hop: nodes at the end of walks of exactly `hops` edges (minus the start); mutual:
        nodes the start follows and is followed by, other than itself. Node keys as stored (bytes)."""
        return _reachable(self.client, traversal(op))

    # ---- one run per dataset: SET NX PX, renewed while the run lasts -----------------------

    def _lock_acquire(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """`SET dbarena:_lock:<entity> <holder> NX PX ttl`; an expired holder's key is gone already.

        (Entity names start with a letter, so prepare's `dbarena:<entity>:*` never matches the lock.)
        """
        key, value = _lock_key(name), holder.model_dump_json()
        if self.client.set(key, value, nx=True, px=_ms(ttl_s)):
            return None
        found = self.client.get(key)
        return LockHolder.model_validate_json(found) if found else True

    def _lock_renew(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """Our key's expiry pushed ahead, or the key set again if it vanished; the other holder if it is theirs."""
        key = _lock_key(name)
        if self.client.eval(_RENEW_LOCK, 1, key, holder.model_dump_json(), _ms(ttl_s)):
            return None
        found = self.client.get(key)
        return LockHolder.model_validate_json(found) if found else True

    def _lock_release(self, name: str, holder: LockHolder) -> None:
        self.client.eval(_RELEASE_LOCK, 1, _lock_key(name), holder.model_dump_json())

    # ---- manifest and telemetry -----------------------------------------------------

    def server_version(self) -> str:
        return str(self.client.info("server").get("redis_version", "unknown"))

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("appendonly", "appendfsync", "save", "maxmemory", "maxmemory-policy"):
            try:
                out.update(self.client.config_get(name).items())
            except redis.ResponseError:
                out[name] = "unavailable (CONFIG disabled)"
        return out

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        info = self.client.info("all")
        stats_keys = ("keyspace_hits", "keyspace_misses", "total_commands_processed", "instantaneous_ops_per_sec",
                      "used_memory", "used_memory_peak", "mem_fragmentation_ratio", "connected_clients",
                      "evicted_keys", "expired_keys")
        return {
            **{k: info.get(k) for k in stats_keys},
            "keyspace": {k: v for k, v in info.items() if k.startswith("db")},
            "commandstats": self._commandstats(info),
            "commandstats_since": "end of load" if self._calls_at_load is not None else "server start",
        }

    def _commandstats(self, info: dict[str, Any]) -> dict[str, dict[str, float]]:
        """Calls and mean time per command since the end of the load (or server start)."""
        before = self._calls_at_load or {}
        out = {}
        for name, stats in info.items():
            if not name.startswith("cmdstat_"):
                continue
            calls0, usec0 = before.get(name, (0, 0))
            if stats["calls"] < calls0:  # CONFIG RESETSTAT since the load: the counters are the run's already
                calls0 = usec0 = 0
            if calls := stats["calls"] - calls0:
                out[name.removeprefix("cmdstat_")] = {"calls": calls,
                                                      "usec_per_call": round((stats["usec"] - usec0) / calls, 2)}
        return out

    def answer(self, op: Operation, workload: Workload, argument: Any) -> list[dict[str, Any]] | None:
        """The records the executor's commands return (dbarena verify; redis/answers.py)."""
        from harness.engines.redis.answers import answer

        return answer(self, self.bind(op, workload), op, workload, argument)


# the lock's value is its holder: renew it if it is ours (or vanished), release it only if ours
_RENEW_LOCK = """local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return false"""
_RELEASE_LOCK = """if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0"""


def _lock_key(name: str) -> str:
    return f"{PREFIX}:_lock:{name}"


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


# ---- executors: one per statement, closed over the connection's client ----------------


def _insert(client: Any, write: Write) -> Executor:
    def insert(record: Record) -> int:
        _send(client.pipeline(transaction=False), write.commands(record))
        return 1
    return insert


def _socket_timeout(client: Any, call: Executor, seconds: float, default_s: float) -> Executor:
    """`call` with the connection's socket timeout at `seconds` (an operation's own timeout), then back."""
    connection = client.connection

    def timed(argument: Any) -> int:
        _set_socket_timeout(connection, seconds)
        try:
            return call(argument)
        finally:
            _set_socket_timeout(connection, default_s)
    return timed


def _set_socket_timeout(connection: Any, seconds: float) -> None:
    connection.socket_timeout = seconds  # for the next (re)connect
    sock = connection._sock  # redis-py offers no per-command timeout: the open socket's, set in place
    if sock is not None:
        sock.settimeout(seconds)


def _load_script(client: Any) -> None:
    sha = client.script_load(UPDATE_SCRIPT)
    if sha != UPDATE_SHA:
        raise HarnessBug(f"redis answered SCRIPT LOAD with {sha}, expected the SHA1 {UPDATE_SHA} of the script")


def _reloading(client: Any, call: Executor) -> Executor:
    """`call`, and once more after loading the script again if the server lost it (NOSCRIPT).

    A restarted server (or SCRIPT FLUSH) forgets scripts; redis-py may reconnect the same
    client to it without the runner rebinding, so the executor reloads the script itself.
    """
    def update(change: Change) -> int:
        try:
            return call(change)
        except redis.exceptions.NoScriptError:
            _load_script(client)
            return call(change)
    return update


def _update(client: Any, update: Update) -> Executor:
    """EVALSHA alone; when an indexed field changes, HMGET the old values, then one pipeline.

    Both run again after reloading the script when the server answers NOSCRIPT: the index
    moves of a pipeline whose EVALSHA failed are set operations, so repeating them is harmless.
    """
    _load_script(client)
    indexed = update.indexed

    def plain(change: Change) -> int:
        return int(client.execute_command(*update.evalsha(change)))

    def moving(change: Change) -> int:
        command = update.evalsha(change)
        old = dict(zip(indexed, client.execute_command(*update.read_indexed(change.key))))
        if any(v is None for v in old.values()):
            return 0  # no such record: nothing to write, no index entry to leave behind
        return int(_send(client.pipeline(transaction=False),
                         [command, *update.moves(change.key, old, change.values)])[0])
    return _reloading(client, moving if indexed else plain)


def _delete(client: Any, delete: Delete) -> Executor:
    indexed = delete.indexed

    def plain(key: Any) -> int:
        return int(client.execute_command(*delete.command(key)))

    def indexed_delete(key: Any) -> int:
        old = dict(zip(indexed, client.execute_command(*delete.read_indexed(key))))
        removals = delete.removals(key, old) if all(v is not None for v in old.values()) else []
        return int(_send(client.pipeline(transaction=False), [delete.command(key), *removals])[0])
    return indexed_delete if indexed else plain


def _fetch(client: Any, fetch: Fetch, keys: list[bytes]) -> list[Row]:
    """The records named by `keys`, in one pipelined round trip (none when there are no keys)."""
    if not keys:
        return []
    return fetch.rows(_send(client.pipeline(transaction=False), fetch.commands(keys)))


def _finder(client: Any, find: Find) -> Finder:
    if isinstance(find, UniqueLookup):
        return _unique_finder(client, find)
    if isinstance(find, MemberFind):
        return _member_finder(client, find)
    return _sorted_finder(client, find)


def _sorted_finder(client: Any, find: SortedPage | ScoreRange) -> Finder:
    command: Callable[[Any], Command] = find.command  # a find's match mapping or a range's Window
    fetch = find.fetch

    def sorted_find(argument: Match | Window) -> list[Row]:
        return _fetch(client, fetch, client.execute_command(*command(argument)))
    return sorted_find


def _unique_finder(client: Any, find: UniqueLookup) -> Finder:
    def unique_find(match: Match) -> list[Row]:
        found = client.execute_command(*find.lookup(match))
        if found is None:
            return []
        record = client.execute_command(*find.record(found))
        return [record] if find.accepts(record, match) else []
    return unique_find


def _member_finder(client: Any, find: MemberFind) -> Finder:
    def member_find(match: Match) -> list[Row]:
        keys = list(client.execute_command(*find.command(match)))
        if not find.residual:
            return _fetch(client, find.fetch, find.page(keys))
        return find.kept(_fetch(client, find.fetch, keys), match)
    return member_find


def _reachable(client: Any, walk: Traversal) -> Reachable:
    if walk.pattern == "mutual":
        def mutual(key: Any) -> set[bytes]:  # a self-follow is no mutual follow (as PostgreSQL and Neo4j answer)
            start = walk.node(key)
            return set(client.execute_command(*walk.mutual(start))) - {start}
        return mutual

    def k_hop(key: Any) -> set[bytes]:
        start = walk.node(key)
        nodes: set[bytes] = client.execute_command(*walk.neighbours(start))
        for _ in range(walk.hops - 1):
            if not nodes:
                break
            nodes = client.execute_command(*walk.union(nodes))
        nodes.discard(start)
        return nodes
    return k_hop


def _traverse(client: Any, walk: Traversal) -> Executor:
    if walk.pattern == "shortest-path":
        return _shortest_path(client, walk)
    reachable, limit = _reachable(client, walk), walk.limit

    def traverse(key: Any) -> int:
        found = len(reachable(key))
        return min(found, limit) if limit else found
    return traverse


def _shortest_path(client: Any, walk: Traversal) -> Executor:
    """Breadth-first in the client: one SUNION of the frontier's out-sets per level, up to `hops`."""
    def shortest_path(pair: Pair) -> int:
        start, target = walk.ends(pair)
        if start == target:
            return 0
        seen, frontier = {start}, {start}
        for depth in range(1, walk.hops + 1):
            reached: set[bytes] = client.execute_command(*walk.union(frontier))
            if target in reached:
                return depth
            frontier = reached - seen
            if not frontier:
                break
            seen |= frontier
        return 0
    return shortest_path


def _native(client: Any, native: NativeCommand) -> Executor:
    def run(params: Params) -> int:
        return native.count(client.execute_command(*native.command(params)))
    return run
