"""One run per dataset at a time: the engine-side lock, against the six real engines.

A second holder is refused with one line naming the engine, the dataset and the first holder;
a released lock can be taken again; a holder killed with SIGKILL (no release) leaves a lock
that is replaced at once when the holder ran on this host (its pid is gone), after its ttl
otherwise. And end to end on Redis (the issue's case): a second run of the same workload
refuses before its prepare, so the first run's keys survive.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from harness.engines.base import EngineAdapter
from harness.engines.locks import DatasetInUse, LockHolder
from harness.engines.registry import create_adapter
from harness.runner.run import Measurement, RunRequest, run_benchmark
from harness.spec.suite import LoadProfile
from tests.engines.helpers import ROOT, workload

ENGINES = ("postgres", "redis", "mongodb", "opensearch", "influxdb", "neo4j")
TTL_S = 2.0
EXPIRY_SLACK_S = 5.0


def params() -> list[Any]:
    return [pytest.param(name, marks=getattr(pytest.mark, name)) for name in ENGINES]


def connected(engine: str, url: str) -> EngineAdapter[Any]:
    adapter = create_adapter(engine, url)
    adapter.connect()
    return adapter


def adapter_for(engine: str, request: pytest.FixtureRequest) -> EngineAdapter[Any]:
    return connected(engine, request.getfixturevalue(f"{engine}_url"))


@pytest.mark.parametrize("engine", params())
def test_a_second_holder_is_refused_with_the_first_named_until_it_releases(engine: str,
                                                                          request: pytest.FixtureRequest) -> None:
    spec = workload("kv-cache", 10)
    first, second = adapter_for(engine, request), adapter_for(engine, request)
    holder = LockHolder.here(f"first-{engine}", spec.name)
    try:
        first.lock_dataset(spec, holder)
        with pytest.raises(DatasetInUse) as refused:
            second.lock_dataset(spec, LockHolder.here(f"second-{engine}", spec.name))
        line = str(refused.value)
        assert "\n" not in line
        assert f"dataset kv-cache on {engine} (entity usertable) is in use by run first-{engine}" in line
        assert f"host {holder.host}, pid {holder.pid}" in line and f"since {holder.started_at}" in line
        assert first.unlock_dataset() is None  # held throughout: a refused second holder took nothing
        second.lock_dataset(spec, LockHolder.here(f"second-{engine}", spec.name))  # released: free again
        assert second.unlock_dataset() is None
    finally:
        first.unlock_dataset()
        second.unlock_dataset()
        first.close()
        second.close()


@pytest.mark.parametrize("engine", params())
def test_a_lock_another_run_took_is_reported_at_the_end_and_left_to_it(engine: str,
                                                                      request: pytest.FixtureRequest) -> None:
    """Ours ends without our release (as after an outage longer than its ttl) and a second run takes it: the first
    run's end says so, naming that run, and leaves the second's lock on the engine (a third is refused by it); the
    second run's end says the first still ran beside it."""
    spec = workload("kv-cache", 10)
    first, second, third = (adapter_for(engine, request) for _ in range(3))
    first_holder = LockHolder.here(f"first-{engine}", spec.name)
    try:
        first.lock_dataset(spec, first_holder, ttl_s=60)  # no renewal in this test: only the last check at the end
        assert first._dataset_lock is not None
        first._dataset_lock._release("usertable")  # our lock gone on the engine, as if it had expired
        second.lock_dataset(spec, LockHolder.here(f"second-{engine}", spec.name))
        line = first.unlock_dataset()
        assert line is not None and "\n" not in line
        assert f"the dataset lock on {engine} (entity usertable) was lost during the run and run second-{engine}" in line
        with pytest.raises(DatasetInUse, match=f"is in use by run second-{engine}"):  # the engine's lock is the second's
            third.lock_dataset(spec, LockHolder.here(f"third-{engine}", spec.name))
        # and the second learns that the first still ran beside it (the first left word on the engine)
        overlap = second.unlock_dataset()
        assert overlap is not None and f"run first-{engine} (host" in overlap, overlap
        assert f"still ran on dataset entity usertable on {engine} during this run" in overlap
    finally:
        for adapter in (first, second, third):
            adapter.unlock_dataset()
            adapter.close()


