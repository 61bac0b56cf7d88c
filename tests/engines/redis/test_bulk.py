"""The Redis bulk load (harness.engines.redis.bulk) against a real server: what the server holds and counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hiredis
import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from harness.dataset.generate import RecordBatch, dataset_factories
from harness.engines.redis.bulk import load_commands, packed_columns, pipe
from harness.engines.redis.index import PREFIX, encode_value
from harness.engines.redis.statements import Write
from harness.engines.registry import create_adapter
from harness.spec.loader import load_workload
from tests.engines.helpers import workload

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "workloads").glob("*.yaml")))
def test_load_commands_are_the_write_commands_of_every_record(name: str) -> None:
    """The bulk load's fast path sends exactly what Write.commands would (every library workload's entities)."""
    spec = load_workload(ROOT / "workloads" / f"{name}.yaml")
    for entity in spec.dataset.entities:
        records = dataset_factories(spec)[entity.name].batch(0, 300)
        write = Write.of(entity)
        assert load_commands(write, records) == [c for r in records for c in write.commands(r)], entity.name
    expiring = Write.of(spec.dataset.entities[0], expiry=5000)
    assert load_commands(expiring, records[:3]) == [c for r in records[:3] for c in expiring.commands(r)]


def packed_hsets(write: Write, records: list[dict[str, Any]]) -> bytes | None:
    batch = RecordBatch.of(records)
    return None if batch is None else packed_columns(write, batch.names, batch.columns)


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "workloads").glob("*.yaml")))
def test_packed_hsets_are_the_bytes_hiredis_packs_or_none(name: str) -> None:
    """Where the column-at-a-time packing applies (no index entries, plain values of one shape), it is byte for
    byte what hiredis packs of Write.commands; elsewhere it declines (None) and the commands go through `pipe`."""
    spec = load_workload(ROOT / "workloads" / f"{name}.yaml")
    for entity in spec.dataset.entities:
        records = dataset_factories(spec)[entity.name].batch(0, 300)
        write = Write.of(entity)
        payload = packed_hsets(write, records)
        commands = [c for r in records for c in write.commands(r)]
        if payload is not None:
            assert payload == b"".join(map(hiredis.pack_command, commands)), entity.name
            assert len(commands) == len(records)
        else:
            assert len(commands) > len(records) or write.expiry_ms or any(
                type(v) not in (str, int, float) for r in records for v in r.values()), entity.name


def test_the_bulkload_benchmarks_records_take_the_packed_path() -> None:
    spec = load_workload(ROOT / "benchmarks" / "bulkload" / "accounts.yaml")
    entity = spec.dataset.entities[0]
    records = dataset_factories(spec)[entity.name].batch(0, 1000)
    write = Write.of(entity)
    assert packed_hsets(write, records) == b"".join(hiredis.pack_command(c) for r in records for c in write.commands(r))
    assert packed_hsets(Write.of(entity, expiry=5000), records) is None  # an expiry is a second command
    columns = dataset_factories(spec)[entity.name].columns(0, 1000)  # the load workers' batch
    assert packed_columns(write, columns.names, columns.columns) == packed_hsets(write, records)


PLAIN_VALUES = st.one_of(st.text(), st.integers(), st.floats(allow_nan=True, allow_infinity=True))


@given(st.lists(st.tuples(st.integers(), PLAIN_VALUES, PLAIN_VALUES), min_size=1, max_size=20))
def test_packed_hsets_equal_hiredis_for_any_plain_values(rows: list[tuple[int, Any, Any]]) -> None:
    spec = workload("kv-cache", 10)
    entity = spec.dataset.entities[0]
    records = [{entity.key: key, "a": a, "b": b} for key, a, b in rows]
    write = Write.of(entity)
    assert packed_hsets(write, records) == b"".join(hiredis.pack_command(c) for r in records for c in write.commands(r))
    assert packed_hsets(write, [*records, {entity.key: 1, "a": True, "b": 1}]) is None  # bool: not plain
    assert packed_hsets(write, [*records, {"b": 1, entity.key: 1, "a": 2}]) is None  # another field order


def calls(client: Any, command: str) -> int:
    stats = client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", stats.get(command, {"calls": 0}))["calls"])


@pytest.mark.redis
def test_load_writes_every_record_and_index_entry(redis_url: str) -> None:
    spec = workload("user-accounts", 3000)  # unique email and username: HSETs into two index hashes too
    entity = spec.dataset.entities[0]
    records = dataset_factories(spec)[entity.name].batch(0, entity.count)
    adapter = create_adapter("redis", redis_url)
    adapter.connect()
    check = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        adapter.prepare(spec)
        hsets = calls(check, "hset")
        for start in range(0, entity.count, 1000):
            adapter.load(spec, entity, records[start:start + 1000])
        assert calls(check, "hset") - hsets == 3 * entity.count  # the record and its two unique-index entries
        keys = [k for k in check.scan_iter(match=f"{PREFIX}:{entity.name}:*", count=5000) if ":idx" not in k]
        assert len(keys) == entity.count
        for index in (0, 1234, entity.count - 1):
            record = records[index]
            key = f"{PREFIX}:{entity.name}:{record[entity.key]}"
            assert check.hgetall(key) == {f: str(encode_value(v)) for f, v in record.items()}
            assert check.hget(f"{PREFIX}:{entity.name}:idx:email", record["email"]) == str(record[entity.key])
    finally:
        adapter.close()


@pytest.mark.redis
def test_the_packed_path_stores_what_the_server_counts(redis_url: str) -> None:
    """The bulk-load benchmark's records (the packed path): the server counted one HSET per record and holds each."""
    spec = load_workload(ROOT / "benchmarks" / "bulkload" / "accounts.yaml").scaled(0.03)
    entity = spec.dataset.entities[0]
    records = dataset_factories(spec)[entity.name].batch(0, entity.count)
    assert packed_hsets(Write.of(entity), records) is not None
    adapter = create_adapter("redis", redis_url)
    adapter.connect()
    check = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        adapter.prepare(spec)
        hsets = calls(check, "hset")
        factory = dataset_factories(spec)[entity.name]
        for start in range(0, entity.count, 1000):  # as the load workers do
            adapter.load_columns(spec, entity, factory.columns(start, min(entity.count, start + 1000)))
        assert calls(check, "hset") - hsets == entity.count
        for index in (0, 777, entity.count - 1):
            record = records[index]
            assert check.hgetall(f"{PREFIX}:{entity.name}:{record[entity.key]}") == {
                f: str(v) for f, v in record.items()}
    finally:
        adapter.close()


@pytest.mark.redis
def test_an_error_reply_is_raised_after_every_reply_is_read(redis_url: str) -> None:
    spec = workload("user-accounts", 10)
    entity = spec.dataset.entities[0]
    records = dataset_factories(spec)[entity.name].batch(0, entity.count)
    adapter = create_adapter("redis", redis_url)
    adapter.connect()
    check = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        adapter.prepare(spec)
        blocker = f"{PREFIX}:{entity.name}:{records[4][entity.key]}"
        check.set(blocker, "a string: HSET on it is WRONGTYPE")
        commands = [c for r in records for c in Write.of(entity).commands(r)]
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            pipe(adapter.client, commands)
        assert check.ping() and adapter.client.ping()  # type: ignore[attr-defined]  # the connection is in step: no reply was left unread
        hashes = [k for k in check.scan_iter(match=f"{PREFIX}:{entity.name}:*", _type="hash") if ":idx" not in k]
        assert len(hashes) == entity.count - 1  # the other nine records went in, as with redis-cli --pipe
    finally:
        check.delete(blocker)
        adapter.close()
