"""Redis adapter (redis-py with hiredis): hashes for records, index hashes/sets for lookups.

Record `k` of entity `e` is the hash `dbarena:e:k`. A unique index on field f is the hash
`dbarena:e:idx:f` (value -> key), so find-by-email is two round trips (HGET, HGETALL);
a non-unique index is a set per value. Loading and multi-key writes use non-transactional
pipelines (one round trip). Only keys under `dbarena:` are ever touched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import redis

from harness.engines.base import EngineAdapter, Executor, Record
from harness.errors import EngineUnavailable
from harness.spec.models import Entity, Operation, OperationKind, Workload

PREFIX = "dbarena"


def encode_value(value: Any) -> str | int | float:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value  # type: ignore[no-any-return]


def record_key(entity: str, key: Any) -> str:
    return f"{PREFIX}:{entity}:{key}"


def unique_index_key(entity: str, field: str) -> str:
    return f"{PREFIX}:{entity}:idx:{field}"


def multi_index_key(entity: str, field: str, value: Any) -> str:
    return f"{PREFIX}:{entity}:idx:{field}:{encode_value(value)}"


class RedisAdapter(EngineAdapter):
    name = "redis"
    client_library = "redis"
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset({
        OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.DELETE,
        OperationKind.FIND, OperationKind.NATIVE,
    })

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # redis-py types every command as sync-or-async; the client is sync, so Any is honest here.
        self.client: Any = None

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
        reason = super().unsupported_reason(op)
        if reason or op.kind is not OperationKind.FIND:
            return reason
        if op.sort is not None:
            return "redis: find with sort needs a sorted-set index, which this workload does not declare"
        return None

    @staticmethod
    def _indexes(entity: Entity) -> tuple[set[str], set[str]]:
        unique = {i.fields[0] for i in entity.indexes if i.unique and len(i.fields) == 1}
        multi = {i.fields[0] for i in entity.indexes if not i.unique and len(i.fields) == 1} - unique
        return unique, multi

    def prepare(self, workload: Workload) -> None:
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

    def _write(self, pipe: Any, entity: Entity, record: Record, unique: set[str], multi: set[str]) -> None:
        key = record[entity.key]
        pipe.hset(record_key(entity.name, key), mapping={f: encode_value(v) for f, v in record.items()})
        for field in unique:
            pipe.hset(unique_index_key(entity.name, field), encode_value(record[field]), key)
        for field in multi:
            pipe.sadd(multi_index_key(entity.name, field, record[field]), key)

    def load(self, entity: Entity, records: Sequence[Record]) -> None:
        unique, multi = self._indexes(entity)
        pipe = self._redis.pipeline(transaction=False)
        for record in records:
            self._write(pipe, entity, record, unique, multi)
        pipe.execute()

    def bind(self, op: Operation, entity: Entity) -> Executor:
        client, name, kind = self._redis, entity.name, op.kind
        unique, multi = self._indexes(entity)
        fields = list(op.project)
        if kind is OperationKind.READ:
            def read(key: Any, values: Mapping[str, Any] | None) -> int:
                found = client.hmget(record_key(name, key), fields) if fields else client.hgetall(record_key(name, key))
                return 1 if found and any(v is not None for v in (found if fields else [1])) else 0
            return read
        if kind is OperationKind.INSERT:
            def insert(key: Any, values: Mapping[str, Any] | None) -> int:
                assert values is not None
                pipe = client.pipeline(transaction=False)
                self._write(pipe, entity, dict(values), unique, multi)
                pipe.execute()
                return 1
            return insert
        if kind is OperationKind.UPDATE:
            return self._bind_update(op, entity, unique, multi)
        if kind is OperationKind.DELETE:
            return self._bind_delete(entity, unique, multi)
        if kind is OperationKind.FIND:
            return self._bind_find(op, entity, unique, multi)
        # "GET key:{key:012d}": words with a {key} field are formatted per call, the rest once.
        words = op.statements[self.name].split()
        templated = [i for i, w in enumerate(words) if "{" in w]

        def native(key: Any, values: Mapping[str, Any] | None) -> int:
            command = list(words)
            for i in templated:
                command[i] = words[i].format(key=key)
            reply = client.execute_command(*command)
            return len(reply) if isinstance(reply, (list, dict)) else int(reply is not None)
        return native

    def _bind_update(self, op: Operation, entity: Entity, unique: set[str], multi: set[str]) -> Executor:
        client, name = self._redis, entity.name
        indexed = [f for f in op.set if f in unique or f in multi]

        def update(key: Any, values: Mapping[str, Any] | None) -> int:
            assert values is not None
            rkey = record_key(name, key)
            old = dict(zip(indexed, client.hmget(rkey, indexed))) if indexed else {}
            pipe = client.pipeline(transaction=False)
            pipe.exists(rkey)
            pipe.hset(rkey, mapping={f: encode_value(values[f]) for f in op.set})
            for field in indexed:
                if field in unique:
                    if old[field] is not None:
                        pipe.hdel(unique_index_key(name, field), old[field])
                    pipe.hset(unique_index_key(name, field), encode_value(values[field]), key)
                else:
                    if old[field] is not None:
                        pipe.srem(f"{PREFIX}:{name}:idx:{field}:{old[field].decode()}", key)
                    pipe.sadd(multi_index_key(name, field, values[field]), key)
            return int(pipe.execute()[0])
        return update

    def _bind_delete(self, entity: Entity, unique: set[str], multi: set[str]) -> Executor:
        client, name = self._redis, entity.name
        indexed = sorted(unique | multi)

        def delete(key: Any, values: Mapping[str, Any] | None) -> int:
            rkey = record_key(name, key)
            old = client.hmget(rkey, indexed) if indexed else []
            pipe = client.pipeline(transaction=False)
            pipe.delete(rkey)
            for field, value in zip(indexed, old):
                if value is None:
                    continue
                if field in unique:
                    pipe.hdel(unique_index_key(name, field), value)
                else:
                    pipe.srem(f"{PREFIX}:{name}:idx:{field}:{value.decode()}", key)
            return int(pipe.execute()[0])
        return delete

    def _bind_find(self, op: Operation, entity: Entity, unique: set[str], multi: set[str]) -> Executor:
        client, name = self._redis, entity.name
        lookup = next((f for f in op.match if f in unique), None) or next((f for f in op.match if f in multi), None)
        wanted_const = {f: str(encode_value(v)).encode() for f, v in op.filter.items()}
        limit = op.limit or 1000

        def matches(record: dict[bytes, bytes], values: Mapping[str, Any]) -> bool:
            for field, value in wanted_const.items():
                if record.get(field.encode()) != value:
                    return False
            return all(record.get(field.encode()) == str(encode_value(values[field])).encode() for field in op.match)

        if lookup in unique:
            def find_unique(key: Any, values: Mapping[str, Any] | None) -> int:
                assert values is not None
                found = client.hget(unique_index_key(name, lookup), encode_value(values[lookup]))
                if found is None:
                    return 0
                record = client.hgetall(record_key(name, found.decode()))
                return 1 if record and matches(record, values) else 0
            return find_unique

        def find_many(key: Any, values: Mapping[str, Any] | None) -> int:
            assert values is not None and lookup is not None
            members = client.sscan_iter(multi_index_key(name, lookup, values[lookup]), count=limit)
            pipe = client.pipeline(transaction=False)
            for n, member in enumerate(members):
                if n >= limit:
                    break
                pipe.hgetall(record_key(name, member.decode()))
            return sum(1 for record in pipe.execute() if record and matches(record, values))
        return find_many

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
        commandstats = {k.removeprefix("cmdstat_"): {"calls": v.get("calls"), "usec_per_call": v.get("usec_per_call")}
                        for k, v in info.items() if k.startswith("cmdstat_")}
        return {
            **{k: info.get(k) for k in stats_keys},
            "keyspace": {k: v for k, v in info.items() if k.startswith("db")},
            "commandstats": commandstats,
        }
