"""pg_stat_statements in the run record: the difference over the run, never a reset of the server's statistics.

A DBA's own statement, run before the benchmark, keeps its counters on the server and never shows
in the record; the run's statements are counted by the difference from the snapshot taken just
before the measurement, on a loaded run and on a run that skipped its load alike.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from harness.dataset.generate import RecordFactory
from harness.engines.postgres.adapter import PostgresAdapter
from harness.engines.postgres.telemetry import Statement, collect, snapshot, top_statements
from harness.engines.registry import create_adapter
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.suite import LoadProfile
from tests.engines.helpers import load_all, workload

READ_USERTABLE = 'SELECT "usertable"."ycsb_key", "usertable"."field0"'  # the read (its text is cut at 200 characters)


@pytest.fixture
def marker(postgres_url: str) -> Iterator[str]:
    """A table of the test's own (a statement on it has a queryid no other statement shares), then its
    SELECT run three times, as a DBA's statement before the benchmark; yields the table's name."""
    name = f"marker_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_url, autocommit=True) as dba:
        dba.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        dba.execute(f"CREATE TABLE {name} (x int)")
        for _ in range(3):
            dba.execute(f"SELECT 42 AS marker_x FROM {name}", prepare=False)
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as dba:
        dba.execute(f"DROP TABLE IF EXISTS {name}")


def server_calls(url: str, fragment: str) -> int:
    """The server's own cumulative calls of the statements whose text holds `fragment`."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE %s",
                           (f"%{fragment}%",)).fetchone()
    return int(row[0]) if row else 0


def open_adapter(url: str) -> PostgresAdapter:
    adapter = create_adapter("postgres", url)
    assert isinstance(adapter, PostgresAdapter)
    adapter.connect()
    return adapter


@pytest.mark.postgres
def test_the_run_counts_its_statements_by_difference_and_resets_nothing(postgres_url: str, marker: str) -> None:
    spec = workload("kv-cache", 200)
    read = next(op for op in spec.operations if op.name == "read")
    adapter = open_adapter(postgres_url)
    try:
        load_all(adapter, spec)  # prepare, load, finish_load
        adapter.before_measure(spec)  # the runner's call right after finish_load: the snapshot
        before = adapter._statements_before
        execute, factory = adapter.bind(read, spec), RecordFactory(spec.dataset.entities[0], spec.dataset.seed)
        for i in range(25):
            assert execute(factory.value("ycsb_key", i)) == 1
        adapter.connect()  # the runner reads telemetry on a fresh connection
        telemetry: dict[str, Any] = adapter.telemetry(spec)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            assert before is not None
            everything = top_statements(before, snapshot(conn) or {}, limit=1_000_000)
    finally:
        adapter.close()
    assert server_calls(postgres_url, f"FROM {marker}") == 3  # (1) the server's statistics were not reset
    reads = [s for s in telemetry["top_statements"] if READ_USERTABLE in (s["query"] or "")]
    assert [s["calls"] for s in reads] == [25], telemetry["top_statements"]  # (2) the run's calls, by difference
    assert reads[0]["mean_ms"] == pytest.approx(reads[0]["total_ms"] / 25, abs=1e-4)
    assert reads[0]["rows"] == 25
    assert not any(marker in (s["query"] or "") for s in everything)  # (3) 0 calls of the DBA's statement
    assert not any("pg_stat_statements snapshot" in (s["query"] or "") for s in everything)
    assert telemetry["top_statements_since"].startswith("difference over the run")
    assert "top_statements_error" not in telemetry and "notes" not in telemetry


@pytest.mark.postgres
@pytest.mark.slow
def test_a_run_that_skips_its_load_still_reports_the_difference(postgres_url: str, marker: str) -> None:
    spec = workload("kv-cache", 300)
    adapter = open_adapter(postgres_url)
    try:
        load_all(adapter, spec)
    finally:
        adapter.close()
    load = LoadProfile(users=2, processes=1, duration=1, warmup=0)
    record = run_and_record(RunRequest(engine="postgres", url=postgres_url, workload=spec, load=load,
                                       skip_load=True), Progress())
    assert record.complete and record.valid, record.invalid_reasons
    assert record.load_phase is None  # finish_load was not called
    telemetry = record.telemetry
    assert telemetry["top_statements_since"].startswith("difference over the run")
    reads = [s for s in telemetry["top_statements"] if READ_USERTABLE in (s["query"] or "")]
    assert reads and reads[0]["calls"] <= record.operations["read"].count + 50  # this run's, not cumulative
    assert not any(marker in (s["query"] or "") for s in telemetry["top_statements"])
    assert server_calls(postgres_url, f"FROM {marker}") == 3


@pytest.fixture
def bare_database(postgres_url: str) -> Iterator[str]:
    """A URL of a fresh database without the pg_stat_statements extension."""
    name = f"bare_{secrets.token_hex(3)}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.mark.postgres
def test_without_the_view_there_is_no_snapshot_and_telemetry_says_why(bare_database: str) -> None:
    with psycopg.connect(bare_database, autocommit=True) as conn:
        assert snapshot(conn) is None
        telemetry = collect(conn, [], since=None)
    assert "top_statements" not in telemetry and "top_statements_since" not in telemetry
    assert "pg_stat_statements" in telemetry["top_statements_error"]
    assert "buffer_cache_hit_ratio" in telemetry


def entry(query: str, calls: int, total_ms: float, rows: int = 0) -> Statement:
    return Statement(query, calls, total_ms, rows, shared_blks_hit=calls, shared_blks_read=0)


def test_top_statements_is_after_minus_before() -> None:
    a, b, c, d = ((10, 5, q, True) for q in (1, 2, 3, 4))
    before = {a: entry("a", 100, 50.0, 100), b: entry("b", 7, 7.0), d: entry("d", 500, 1.0)}
    after = {a: entry("a", 104, 54.0, 108), b: entry("b", 7, 7.0), c: entry("c", 2, 1.0), d: entry("d", 3, 0.3)}
    rows = top_statements(before, after)
    assert [(r["query"], r["calls"]) for r in rows] == [("a", 4), ("d", 3), ("c", 2)]  # b: no call in between
    assert rows[0] == {"query": "a", "calls": 4, "total_ms": 4.0, "mean_ms": 1.0, "rows": 8,
                       "shared_blks_hit": 4, "shared_blks_read": 0}
    assert rows[1]["total_ms"] == 0.3  # d went down (reset or evicted in between): counted from 0
    assert len(top_statements({}, {(1, 1, q, True): entry(str(q), q, 1.0) for q in range(1, 30)})) == 10
