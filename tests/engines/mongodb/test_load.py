"""The bulk load through the harness's workers against a real server (FerretDB): the server's own count."""

from __future__ import annotations

from pathlib import Path

import pymongo
import pytest

from harness.engines.mongodb.adapter import MongoAdapter
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

pytestmark = pytest.mark.mongodb
ROOT = Path(__file__).resolve().parents[3]


def test_two_workers_load_every_record_once_in_insert_many_batches(mongodb_url: str) -> None:
    count = 2 * MongoAdapter.load_batch + 3  # each worker's range: a full insert_many batch and a short one
    spec = load_workload(ROOT / "benchmarks" / "bulkload" / "accounts.yaml")  # read-only: the count stays the load's
    spec = spec.scaled(count / spec.dataset.entities[0].count)
    load = LoadProfile.model_validate({"users": 2, "processes": 2, "duration": 1, "warmup": 0})
    record = run_and_record(RunRequest(engine="mongodb", url=mongodb_url, workload=spec, load=load), Progress())
    assert record.load_phase is not None and record.load_phase.records == count
    adapter = MongoAdapter("mongodb", mongodb_url)
    adapter.connect()
    try:
        collection = adapter.db["accounts"]
        assert collection.count_documents({}) == count
        assert collection.find_one(sort=[("_id", pymongo.ASCENDING)])["_id"] == 1  # type: ignore[index]
        assert collection.find_one(sort=[("_id", pymongo.DESCENDING)])["_id"] == count  # type: ignore[index]
    finally:
        adapter.close()
