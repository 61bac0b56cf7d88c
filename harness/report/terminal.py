"""The end-of-run table on the terminal (our own HDR numbers, never Locust's)."""

from __future__ import annotations

from collections.abc import Iterable

from harness.compare.samples import FEW_NOTE, QUANTILE, few, marked
from harness.metrics.histogram import Percentiles
from harness.results.record import OperationResult, RunRecord
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


def worst_p99(operations: Iterable[OperationResult]) -> str:
    """The highest p99 of `operations` (a stage's), marked FEW when its operation had too few samples; '-' if none."""
    timed = [(op.latency_us.p99, op.count) for op in operations if op.latency_us]
    if not timed:
        return "-"
    p99, count = max(timed)
    return marked(fmt_us(p99), count, "p99")


def slowest_count(record: RunRecord | None, metric: str) -> int | None:
    """Samples behind a capacity step's `metric` (its slowest operation's percentile): that operation's count;
    None without the step's record or a latency."""
    timed = [op for op in record.operations.values() if op.latency_us] if record is not None else []
    if not timed:
        return None
    return max(timed, key=lambda op: getattr(op.latency_us, metric)).count


def step_cell(cell: str, metric: str, record: RunRecord | None) -> str:
    """A capacity step's percentile `cell`, marked FEW when its slowest operation had too few samples for it."""
    count = slowest_count(record, metric)
    return cell if count is None or cell == "None" else marked(cell, count, metric)


def stage_table(record: RunRecord) -> str:
    """One row per stage of a load shape: its users or rate, throughput, worst operation's p99."""
    rows = []
    for stage in record.stages:
        errors = sum(op.errors for op in stage.operations.values())
        rows.append([str(stage.index + 1), f"{stage.start_s:g}s", f"{stage.duration_s:g}s", str(stage.users),
                     f"{stage.target_rate:,.0f}" if stage.target_rate else "closed", f"{stage.total_throughput_ops_s:,.0f}",
                     worst_p99(stage.operations.values()), f"{errors:,}"])
    return table(rows, ["stage", "from", "for", "users", "target ops/s", "ops/s", "worst p99", "errors"])


def scenario_table(record: RunRecord) -> str:
    """One row per scenario: its users, rate or think time, operations and throughput."""
    rows = [[s.name, str(s.users), f"{s.target_rate:,.0f}" if s.target_rate else "closed",
             f"{s.think_time_s * 1000:g} ms" if s.think_time_s else "-", ", ".join(s.operations),
             f"{s.throughput_ops_s:,.0f}", f"{s.errors:,}"] for s in record.scenarios]
    return table(rows, ["scenario", "users", "target ops/s", "think", "operations", "ops/s", "errors"])


def _percentile(count: int, latency: Percentiles | None, metric: str) -> str:
    """The cell of one latency percentile, marked FEW when `count` samples are too few for it."""
    if latency is None:
        return "-"
    return marked(fmt_us(getattr(latency, metric)), count, metric)


def _few_samples_note(record: RunRecord) -> list[str]:
    """The footnote of FEW, when a percentile in the table carries it."""
    counts = [op.count for op in record.operations.values() if op.latency_us]
    counts += [op.count for stage in record.stages for op in stage.operations.values() if op.latency_us]
    return [FEW_NOTE] if any(few(count, p) for count in counts for p in QUANTILE) else []


def _before_measuring(record: RunRecord) -> str | None:
    """What a run stopped before its measurement window says instead of a table of zeros; None otherwise."""
    if record.phase not in ("prepare", "load", "warmup") or any(op.count or op.errors for op in record.operations.values()):
        return None
    title = f"{record.engine} {record.engine_version} · {record.workload}{':' + record.preset if record.preset else ''}"
    how = "interrupted" if record.interrupted else "failed"
    where = {"load": "while loading the dataset", "warmup": "during the warm-up"}.get(record.phase,
                                                                                     "while preparing the engine")
    if record.load_phase is not None:
        so_far = f"{record.load_phase.records:,} records loaded" + ("" if record.load_phase.complete else " so far")
    else:  # the interruption note carries the last progress line: `... during load (loading users 1,200/5,000 ...)`
        progress = [note.split(" during load (", 1)[1].removesuffix(")") for note in record.notes if " during load (" in note]
        so_far = f"last progress: {progress[0]}" if progress else "records loaded so far unknown"
    lines = [title, f"{how} {where} ({so_far}); nothing was measured"]
    if record.failure:
        lines.append(f"failure: {record.failure}")
    return "\n".join(lines)