CRASHING_HOLDER = """
import sys, time
from harness.engines.locks import LockHolder
from harness.engines.registry import create_adapter
from tests.engines.helpers import workload
spec = workload("kv-cache", 10)
adapter = create_adapter(sys.argv[1], sys.argv[2])
adapter.connect()
holder = LockHolder.here("crashed", spec.name)
if sys.argv[4] == "elsewhere":  # as if it ran on another host: only its expiry can end its lock
    holder = holder.model_copy(update={"host": "elsewhere.example"})
adapter.lock_dataset(spec, holder, ttl_s=float(sys.argv[3]))
print("locked", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("where", ["here", "elsewhere"])
@pytest.mark.parametrize("engine", params())
def test_the_lock_of_a_killed_holder_is_replaced(engine: str, where: str, request: pytest.FixtureRequest) -> None:
    """On this host a dead holder's lock is replaced at once (its pid is gone); from another host, after its ttl."""
    spec = workload("kv-cache", 10)
    url = request.getfixturevalue(f"{engine}_url")
    holder = subprocess.Popen([sys.executable, "-c", CRASHING_HOLDER, engine, url, str(TTL_S), where], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    adapter = adapter_for(engine, request)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        holder.kill()  # SIGKILL: no release
        holder.wait()
        killed = time.monotonic()
        if where == "elsewhere":  # its lock lasts until it expires (PostgreSQL: the row's expiry, not the session)
            with pytest.raises(DatasetInUse, match=r"in use by run crashed \(host elsewhere\.example"):
                adapter.lock_dataset(spec, LockHolder.here(f"next-{engine}", spec.name))
        limit_s = TTL_S + EXPIRY_SLACK_S if where == "elsewhere" else 2.0
        while True:
            try:
                adapter.lock_dataset(spec, LockHolder.here(f"next-{engine}", spec.name))
                break
            except DatasetInUse:
                assert time.monotonic() - killed < limit_s, "the dead holder's lock was never replaced"
                time.sleep(0.2)
    finally:
        if holder.poll() is None:
            holder.kill()
        adapter.unlock_dataset()
        adapter.close()


@pytest.mark.redis
def test_a_second_run_of_the_same_workload_refuses_and_leaves_the_first_runs_keys(redis_url: str) -> None:
    spec = workload("kv-cache", 2000).with_preset("ycsb-c")
    load = LoadProfile(users=2, duration_s=6, warmup_s=0, processes=1)
    first: list[Measurement] = []
    thread = threading.Thread(target=lambda: first.append(run_benchmark(RunRequest("redis", redis_url, spec, load))))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        checker = connected("redis", redis_url)
        while not checker.client.exists("dbarena:_lock:usertable"):
            assert time.monotonic() < deadline, "the first run never took its lock"
            time.sleep(0.1)
        checker.close()
        began = time.monotonic()
        with pytest.raises(DatasetInUse, match=r"dataset kv-cache on redis \(entity usertable\) is in use by run "):
            run_benchmark(RunRequest("redis", redis_url, spec, load))
        assert time.monotonic() - began < 10  # refused up front, not after a load
    finally:
        thread.join(timeout=120)
    (measured,) = first
    read = measured.operations["read"]
    assert read.count > 0 and read.errors == 0
    assert getattr(read, "not_found", 0) == 0  # no key of the first run was wiped under it
    checker = connected("redis", redis_url)
    try:
        assert not checker.client.exists("dbarena:_lock:usertable")  # released at the end of the run
    finally:
        checker.close()



def advisory_holders(watcher: EngineAdapter[Any]) -> set[int]:
    """The backend pids holding an advisory lock in this database, as the server's pg_locks says."""
    return {row[0] for row in watcher.client.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())").fetchall()}


def terminate_the_lock_session(watcher: EngineAdapter[Any]) -> int:
    """pg_terminate_backend of the one session holding an advisory lock; its pid."""
    (pid,) = advisory_holders(watcher)
    assert watcher.client.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    return pid


@contextmanager
def two_runs_and_a_watcher(url: str) -> Iterator[tuple[EngineAdapter[Any], ...]]:
    """Three PostgreSQL adapters (a first and a second run, a watcher of pg_locks); locks released, all closed."""
    adapters = tuple(connected("postgres", url) for _ in range(3))
    try:
        yield adapters
    finally:
        for adapter in adapters:
            adapter.unlock_dataset()
            adapter.close()


def await_holders(watcher: EngineAdapter[Any], done: Callable[[set[int]], bool], never: str) -> None:
    """Poll pg_locks' advisory holders until `done(holders)` (10 s at most: `never` is the failure)."""
    deadline = time.monotonic() + 10
    while not done(advisory_holders(watcher)):
        assert time.monotonic() < deadline, never
        time.sleep(0.05)


@pytest.mark.postgres
def test_a_postgres_lock_whose_session_was_terminated_is_taken_again(postgres_url: str) -> None:
    """The advisory lock ends with its session: after pg_terminate_backend of the lock's session, the renewal
    connects again and takes it again, so a second run is still refused (the server's pg_locks says who holds it)."""
    spec = workload("kv-cache", 10)
    with two_runs_and_a_watcher(postgres_url) as (first, second, watcher):
        first.lock_dataset(spec, LockHolder.here("first-postgres", spec.name), ttl_s=0.6)  # renewed every 0.2 s
        pid = terminate_the_lock_session(watcher)
        await_holders(watcher, lambda held: held not in (set(), {pid}), "the terminated session's lock was never taken again")
        with pytest.raises(DatasetInUse, match="is in use by run first-postgres"):
            second.lock_dataset(spec, LockHolder.here("second-postgres", spec.name))
        assert first.unlock_dataset() is None  # taken again by the first: nothing was lost
        second.lock_dataset(spec, LockHolder.here("second-postgres", spec.name))  # released: free again


@pytest.mark.postgres
def test_a_postgres_lock_whose_session_ended_still_refuses_a_second_run(postgres_url: str) -> None:
    """The holder still runs and renews, only its session was terminated: a second run is refused at once, naming
    it, though the advisory lock is free until the holder's next renewal."""
    spec = workload("kv-cache", 10)
    with two_runs_and_a_watcher(postgres_url) as (first, second, watcher):
        first.lock_dataset(spec, LockHolder.here("first-postgres", spec.name), ttl_s=60)  # next renewal in 20 s
        terminate_the_lock_session(watcher)
        await_holders(watcher, lambda held: not held, "the terminated session still holds the lock")
        with pytest.raises(DatasetInUse, match="is in use by run first-postgres"):
            second.lock_dataset(spec, LockHolder.here("second-postgres", spec.name))
        assert advisory_holders(watcher) == set()  # the refused run did not keep the advisory lock either
        assert first.unlock_dataset() is None  # its last renewal took it again: nothing was lost


@pytest.mark.postgres
def test_a_postgres_lock_a_second_run_took_after_it_expired_is_reported(postgres_url: str) -> None:
    """The lock's session ended and its row expired (an outage longer than the ttl), so a second run took it: the
    first run's end (its renewal on a new session) names the second, whose advisory lock the server still shows."""
    spec = workload("kv-cache", 10)
    with two_runs_and_a_watcher(postgres_url) as (first, second, watcher):
        first.lock_dataset(spec, LockHolder.here("first-postgres", spec.name), ttl_s=60)  # next renewal in 20 s
        pid = terminate_the_lock_session(watcher)
        await_holders(watcher, lambda held: held != {pid}, "the terminated session still holds the lock")
        watcher.client.execute("UPDATE dbarena_locks SET expires = now() - interval '1 second'")  # as after the ttl
        second.lock_dataset(spec, LockHolder.here("second-postgres", spec.name))
        second_pid = advisory_holders(watcher)
        line = first.unlock_dataset()
        assert line is not None and "(entity usertable) was lost during the run and run second-postgres" in line
        assert second_pid <= advisory_holders(watcher)  # still the second's (the first's closing session may linger)
