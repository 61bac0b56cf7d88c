"""Which workload runs on which engine, computed from the adapters themselves (not a table kept by hand).

Only the computation lives here; `dbarena engines matrix` (harness/cli/engines.py) prints it.
"""

from __future__ import annotations

from pathlib import Path

from harness.engines.registry import MATRIX_ENGINES, create_adapter, engine_info
from harness.errors import UserError
from harness.paths import workloads_dir
from harness.spec.loader import load_workload
from harness.spec.models import Workload

__all__ = ["MATRIX_ENGINES", "matrix_rows", "support"]


def support(workload: Workload, engine: str) -> tuple[bool, list[str]]:
    """(fully supported, reasons for each operation it cannot run)."""
    try:
        adapter = create_adapter(engine, engine_info(engine).default_url)  # never connected
    except UserError as exc:
        return False, [str(exc)]
    reasons = [f"{op.name}: {reason}" for op in workload.operations
               if (reason := adapter.unsupported_reason(op, workload))]
    return not reasons, reasons


def matrix_rows(directory: Path | None = None) -> tuple[list[list[str]], list[str]]:
    """One row per library workload (name, then "yes"/"n/a" per MATRIX_ENGINES column) and why each n/a."""
    rows, notes = [], []
    for path in sorted((directory or workloads_dir()).glob("*.yaml")):
        workload = load_workload(path).active()
        row = [workload.name]
        for engine in MATRIX_ENGINES:
            ok, reasons = support(workload, engine)
            row.append("yes" if ok else "n/a")
            notes += [f"{workload.name} on {engine}: {r}" for r in reasons]
        rows.append(row)
    return rows, notes