def run_summary(record: RunRecord) -> str:
    """The end-of-run table: one row per operation with counts, outcomes, throughput and percentiles; a run
    stopped before measuring says so instead (how far its load got)."""
    if (stopped := _before_measuring(record)) is not None:
        return stopped
    open_loop = record.open_loop
    header = ["operation", "count", "errors", "timeouts", "not found", "ops/s", "p50", "p90", "p99", "p99.9", "max"]
    if open_loop:
        header += ["svc p99", "lag p99"]
    rows = []
    for name, op in record.operations.items():
        lat = op.latency_us
        row = [name, f"{op.count:,}", f"{op.errors:,}", f"{op.timeouts:,}", f"{op.not_found:,}" if op.must_hit else "-",
               f"{op.throughput_ops_s:,.0f}"]
        row += [_percentile(op.count, lat, p) for p in ("p50", "p90", "p99", "p999", "max")]
        if open_loop:
            row += [marked(fmt_us(op.service_us.p99), op.count, "p99") if op.service_us else "-",
                    marked(fmt_us(op.lag_us.p99), op.count, "p99") if op.lag_us else "-"]
        rows.append(row)
    mode = record.describe_load()
    title = (f"{record.engine} {record.engine_version} · {record.workload}"
             f"{':' + record.preset if record.preset else ''} · {record.load.users} users × "
             f"{record.load.processes} proc · {mode} · {record.measured_s:.0f}s measured"
             + (f" (stopped after {record.load.operation_count:,} operations)"
                if record.stopped_by == "operationcount" and record.load.operation_count else ""))
    lines = [title, table(rows, header), f"total {record.total_throughput_ops_s:,.0f} ops/s"
             + ("" if record.complete else "  (INCOMPLETE run)"), data_line(record)]
    if record.stages:
        lines.append(stage_table(record))
    if record.scenarios:
        lines.append(scenario_table(record))
    return "\n".join(lines + _footnotes(record))


def data_line(record: RunRecord) -> str:
    """The dataset the run measured: its scale and how it was loaded ('data: scale 3 · 300,000 records loaded in
    5.3 s (56,934 records/s)'), or that it was already there (a run that skipped the load)."""
    lp = record.load_phase
    if lp is None:
        return f"data: scale {record.scale:g} · not loaded by this run"
    loaded = f"{lp.records:,} records loaded in {lp.seconds:.1f} s ({lp.records_per_s:,.0f} records/s)"
    return f"data: scale {record.scale:g} · {loaded}" + ("" if lp.complete else " — load cut short")


def _footnotes(record: RunRecord) -> list[str]:
    """The lines under the table: what latency means here, timeouts, clamped values, FEW, INVALID, errors."""
    lines = []
    if record.open_loop:
        lines.append("latency = response time from the intended start (open loop); svc = service time; "
                     "lag = actual − intended start")
    if any(op.timeouts for op in record.operations.values()):
        lines.append("latency includes timed-out calls at the time they were given up")
    if any(op.clamped for op in record.operations.values()):
        lines.append(f"{sum(op.clamped for op in record.operations.values()):,} latencies above the histogram's "
                     "ceiling recorded as the ceiling")
    lines += _few_samples_note(record)
    if not record.valid:
        lines.append("INVALID: " + "; ".join(record.invalid_reasons))
    for name, op in record.operations.items():
        if op.errors_sample:
            lines.append(f"errors in {name}: {op.errors_sample[0]}")
    return lines
