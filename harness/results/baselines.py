"""Baselines: one promoted run per engine and workload, committed under results/baselines/."""

from __future__ import annotations

from pathlib import Path

from harness.errors import UserError
from harness.results import store
from harness.results.record import RunRecord


def baseline_path(engine: str, workload: str, preset: str | None = None) -> Path:
    name = f"{workload}-{preset}" if preset else workload
    return store.results_dir() / "baselines" / engine / f"{name}.json"


def promote(record: RunRecord) -> Path:
    if not record.complete:
        raise UserError(f"run {record.run_id} is incomplete; only a complete run can become a baseline")
    if not record.valid:
        raise UserError(f"run {record.run_id} is invalid ({'; '.join(record.invalid_reasons)}); not a baseline")
    path = baseline_path(record.engine, record.workload, record.preset)
    store.write_atomic(path, record.model_dump_json(indent=1))
    return path


def baseline_for(record: RunRecord) -> RunRecord | None:
    path = baseline_path(record.engine, record.workload, record.preset)
    return store.load(path) if path.exists() else None
