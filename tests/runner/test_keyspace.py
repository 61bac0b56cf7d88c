"""The acknowledged key space: no call names a record whose insert the engine has not acknowledged.

Unit tests drive the real OperationMix of several users in several simulated processes against
an in-memory store with calls in flight, failing and completing out of order; engine tests run
whole benchmarks and read the server's own counters (PostgreSQL's pg_stat_user_tables,
Redis's INFO keyspace_misses).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest
import redis

from harness.errors import SpecError
from harness.results.build import run_and_record
from harness.runner.driver import KeySpace, OperationMix, check_deletes, key_spaces
from harness.runner.progress import Progress
from harness.runner.run import RunRequest, check_shape
from harness.spec.loader import load_workload
from harness.spec.models import OperationKind, Workload
from harness.spec.suite import LoadProfile

ROOT = Path(__file__).resolve().parents[2]


def workload(name: str, count: int, preset: str | None = None) -> Workload:
    spec = load_workload(ROOT / "workloads" / f"{name}.yaml")
    spec = spec.scaled(count / spec.dataset.entities[0].count)
    return spec.with_preset(preset) if preset else spec.active()


def named_key(kind: OperationKind, argument: Any) -> Any:
    """The record key a by-key call names."""
    if isinstance(argument, tuple):  # Change, Scan
        return argument.key  # type: ignore[attr-defined]
    return argument if kind is not OperationKind.INSERT else None


class Store:
    """An engine stand-in: the keys that exist; counts calls that named a key that does not."""

    def __init__(self, keys: set[Any]) -> None:
        self.keys = keys
        self.misses = self.named = 0

    def send(self, kind: OperationKind, key_field: str, argument: Any) -> None:
        if kind is OperationKind.INSERT:
            key = argument[key_field]
            assert key not in self.keys, f"insert of an existing record {key}"
            return
        key = named_key(kind, argument)
        self.named += 1
        self.misses += key not in self.keys

    def complete(self, kind: OperationKind, key_field: str, argument: Any) -> None:
        if kind is OperationKind.INSERT:
            self.keys.add(argument[key_field])
        elif kind is OperationKind.DELETE:
            self.keys.discard(argument)


def simulate(spec: Workload, processes: int, users: int, calls: int, fail: float, seed: int = 3) -> Store:
    """`processes` x `users` users issuing `calls` calls in all, up to one in flight each, completing
    in random order; a fraction `fail` of calls fails (never acknowledged; a failed insert may still
    have been applied, as after a client-side timeout)."""
    total = processes * users
    mixes = []
    for p in range(processes):
        spaces = key_spaces(spec, p * users, users, total)
        mixes += [OperationMix(spec, slot, total, seed=1, spaces=spaces) for slot in range(p * users, (p + 1) * users)]
    factories = {d.op.entity: d.factory for d in mixes[0].drivers}
    store = Store({factories[e.name].key_of(i) for e in spec.dataset.entities for i in range(e.count)})
    rng = random.Random(seed)
    flight: list[tuple[Any, Any] | None] = [None] * total
    for _ in range(calls):
        user = rng.randrange(total)
        pending = flight[user]
        if pending is None:
            driver = mixes[user].drivers[mixes[user].next_index()]
            argument = driver.arguments()
            store.send(driver.kind, driver.factory.key_field, argument)
            flight[user] = (driver, argument)
            continue
        driver, argument = pending
        flight[user] = None
        if rng.random() < fail:
            if driver.kind is OperationKind.INSERT and rng.random() < 0.5:
                store.complete(driver.kind, driver.factory.key_field, argument)  # applied, but the client timed out
            continue
        store.complete(driver.kind, driver.factory.key_field, argument)
        driver.acknowledge()
    return store


@pytest.mark.parametrize(("name", "preset"), [("kv-cache", "ycsb-d"), ("kv-cache", None), ("kv-cache", "ycsb-e"),
                                              ("session-cache", None)])
def test_no_call_names_a_record_whose_insert_was_not_acknowledged(name: str, preset: str | None) -> None:
    store = simulate(workload(name, 300, preset), processes=3, users=4, calls=40_000, fail=0.05)
    assert store.named > 10_000
    assert store.misses == 0


def test_read_latest_names_the_newest_acknowledged_insert() -> None:
    spec = workload("kv-cache", 100, "ycsb-d")
    spaces = key_spaces(spec, 0, 2, 4)
    mix = OperationMix(spec, 0, 4, seed=1, spaces=spaces)
    insert = next(d for d in mix.drivers if d.kind is OperationKind.INSERT)
    read = next(d for d in mix.drivers if d.kind is OperationKind.READ)
    built = [insert.arguments() for _ in range(3)]  # three inserts built, none acknowledged yet
    newest = {read.arguments() for _ in range(2000)}
    assert not newest & {r["ycsb_key"] for r in built}
    fresh = insert.arguments()
    insert.acknowledge()
    reads = [read.arguments() for _ in range(2000)]
    assert reads.count(fresh["ycsb_key"]) == max(reads.count(k) for k in set(reads))  # the most read record


def test_inserts_of_processes_users_and_later_runs_never_collide() -> None:
    spec = workload("kv-cache", 100)
    keys: list[int] = []
    for first, users in ((0, 3), (3, 1), (4, 4)):  # three processes of a run of 8 users
        space = key_spaces(spec, first, users, 8)["usertable"]
        keys += [space.next_insert() for _ in range(1000)]
    later = key_spaces(spec, 0, 8, 8, insert_offset=1 << 40)["usertable"]
    keys += [later.next_insert() for _ in range(1000)]
    assert len(set(keys)) == len(keys)
    assert min(keys) >= 100


def test_a_delete_takes_its_record_out_of_what_any_call_names() -> None:
    space = KeySpace(loaded=10, insert_base=10)
    for index in (10, 11, 12, 13):
        space.acknowledge(index)
    assert space.size() == 14
    assert space.take(1) == 11
    assert space.size() == 13
    assert sorted(space.record_index(p) for p in range(10, 13)) == [10, 12, 13]
    assert space.record_index(12) == 12  # the newest moved into the hole (O(1))


def test_deletes_are_not_drawn_until_there_is_something_of_the_process_to_delete() -> None:
    spec = workload("session-cache", 100)
    mix = OperationMix(spec, 0, 1, seed=1)
    logout = next(i for i, d in enumerate(mix.drivers) if d.kind is OperationKind.DELETE)
    assert logout not in {mix.next_index() for _ in range(5000)}
    create = next(d for d in mix.drivers if d.kind is OperationKind.INSERT)
    create.arguments()
    create.acknowledge()
    assert logout in {mix.next_index() for _ in range(5000)}


def test_a_mix_that_deletes_without_inserting_is_refused_in_one_line() -> None:
    spec = workload("session-cache", 100)
    assert not check_deletes(spec, {"mix": None})
    load = LoadProfile.model_validate({"users": 2, "scenarios": [{"name": "leavers", "operations": ["get", "logout"],
                                                                  "users": 1}]})
    with pytest.raises(SpecError, match=r"leavers.*delete 'logout' needs an insert into 'sessions'"):
        check_shape(spec, load)


@pytest.mark.postgres
def test_ycsb_d_two_processes_read_latest_finds_its_row(postgres_url: str) -> None:
    """8 users x 2 processes: every read-latest is an index scan; pg counts the rows it fetched."""
    spec = workload("kv-cache", 2000, "ycsb-d")
    load = LoadProfile.model_validate({"users": 8, "processes": 2, "duration": 3, "warmup": 1})
    record = run_and_record(RunRequest(engine="postgres", url=postgres_url, workload=spec, load=load), Progress())
    assert record.complete, record.invalid_reasons
    with psycopg.connect(postgres_url, autocommit=True) as check:
        row = check.execute("SELECT idx_scan, idx_tup_fetch, n_tup_ins FROM pg_stat_user_tables "
                            "WHERE relname = 'usertable'").fetchone()
    assert row is not None
    scans, fetched, inserted = row
    reads = record.operations["read-latest"]
    assert scans >= reads.count > 1000
    assert inserted > spec.dataset.entities[0].count + 50  # the run did insert, so latest moved
    assert (scans - fetched) / scans <= 0.001, (scans, fetched)
    assert reads.not_found <= 0.001 * reads.count  # the executors' row counts agree
    assert record.valid, record.invalid_reasons


@pytest.mark.redis
def test_default_kv_mix_never_misses_on_redis(redis_url: str) -> None:
    """Reads (HGETALL) and updates (EXISTS in the script) of a missing key count as keyspace misses."""
    client = redis.Redis.from_url(redis_url)
    spec = workload("kv-cache", 1000)
    load = LoadProfile.model_validate({"users": 8, "processes": 2, "duration": 3, "warmup": 1})
    before = cast(dict[str, int], client.info("stats"))
    record = run_and_record(RunRequest(engine="redis", url=redis_url, workload=spec, load=load), Progress())
    after = cast(dict[str, int], client.info("stats"))
    assert record.complete, record.invalid_reasons
    assert record.operations["insert"].count > 50
    assert after["keyspace_hits"] - before["keyspace_hits"] >= record.operations["read"].count > 1000
    assert after["keyspace_misses"] - before["keyspace_misses"] == 0
    assert record.operations["read"].not_found == record.operations["update"].not_found == 0


