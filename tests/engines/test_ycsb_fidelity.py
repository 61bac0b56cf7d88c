"""YCSB fidelity on real engines: the work the server does is the work YCSB's workloads define.

- ycsb-e: a scan's length is drawn uniformly in 1..100 per call (YCSB scanlengthdistribution=uniform,
  maxscanlength=100), so a scan returns 50.5 rows on average (± 5%). PostgreSQL's own counter
  (pg_stat_user_tables.idx_tup_fetch: heap rows fetched through an index) gives the rows the scans
  fetched. Redis refuses scans (no key order, see harness/engines/redis/statements.py), so the
  second engine checked is Neo4j: its own summary counts the rows each call's result carried.
- an update writes one field drawn per call (YCSB writeallfields=false): pg_stat_statements sees
  ten single-field UPDATE statements, each called about a tenth of the time.
- field lengths drawn uniformly in [min, max]: the server's avg(length(field)) is (min + max) / 2.
"""

from __future__ import annotations

import re
import time
from typing import Any

import psycopg
import pytest
from scipy.stats import chisquare

from harness.dataset.generate import dataset_factories
from harness.engines.calls import Scan
from harness.engines.registry import create_adapter
from harness.engines.updates import bind_writes
from harness.runner.driver import OperationMix
from harness.spec.models import StringField, Workload
from tests.engines.helpers import load_all, workload

SCANS = 1500
RECORDS = 10_000


def _stat(conn: psycopg.Connection[Any], column: str) -> int:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(f"SELECT coalesce({column}, 0) FROM pg_stat_user_tables WHERE relname = 'usertable'").fetchone()
    return int(row[0]) if row else 0


def _scans(spec: Workload, count: int) -> list[Scan]:
    mix = OperationMix(spec, user_slot=0, total_users=1, seed=11)
    driver = next(d for d in mix.drivers if d.op.name == "scan")
    return [driver.arguments() for _ in range(count)]


def _expected_rows(spec: Workload, scans: list[Scan]) -> int:
    """Rows a correct engine returns: min(length, records with a key >= the start key), from the keys alone."""
    factory = dataset_factories(spec)["usertable"]
    keys = sorted(factory.key_of(i) for i in range(spec.entity("usertable").count))
    import bisect

    return sum(min(scan.length, len(keys) - bisect.bisect_left(keys, scan.key)) for scan in scans)


@pytest.mark.postgres
def test_ycsb_e_scans_fetch_50_5_rows_on_average_on_postgres(postgres_url: str) -> None:
    spec = workload("kv-cache", RECORDS).with_preset("ycsb-e")
    adapter = create_adapter("postgres", postgres_url)
    adapter.connect()
    try:
        load_all(adapter, spec)
        scan = bind_writes(adapter, next(op for op in spec.operations if op.name == "scan"), spec)
        calls = _scans(spec, SCANS)
        with psycopg.connect(postgres_url, autocommit=True) as check:
            before = _stat(check, "idx_tup_fetch")
            returned = sum(scan(call) for call in calls)
            adapter.close()  # the backend flushes its statistics when it ends
            deadline = time.monotonic() + 10
            while (fetched := _stat(check, "idx_tup_fetch") - before) < returned and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        adapter.close()
    assert returned == _expected_rows(spec, calls)
    # the server fetched the rows the executors counted (plus a few the planner reads at index ends
    # while planning the first, custom-planned executions, and late statistics of the load)
    assert returned <= fetched <= returned * 1.005
    assert fetched / SCANS == pytest.approx(50.5, rel=0.05)
    lengths = [call.length for call in calls]
    assert min(lengths) == 1 and max(lengths) == 100


@pytest.mark.neo4j
def test_ycsb_e_scans_return_50_5_rows_on_average_on_neo4j(neo4j_url: str) -> None:
    spec = workload("kv-cache", 3000).with_preset("ycsb-e")
    adapter = create_adapter("neo4j", neo4j_url)
    adapter.connect()
    try:
        load_all(adapter, spec)
        scan = bind_writes(adapter, next(op for op in spec.operations if op.name == "scan"), spec)
        calls = _scans(spec, 400)
        returned = sum(scan(call) for call in calls)
    finally:
        adapter.close()
    assert returned == _expected_rows(spec, calls)
    assert returned / len(calls) == pytest.approx(50.5, rel=0.08)  # 400 draws: the sampling error is ~3%


