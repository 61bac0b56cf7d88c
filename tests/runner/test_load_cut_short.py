"""A bulk load cut short (a worker's engine failing, a stop signal) keeps in the record what was loaded.

The runner end to end on the fake engine: `load_fail_after=N` makes each worker process's bulk load fail once
it has loaded N records (its batches are 1,000 records), `load_ms` makes each batch slow.
"""

from __future__ import annotations

from pathlib import Path

from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

ROOT = Path(__file__).resolve().parents[2]


def test_a_load_failure_records_what_each_worker_loaded_before_it() -> None:
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(2.0)  # 20,000 records
    load = LoadProfile.model_validate({"users": 1, "processes": 1, "duration": 1, "warmup": 0})
    record = run_and_record(RunRequest(engine="fake", url="fake://cutshort?load_ms=20&load_fail_after=3000",
                                       workload=workload, load=load), Progress(min_interval_s=0))
    # 3 batches of 1,000 loaded, then the 4th call fails
    assert record.load_phase is not None and record.load_phase.records == 3_000
    assert not record.load_phase.complete and record.phase == "load" and not record.complete
    assert record.failure is not None and "fake engine failed after loading 3,000 records" in record.failure
    # the engine refused a batch: its cause is the engine's, not the harness's workers
    assert record.invalid_causes[0] == "engine", (record.invalid_causes, record.invalid_reasons)
    assert "failed during load" in record.invalid_reasons[0]
    assert record.stopped_by == "failure"  # not "duration": the window never ran
    assert not record.interrupted
    assert not any("interrupted" in reason for reason in record.invalid_reasons), record.invalid_reasons
    assert not any("no worker process returned results" in reason for reason in record.invalid_reasons)


def test_a_load_failure_stops_the_other_workers_and_counts_their_batches() -> None:
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(2.0)  # 10,000 records a worker
    load = LoadProfile.model_validate({"users": 2, "processes": 2, "duration": 1, "warmup": 0})
    record = run_and_record(RunRequest(engine="fake", url="fake://cutshort2?load_ms=50&load_fail_after=3000",
                                       workload=workload, load=load), Progress(min_interval_s=0))
    # the first worker to fail has 3,000; the other stops (or fails) after a whole batch: at most 3,000 too
    assert record.load_phase is not None and not record.load_phase.complete
    assert 3_000 <= record.load_phase.records <= 6_000 and record.load_phase.records % 1_000 == 0


def test_a_whole_load_is_complete() -> None:
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(0.2)
    load = LoadProfile.model_validate({"users": 1, "processes": 1, "duration": 1, "warmup": 0})
    record = run_and_record(RunRequest(engine="fake", url="fake://whole", workload=workload, load=load),
                            Progress(min_interval_s=0))
    assert record.load_phase is not None and record.load_phase.records == 2_000 and record.load_phase.complete
