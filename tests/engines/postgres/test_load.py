"""The bulk load through the harness's workers against a real PostgreSQL: the server's own count of what went in."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from harness.dataset.generate import dataset_factories
from harness.engines.postgres.adapter import PostgresAdapter
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[3]


def test_two_workers_load_every_record_once_in_copy_batches(postgres_url: str) -> None:
    count = 2 * PostgresAdapter.load_batch + 3  # each worker's range: a full COPY batch and a short one
    spec = load_workload(ROOT / "benchmarks" / "bulkload" / "accounts.yaml")  # read-only: the count stays the load's
    spec = spec.scaled(count / spec.dataset.entities[0].count)
    load = LoadProfile.model_validate({"users": 2, "processes": 2, "duration": 1, "warmup": 0})
    record = run_and_record(RunRequest(engine="postgres", url=postgres_url, workload=spec, load=load), Progress())
    assert record.load_phase is not None and record.load_phase.records == count
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute('SELECT count(*), count(DISTINCT aid), min(aid), max(aid) FROM "accounts"').fetchone()
        live = conn.execute("SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'accounts'").fetchone()
    assert row == (count, count, 1, count)
    factory = dataset_factories(spec)["accounts"]
    names = tuple(spec.dataset.entities[0].fields)
    with psycopg.connect(postgres_url) as conn:
        for index in (0, PostgresAdapter.load_batch, count - 1):  # COPY of the generated columns, value for value
            stored = conn.execute(f'SELECT {", ".join(names)} FROM "accounts" WHERE aid = %s',
                                  (factory.record(index)["aid"],)).fetchone()
            assert stored == tuple(factory.record(index)[name] for name in names)
    assert live == (count,)  # the server's own statistics (VACUUM ANALYZE after the load)
