"""Stored runs as a pandas DataFrame: one row per run and operation, oldest first."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.errors import UserError
from harness.redact import redact_text
from harness.results import store
from harness.results.record import RunRecord

COLUMNS = ["started_at", "run_id", "engine", "engine_version", "workload", "preset", "scale", "users",
           "target_rate", "operation", "count", "errors", "throughput_ops_s", "p50_us", "p99_us", "p999_us",
           "max_us", "valid", "complete", "workload_hash", "git_sha", "series"]


def series(record: RunRecord) -> str:
    """What a run can be compared with, in words: engine, workload (preset, definition hash), scale and load shape.

    Runs of one series may be joined in a history chart; runs of different series may not (a changed
    workload definition, scale, user count, process count or load shape measures something else).
    """
    load = record.load
    preset = f":{record.preset}" if record.preset else ""
    return (f"{record.engine} {record.workload}{preset} (definition {record.workload_hash}), scale {record.scale:g}, "
            f"{load.users} users × {load.processes} process(es), {record.describe_load()}")


def rows(record: RunRecord) -> list[dict[str, object]]:
    out = []
    for name, op in record.operations.items():
        lat = op.latency_us
        out.append({
            "started_at": pd.Timestamp(record.started_at), "run_id": record.run_id, "engine": record.engine,
            "engine_version": record.engine_version, "workload": record.workload, "preset": record.preset,
            "scale": record.scale, "users": record.load.users, "target_rate": record.load.target_rate,
            "operation": name, "count": op.count, "errors": op.errors, "throughput_ops_s": op.throughput_ops_s,
            "p50_us": lat.p50 if lat else None, "p99_us": lat.p99 if lat else None,
            "p999_us": lat.p999 if lat else None, "max_us": lat.max if lat else None,
            "valid": record.valid, "complete": record.complete, "workload_hash": record.workload_hash,
            "git_sha": record.manifest.get("git_sha"), "series": series(record),
        })
    return out


def history(engine: str | None = None, workload: str | None = None, directory: Path | None = None,
            on_skip: store.OnSkip = store.ignore) -> pd.DataFrame:
    """Stored runs of `engine` and `workload` (default: all); unreadable files are skipped and passed to `on_skip`."""
    records = [r for _, r in store.all_runs(directory, on_skip)
               if (engine is None or r.engine == engine) and (workload is None or r.workload == workload)]
    frame = pd.DataFrame([row for r in records for row in rows(r)], columns=COLUMNS)
    return frame.sort_values(["started_at", "operation"]).reset_index(drop=True)


def _redacted(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with secrets masked in its text cells (rows come from redacted records: a second guard)."""
    return frame.apply(lambda column: column.map(lambda v: redact_text(v) if isinstance(v, str) else v)
                       if column.dtype == object else column)


def export(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` to a .csv or .parquet file, secrets masked."""
    frame = _redacted(frame)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        try:
            frame.to_parquet(path, index=False)
        except ImportError as exc:
            raise UserError("parquet export needs pyarrow: pip install pyarrow") from exc
    else:
        raise UserError(f"{path}: export to .csv or .parquet")
