"""Redis adapter (redis-py with hiredis): hashes for records, sets and sorted sets for indexes.

The key layout is in `redis_index`. Each record operation is one or two round trips: loading and
multi-key writes use non-transactional pipelines, a find or range is one index command plus
one pipelined fetch. Only keys under `dbarena:` are ever touched.

- TTL: an insert with `ttl_s` queues HSET + PEXPIRE (millisecond precision) in its pipeline.
- update: one Lua script (EVALSHA) writes only if the record exists, so a touch never
  resurrects a logged-out session as a partial hash, and sets a nested key of a JSON field
  (`attributes.k1`) with cjson, atomically; it re-arms the expiry when the op has `ttl_s`.
  cjson re-serialises the object, so its key order is not preserved.
- traverse: neighbour sets of the edge entity; the traversal logic (k-hop union, BFS) runs
  in the client, one SMEMBERS/SUNION round trip per level, and that cost is in the numbers.
- aggregate, search and scan are refused (no RediSearch/RedisTimeSeries here, no key order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import Any, ClassVar

import redis

from harness.engines.base import EngineAdapter, Executor, Record
from harness.engines.redis_index import (
    PREFIX,
    Finder,
    IndexLayout,
    encode_value,
    find_problem,
    make_finder,
    record_key,
    text_of,
)
from harness.errors import EngineUnavailable, UnsupportedOperation
from harness.spec.models import Entity, Operation, OperationKind, Workload

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

_REFUSED = {
    OperationKind.SEARCH: "full-text search needs the RediSearch module (FT.SEARCH); this redis-server loads no modules",
    OperationKind.AGGREGATE: "time-bucket aggregates need the RedisTimeSeries module (TS.MRANGE AGGREGATION); "
                             "this redis-server loads no modules, and bucketing every point in the client "
                             "would measure the client, not Redis",
    OperationKind.SCAN: "Redis keeps no key order; a scan by key would need a sorted set of every key, "
                        "which this adapter does not maintain",
}


def expiry_ms(op: Operation) -> int:
    return max(1, round(op.ttl_s * 1000)) if op.ttl_s else 0


class RedisAdapter(EngineAdapter):
    name = "redis"
    client_library = "redis"
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset({
        OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.DELETE,
        OperationKind.FIND, OperationKind.RANGE, OperationKind.TRAVERSE, OperationKind.NATIVE,
    })
    supports_ttl: ClassVar[bool] = True
    supports_nested_set: ClassVar[bool] = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # redis-py types every command as sync-or-async; the client is sync, so Any is honest here.
        self.client: Any = None
        self._calls_at_load: dict[str, tuple[int, int]] | None = None  # command -> (calls, usec)

    def connect(self) -> None:
        self.client = redis.Redis.from_url(self.url, socket_connect_timeout=10, single_connection_client=True)
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise EngineUnavailable(f"redis at {self.url} is not reachable: {exc}") from exc

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    @property
    def _redis(self) -> Any:
        assert self.client is not None, "connect() first"
        return self.client

    def is_disconnect(self, error: BaseException) -> bool:
        return isinstance(error, (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError))

    def unsupported_reason(self, op: Operation) -> str | None:
        if op.kind in _REFUSED:
            return f"{self.name}: {_REFUSED[op.kind]}"
        return super().unsupported_reason(op)

    def prepare(self, workload: Workload) -> None:
        """Refuse finds and ranges no declared index serves (before any data is dropped), then clear."""
        problems = [f"{op.name} ({op.kind.value}): {problem}" for op in workload.operations
                    if op.kind in (OperationKind.FIND, OperationKind.RANGE)
                    and (problem := find_problem(op, IndexLayout.of(workload.entity(op.entity))))]
        if problems:
            raise UnsupportedOperation(f"redis cannot run workload {workload.name!r}: " + "; ".join(problems))
        client = self._redis
        for entity in workload.dataset.entities:
            batch: list[bytes] = []
            for key in client.scan_iter(match=f"{PREFIX}:{entity.name}:*", count=5000):
                batch.append(key)
                if len(batch) >= 5000:
                    client.unlink(*batch)
                    batch.clear()
            if batch:
                client.unlink(*batch)

    @staticmethod
    def _write(pipe: Any, entity: Entity, layout: IndexLayout, record: Mapping[str, Any]) -> str:
        key = record[entity.key]
        rkey = record_key(entity.name, key)
        pipe.hset(rkey, mapping={f: encode_value(v) for f, v in record.items()})
        layout.add(pipe, key, record)
        return rkey

    def load(self, entity: Entity, records: Sequence[Record]) -> None:
        layout = IndexLayout.of(entity)
        pipe = self._redis.pipeline(transaction=False)
        for record in records:
            self._write(pipe, entity, layout, record)
        pipe.execute()

    def finish_load(self, workload: Workload) -> None:
        # commandstats are cumulative since server start: remember them so telemetry shows the run alone.
        self._calls_at_load = {k: (v["calls"], v["usec"]) for k, v in self._redis.info("commandstats").items()}

    def bind(self, op: Operation, entity: Entity) -> Executor:
        client, name, kind = self._redis, entity.name, op.kind
        if kind is OperationKind.READ:
            fields = list(op.project)

            def read(key: Any, values: Mapping[str, Any] | None) -> int:
                if fields:
                    return int(any(v is not None for v in client.hmget(record_key(name, key), fields)))
                return int(bool(client.hgetall(record_key(name, key))))
            return read
        if kind is OperationKind.INSERT:
            return self._bind_insert(op, entity)
        if kind is OperationKind.UPDATE:
            return self._bind_update(op, entity)
        if kind is OperationKind.DELETE:
            return self._bind_delete(entity)
        if kind in (OperationKind.FIND, OperationKind.RANGE):
            finder = self.finder(op, entity)
            return lambda key, values: len(finder(values or {}))
        if kind is OperationKind.TRAVERSE:
            return self._bind_traverse(op)
        return self._bind_native(op)

    def finder(self, op: Operation, entity: Entity) -> Finder:
        """The records a find or range returns, in order (the executor counts them; tests read them)."""
        layout = IndexLayout.of(entity)
        if problem := find_problem(op, layout):
            raise UnsupportedOperation(f"{op.name}: {problem}")
        return make_finder(self._redis, op, layout)

    def _bind_insert(self, op: Operation, entity: Entity) -> Executor:
        client, layout, ttl = self._redis, IndexLayout.of(entity), expiry_ms(op)

        def insert(key: Any, values: Mapping[str, Any] | None) -> int:
            assert values is not None
            pipe = client.pipeline(transaction=False)
            rkey = self._write(pipe, entity, layout, values)
            if ttl:
                pipe.pexpire(rkey, ttl)
            pipe.execute()
            return 1
        return insert

    def _bind_update(self, op: Operation, entity: Entity) -> Executor:
        """EVALSHA of UPDATE_SCRIPT; when an indexed field changes, HMGET the old values first."""
        client, name = self._redis, entity.name
        plain = [f for f in op.set if "." not in f]
        nested = [f for f in op.set if "." in f]
        moved = IndexLayout.of(entity).touched_by(set(plain))
        indexed = moved.fields()
        head = [expiry_ms(op), len(plain)]
        sha = client.script_load(UPDATE_SCRIPT)

        def update(key: Any, values: Mapping[str, Any] | None) -> int:
            assert values is not None
            rkey = record_key(name, key)
            args = [*head, *chain.from_iterable((f, encode_value(values[f])) for f in plain),
                    *chain.from_iterable((*f.split(".", 1), values[f]) for f in nested)]
            if not indexed:
                return int(client.evalsha(sha, 1, rkey, *args))
            old = dict(zip(indexed, client.hmget(rkey, indexed)))
            if any(v is None for v in old.values()):
                return 0  # no such record: nothing to write, no index entry to leave behind
            pipe = client.pipeline(transaction=False)
            pipe.evalsha(sha, 1, rkey, *args)
            moved.remove(pipe, key, old)
            moved.add(pipe, key, {**old, **{f: values[f] for f in plain}})
            return int(pipe.execute()[0])
        return update

    def _bind_delete(self, entity: Entity) -> Executor:
        client, name, layout = self._redis, entity.name, IndexLayout.of(entity)
        indexed = layout.fields()

        def delete(key: Any, values: Mapping[str, Any] | None) -> int:
            rkey = record_key(name, key)
            if not indexed:
                return int(client.delete(rkey))
            old = dict(zip(indexed, client.hmget(rkey, indexed)))
            pipe = client.pipeline(transaction=False)
            pipe.delete(rkey)
            if all(v is not None for v in old.values()):
                layout.remove(pipe, key, old)
            return int(pipe.execute()[0])
        return delete

    def reachable(self, op: Operation) -> Callable[[Any], set[bytes]]:
        """k-hop: nodes at the end of walks of exactly `hops` edges (minus the start); mutual:
        nodes the start follows and is followed by. Node keys as stored (bytes)."""
        client, out, into = self._redis, f"{PREFIX}:{op.edges}:out:".encode(), f"{PREFIX}:{op.edges}:in:".encode()
        if op.pattern == "mutual":
            return lambda key: set(client.sinter(out + text_of(key).encode(), into + text_of(key).encode()))

        def k_hop(key: Any) -> set[bytes]:
            start = text_of(key).encode()
            nodes: set[bytes] = client.smembers(out + start)
            for _ in range(op.hops - 1):
                if not nodes:
                    break
                nodes = client.sunion([out + node for node in nodes])
            nodes.discard(start)
            return nodes
        return k_hop

    def _bind_traverse(self, op: Operation) -> Executor:
        if op.pattern == "shortest-path":
            return self._bind_shortest_path(op)
        reachable, limit = self.reachable(op), op.limit

        def traverse(key: Any, values: Mapping[str, Any] | None) -> int:
            found = len(reachable(key))
            return min(found, limit) if limit else found
        return traverse

    def _bind_shortest_path(self, op: Operation) -> Executor:
        """Breadth-first in the client: one SUNION of the frontier's out-sets per level, up to `hops`."""
        client, out, hops = self._redis, f"{PREFIX}:{op.edges}:out:".encode(), op.hops

        def shortest_path(key: Any, values: Mapping[str, Any] | None) -> int:
            assert values is not None
            start, target = text_of(key).encode(), text_of(values["_to"]).encode()
            if start == target:
                return 0
            seen, frontier = {start}, {start}
            for depth in range(1, hops + 1):
                reached: set[bytes] = client.sunion([out + node for node in frontier])
                if target in reached:
                    return depth
                frontier = reached - seen
                if not frontier:
                    break
                seen |= frontier
            return 0
        return shortest_path

    def _bind_native(self, op: Operation) -> Executor:
        """Words with a {key} field ("GET key:{key:012d}") are formatted per call, the rest once."""
        client = self._redis
        words = op.statements[self.name].split()
        templated = [i for i, w in enumerate(words) if "{" in w]

        def native(key: Any, values: Mapping[str, Any] | None) -> int:
            command = list(words)
            for i in templated:
                command[i] = words[i].format(key=key)
            reply = client.execute_command(*command)
            return len(reply) if isinstance(reply, (list, dict)) else int(reply is not None)
        return native

    def server_version(self) -> str:
        return str(self._redis.info("server").get("redis_version", "unknown"))

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("appendonly", "appendfsync", "save", "maxmemory", "maxmemory-policy"):
            try:
                out.update({k: v for k, v in self._redis.config_get(name).items()})
            except redis.ResponseError:
                out[name] = "unavailable (CONFIG disabled)"
        return out

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        info = self._redis.info("all")
        stats_keys = ("keyspace_hits", "keyspace_misses", "total_commands_processed", "instantaneous_ops_per_sec",
                      "used_memory", "used_memory_peak", "mem_fragmentation_ratio", "connected_clients",
                      "evicted_keys", "expired_keys")
        before = self._calls_at_load or {}
        commandstats = {}
        for name, stats in info.items():
            if not name.startswith("cmdstat_"):
                continue
            calls0, usec0 = before.get(name, (0, 0))
            if stats["calls"] < calls0:  # CONFIG RESETSTAT since the load: the counters are the run's already
                calls0 = usec0 = 0
            if calls := stats["calls"] - calls0:
                commandstats[name.removeprefix("cmdstat_")] = {"calls": calls,
                                                               "usec_per_call": round((stats["usec"] - usec0) / calls, 2)}
        return {
            **{k: info.get(k) for k in stats_keys},
            "keyspace": {k: v for k, v in info.items() if k.startswith("db")},
            "commandstats": commandstats,
            "commandstats_since": "end of load" if self._calls_at_load is not None else "server start",
        }
