"""The end-of-run table on the terminal (our own HDR numbers, never Locust's)."""

from __future__ import annotations

from harness.results.record import RunRecord
from harness.runner.progress import fmt_us


def _numeric(cell: str) -> bool:
    return bool(cell) and (cell[0].isdigit() or cell[0] in "+-") and cell != "-"


def table(rows: list[list[str]], header: list[str]) -> str:
    """Columns whose cells are all numbers are right-aligned, the others left-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    right = [bool(rows) and all(_numeric(str(r[i])) or str(r[i]) in ("-", "n/a") for r in rows) and
             any(_numeric(str(r[i])) for r in rows) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).rjust(w) if r else str(c).ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(row) for row in rows)])


def run_summary(record: RunRecord) -> str:
    open_loop = record.load.target_rate is not None
    header = ["operation", "count", "errors", "ops/s", "p50", "p90", "p99", "p99.9", "max"]
    if open_loop:
        header.append("svc p99")
    rows = []
    for name, op in record.operations.items():
        lat = op.latency_us
        row = [name, f"{op.count:,}", f"{op.errors:,}", f"{op.throughput_ops_s:,.0f}"]
        row += [fmt_us(getattr(lat, p)) if lat else "-" for p in ("p50", "p90", "p99", "p999", "max")]
        if open_loop:
            row.append(fmt_us(op.service_us.p99) if op.service_us else "-")
        rows.append(row)
    mode = f"open loop at {record.load.target_rate:,.0f} ops/s ({record.load.schedule})" if open_loop else "closed loop"
    title = (f"{record.engine} {record.engine_version} · {record.workload}"
             f"{':' + record.preset if record.preset else ''} · {record.load.users} users × "
             f"{record.load.processes} proc · {mode} · {record.measured_s:.0f}s measured")
    lines = [title, table(rows, header), f"total {record.total_throughput_ops_s:,.0f} ops/s"
             + ("" if record.complete else "  (INCOMPLETE run)")]
    if open_loop:
        lines.append("latency = response time from the intended start; svc = service time")
    if not record.valid:
        lines.append("INVALID: " + "; ".join(record.invalid_reasons))
    for name, op in record.operations.items():
        if op.errors_sample:
            lines.append(f"errors in {name}: {op.errors_sample[0]}")
    return "\n".join(lines)
