"""Which workload runs on which engine, computed from the adapters themselves (not a table kept by hand)."""

from __future__ import annotations

from pathlib import Path

from harness.engines.registry import ENGINES, adapter_class
from harness.errors import UserError
from harness.report.terminal import table
from harness.spec.loader import WORKLOAD_DIR, load_workload
from harness.spec.models import Workload

MATRIX_ENGINES = ("postgres", "redis", "mongodb", "elasticsearch", "influxdb", "neo4j")


def support(workload: Workload, engine: str) -> tuple[bool, list[str]]:
    """(fully supported, reasons for each operation it cannot run)."""
    try:
        adapter = adapter_class(engine)(ENGINES[engine].default_url)
    except UserError as exc:
        return False, [str(exc)]
    adapter.name = engine  # type: ignore[misc]
    reasons = [f"{op.name}: {reason}" for op in workload.operations if (reason := adapter.unsupported_reason(op))]
    return not reasons, reasons


def matrix_rows(directory: Path = WORKLOAD_DIR) -> tuple[list[list[str]], list[str]]:
    rows, notes = [], []
    for path in sorted(directory.glob("*.yaml")):
        workload = load_workload(path).active()
        row = [workload.name]
        for engine in MATRIX_ENGINES:
            ok, reasons = support(workload, engine)
            row.append("yes" if ok else "n/a")
            notes += [f"{workload.name} on {engine}: {r}" for r in reasons]
        rows.append(row)
    return rows, notes


def print_matrix() -> None:
    rows, notes = matrix_rows()
    print(table(rows, ["workload", *MATRIX_ENGINES]))
    if notes:
        print("\nwhy n/a:")
        for note in notes:
            print(f"  {note}")