@pytest.mark.postgres
def test_an_update_writes_one_field_drawn_per_call_on_postgres(postgres_url: str) -> None:
    spec = workload("kv-cache", 500).with_preset("ycsb-a")
    update_op = next(op for op in spec.operations if op.name == "update")
    adapter = create_adapter("postgres", postgres_url)
    adapter.connect()
    try:
        load_all(adapter, spec)
        with psycopg.connect(postgres_url, autocommit=True) as check:
            check.execute("SELECT pg_stat_statements_reset()")
            update = bind_writes(adapter, update_op, spec)
            mix = OperationMix(spec, user_slot=0, total_users=1, seed=5)
            driver = next(d for d in mix.drivers if d.op.name == "update")
            assert sum(update(driver.arguments()) for _ in range(1000)) == 1000
            rows = check.execute("SELECT query, calls FROM pg_stat_statements WHERE query LIKE 'UPDATE \"usertable\"%'"
                                 ).fetchall()
    finally:
        adapter.close()
    per_field: dict[str, int] = {}
    for query, count in rows:
        assigned = re.findall(r'"(field\d)" = \$', query)
        assert len(assigned) == 1, query  # one field per statement
        per_field[assigned[0]] = per_field.get(assigned[0], 0) + int(count)
    assert sorted(per_field) == [f"field{i}" for i in range(10)] and sum(per_field.values()) == 1000
    assert chisquare(list(per_field.values())).pvalue > 0.001  # uniform over the ten fields


@pytest.mark.postgres
def test_field_lengths_drawn_uniformly_average_their_midpoint_on_postgres(postgres_url: str) -> None:
    spec = workload("kv-cache", 4000)
    entity = spec.entity("usertable")
    varied = StringField(type="string", length=100, min_length=20, length_distribution="uniform")
    fields = {**entity.fields, "field0": varied}
    spec = spec.model_copy(update={"dataset": spec.dataset.model_copy(update={
        "entities": (entity.model_copy(update={"fields": fields}),)})})
    adapter = create_adapter("postgres", postgres_url)
    adapter.connect()
    try:
        load_all(adapter, spec)
        with psycopg.connect(postgres_url, autocommit=True) as check:
            row = check.execute(
                "SELECT min(length(field0)), max(length(field0)), avg(length(field0))::float FROM usertable").fetchone()
            assert row is not None
            low, high, mean = row
            constant = check.execute("SELECT min(length(field1)), max(length(field1)) FROM usertable").fetchone()
    finally:
        adapter.close()
    assert (low, high) == (20, 100)
    assert mean == pytest.approx(60.0, rel=0.02)
    assert constant == (100, 100)  # fields without a distribution keep their constant length


@pytest.mark.postgres
def test_insertstart_and_insertcount_load_and_name_only_their_records_on_postgres(postgres_url: str) -> None:
    """YCSB's insertstart/insertcount: records [1000, 2500) of 4,000, loaded by two worker processes,
    and the reads name only those (none misses)."""
    from harness.results.build import run_and_record
    from harness.runner.progress import Progress
    from harness.runner.run import RunRequest
    from harness.spec.suite import LoadProfile

    spec = workload("kv-cache", 4000).with_preset("ycsb-c")
    load = LoadProfile.model_validate({"users": 4, "processes": 2, "duration": 2, "warmup": 0,
                                       "insertstart": 1000, "insertcount": 1500})
    record = run_and_record(RunRequest(engine="postgres", url=postgres_url, workload=spec, load=load), Progress())
    factory = dataset_factories(spec)["usertable"]
    with psycopg.connect(postgres_url, autocommit=True) as check:
        keys = {row[0] for row in check.execute("SELECT ycsb_key FROM usertable").fetchall()}
    assert keys == {factory.key_of(i) for i in range(1000, 2500)}
    read = record.operations["read"]
    assert read.count > 100 and read.errors == 0
    assert getattr(read, "not_found", 0) == 0  # every read named a loaded record
