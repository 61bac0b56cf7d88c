"""Baselines: one promoted run per engine and workload, committed under results/baselines/.

An invalid run is refused (InvalidRunRefused, one line naming its reasons) unless forced; a
forced one keeps `valid: false` and its reasons, plus a note that it was forced, so every gate
against it sees the mark. An incomplete run is never a baseline.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import InvalidRunRefused
from harness.results import store
from harness.results.record import RunRecord


def baseline_path(engine: str, workload: str, preset: str | None = None) -> Path:
    name = f"{workload}-{preset}" if preset else workload
    return store.results_dir() / "baselines" / engine / f"{name}.json"


FORCED_NOTE = "promoted to baseline with --force although INVALID"


def promote(record: RunRecord, force: bool = False) -> Path:
    """Write `record` as its engine/workload's baseline; the path written.

    Raises InvalidRunRefused (exit 5) for an invalid run unless `force` (then it is marked), and for
    an incomplete run always: it measured part of its window at most, `force` or not.
    """
    if not record.complete:
        raise InvalidRunRefused(f"run {record.run_id} is incomplete (it ended before its measurement window did); "
                                "only a complete run can become a baseline, --force included")
    if not record.valid:
        if not force:
            raise InvalidRunRefused(f"run {record.run_id} is INVALID ({'; '.join(record.invalid_reasons)}); "
                                    "not a baseline (--force promotes it anyway, marked invalid)")
        record = record.model_copy(update={"notes": (*record.notes, FORCED_NOTE)})
    path = baseline_path(record.engine, record.workload, record.preset)
    store.write_atomic(path, record.model_dump_json(indent=1))
    return path


def baseline_name(record: RunRecord) -> str:
    """How the baseline `record` is judged against is named to users: engine/workload[-preset]."""
    return f"{record.engine}/{baseline_path(record.engine, record.workload, record.preset).stem}"


def baseline_for(record: RunRecord) -> RunRecord | None:
    path = baseline_path(record.engine, record.workload, record.preset)
    return store.load(path) if path.exists() else None
