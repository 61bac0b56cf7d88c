"""`dbarena report`: runs, baselines, history, capacity and selection gathered into one document.

The report is built once as a list of format-neutral blocks (blocks.py) so that report.md
and report.html always say the same thing; each renderer only decides how it looks.
Gathering reads nothing: the caller (the CLI) reads the runs and the `Evidence` around them
from the results folder and passes them in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from harness.compare.compare import SHARES, Comparison, compare
from harness.compare.samples import FEW, FEW_NOTE, QUANTILE, few, marked
from harness.errors import UserError
from harness.report import decision, html, markdown, plots, repeats
from harness.report.blocks import Block, Heading, Plot, Report, Table, Text
from harness.report.comparison import SHARE_RULE, change_cells, fmt_metric
from harness.report.terminal import step_cell, worst_p99
from harness.results import history as run_history
from harness.results.record import OperationResult, RunRecord
from harness.results.store import write_atomic
from harness.runner.progress import fmt_us
from harness.studies.models import CapacityResult, SelectionResult, capacity_words

__all__ = ["BaselineKey", "Evidence", "baseline_key", "gather", "write_report"]

BaselineKey = tuple[str, str, str | None]  # engine, workload, preset: one baseline each


def baseline_key(record: RunRecord) -> BaselineKey:
    """Which baseline a run is held against."""
    return record.engine, record.workload, record.preset


@dataclass(frozen=True)
class Evidence:
    """What a report draws on besides the runs it reports (read from the results folder by the caller)."""

    runs: Sequence[RunRecord] = ()  # every stored run, oldest first: history and "previous run" comparisons
    baselines: Mapping[BaselineKey, RunRecord] = field(default_factory=dict)
    capacity: Sequence[CapacityResult] = ()  # oldest first
    selections: Sequence[SelectionResult] = ()  # oldest first

    def baseline(self, record: RunRecord) -> RunRecord | None:
        return self.baselines.get(baseline_key(record))

    def history(self, record: RunRecord) -> pd.DataFrame:
        """Stored runs of the record's engine and workload, one row per run and operation (as `dbarena history`)."""
        mine = [r for r in self.runs if r.engine == record.engine and r.workload == record.workload]
        frame = pd.DataFrame([row for r in mine for row in run_history.rows(r)], columns=run_history.COLUMNS)
        return frame.sort_values(["started_at", "operation"]).reset_index(drop=True)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "run"


def _kv(mapping: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (mapping or {}).items()) or "-"


def _workload(record: RunRecord) -> str:
    return record.workload + (f":{record.preset}" if record.preset else "")


CAUSES = {  # RunRecord.invalid_causes in words
    "client": "the load generator could not keep up (harness CPU or schedule lag)",
    "engine": "the engine stalled or was unavailable",
    "errors": "too many calls failed or timed out (the error budget)",
    "misses": "must-hit operations found nothing too often",
    "interrupted": "the run was interrupted",
    "workers": "a load worker was lost",
    "other": "another reason",
}


def _header(record: RunRecord) -> tuple[str, ...]:
    """The summary's columns: clamped only when a latency was clamped, svc and lag p99 only in open loop."""
    clamped = ("clamped",) if any(op.clamped for op in record.operations.values()) else ()
    open_loop = ("svc p99", "lag p99") if record.open_loop else ()
    return ("operation", "count", "errors", "timeouts", "not found (must hit)", *clamped, "ops/s", "p50", "p90",
            "p99", "p99.9", "max", *open_loop)


def _operation_row(record: RunRecord, op: OperationResult, clamped: bool) -> tuple[str, ...]:
    lat = op.latency_us
    row = [f"{op.count:,}", f"{op.errors:,}", f"{op.timeouts:,}", f"{op.not_found:,}" if op.must_hit else "-"]
    row += [f"{op.clamped:,}"] if clamped else []
    row += [f"{op.throughput_ops_s:,.0f}", *(marked(fmt_us(getattr(lat, p)), op.count, p) if lat else "-"
                                             for p in ("p50", "p90", "p99", "p999", "max"))]
    if record.open_loop:
        row += [marked(fmt_us(op.service_us.p99), op.count, "p99") if op.service_us else "-",
                marked(fmt_us(op.lag_us.p99), op.count, "p99") if op.lag_us else "-"]
    return tuple(row)


def _summary_table(record: RunRecord) -> Table:
    header = _header(record)
    clamped = "clamped" in header
    rows, tones = [], []
    for name, op in record.operations.items():
        if op.unsupported:
            rows.append((name, *(["n/a"] * (len(header) - 1))))
            tones.append("bad")
            continue
        rows.append((name, *_operation_row(record, op, clamped)))
        tones.append("bad" if op.errors or op.timeouts or (op.must_hit and op.not_found) else "")
    ops = record.operations.values()
    total = [f"{sum(o.count for o in ops):,}", f"{sum(o.errors for o in ops):,}", f"{sum(o.timeouts for o in ops):,}",
             f"{sum(o.not_found for o in ops if o.must_hit):,}" if any(o.must_hit for o in ops) else "-"]
    total += [f"{sum(o.clamped for o in ops):,}"] if clamped else []
    rows.append(("total", *total, f"{record.total_throughput_ops_s:,.0f}", *([""] * (len(header) - len(total) - 2))))
    tones.append("")
    return Table(header, tuple(rows), tuple(tones))


def _outcome_notes(record: RunRecord) -> list[Block]:
    """What the outcome columns count, said under the table."""
    ops = record.operations
    must_hit = [name for name, op in ops.items() if op.must_hit]
    notes = ["Outcomes: count = calls that succeeded; errors = calls that failed; timeouts = calls given up after "
             "their timeout (their own outcome, counted against the error budget with errors); not found = "
             "successful calls of a must-hit operation that found nothing ("
             + (f"must hit here: {', '.join(must_hit)}; " if must_hit else "no must-hit operation here; ")
             + "- = not must-hit, a miss is a valid answer)."]
    if any(op.timeouts for op in ops.values()):
        notes.append("Latency includes timed-out calls at the time they were given up.")
    if clamped := sum(op.clamped for op in ops.values()):
        notes.append(f"{clamped:,} latencies above the histogram's ceiling were recorded as the ceiling (clamped).")
    if record.open_loop:
        notes.append("lag = actual − intended start of a call (open loop): how far the load generator fell behind.")
    counts = [op.count for op in ops.values() if op.latency_us]
    counts += [op.count for stage in record.stages for op in stage.operations.values() if op.latency_us]
    if any(few(count, p) for count in counts for p in QUANTILE):
        notes.append(FEW_NOTE + ".")
    return [Text(note, "note") for note in notes]


def _summary(record: RunRecord) -> list[Block]:
    latency = ("response time from each operation's intended start (coordinated-omission corrected); "
               "svc = service time") if record.open_loop else "service time (closed loop)"
    blocks: list[Block] = [_summary_table(record),
                           Text(f"Latency: {latency}, from dbarena's HDR histograms (µs, 3 significant digits) "
                                f"of the {record.measured_s:g} s measured window; warm-up excluded.", "note"),
                           *_outcome_notes(record)]
    blocks += _shape_tables(record)
    blocks += [Text(f"{name} cannot run on {record.engine}: {op.unsupported}", "note")
               for name, op in record.operations.items() if op.unsupported]
    blocks += [Text(f"errors in {name} (sample): {op.errors_sample[0]}", "bad")
               for name, op in record.operations.items() if op.errors_sample]
    return blocks


def _invalid(record: RunRecord) -> list[Block]:
    """Why a run is invalid: each reason with its cause in words."""
    reasons = record.invalid_reasons or ("no reason recorded",)
    causes = tuple(getattr(record, "invalid_causes", ()) or ())
    rows = tuple((CAUSES.get(causes[i], causes[i]) if i < len(causes) else "not recorded", reason)
                 for i, reason in enumerate(reasons))
    return [Text("INVALID RUN — do not use these numbers as evidence. Why, each reason with its cause:", "bad"),
            Table(("cause", "reason"), rows)]


def _stopped(record: RunRecord) -> str:
    """What ended the measurement, in words."""
    count = record.load.operation_count
    if record.stopped_by == "operationcount" and count:
        return f"after {count:,} operations (operationcount), {record.measured_s:g} s measured"
    if not record.complete:
        return f"cut short during {record.phase}, {record.measured_s:g} s measured"
    return f"at the end of its {record.load.duration_s:g} s duration"


def _shape_tables(record: RunRecord) -> list[Block]:
    """Per stage of a load shape and per scenario, as the terminal shows them."""
    blocks: list[Block] = []
    if record.stages:
        rows: list[tuple[str, ...]] = []
        for stage in record.stages:
            rows.append((str(stage.index + 1), f"{stage.start_s:g} s", f"{stage.duration_s:g} s", str(stage.users),
                         f"{stage.target_rate:,.0f}" if stage.target_rate else "closed loop",
                         f"{stage.total_throughput_ops_s:,.0f}", worst_p99(stage.operations.values()),
                         f"{sum(op.errors for op in stage.operations.values()):,}"))
        blocks += [Text("Stages of the load shape, each summarised apart:", "note"),
                   Table(("stage", "from", "for", "users", "target ops/s", "ops/s", "worst p99", "errors"), tuple(rows))]
    if record.scenarios:
        scenario_rows = tuple((s.name, str(s.users), f"{s.target_rate:,.0f}" if s.target_rate else "closed loop",
                               ", ".join(s.operations), f"{s.throughput_ops_s:,.0f}", f"{s.errors:,}")
                              for s in record.scenarios)
        blocks += [Text("Scenarios, each with its own users and rate:", "note"),
                   Table(("scenario", "users", "target ops/s", "operations", "ops/s", "errors"), scenario_rows)]
    return blocks


def _manifest(record: RunRecord) -> Table:
    m, load = record.manifest, record.load
    mode = record.describe_load()
    host = m.get("host") or {}
    rows = [
        ("started", record.started_at),
        ("engine", f"{record.engine} {record.engine_version}"),
        ("server measured", decision.measured_server(record.engine, record.engine_version, m)),
        ("workload", f"{_workload(record)} (definition {record.workload_hash}, scale {record.scale:g}, "
                     f"seed {record.seed})" + (f", suite {record.suite}" if record.suite else "")),
        ("load", f"{load.users} users × {load.processes} process(es), {mode}, {load.warmup_s:g} s warm-up + "
                 f"{load.duration_s:g} s measured ({record.measured_s:g} s actual)"),
        ("measurement ended", _stopped(record)),
        ("engine settings", _kv(m.get("engine_settings"))),
        ("provisioner", _kv(m.get("provisioner"))),
        ("harness", f"dbarena {m.get('harness_version', '?')} @ {m.get('git_sha') or 'unknown commit'}, "
                    f"Python {m.get('python', '?')}"),
        ("client libraries", ", ".join(f"{k} {v}" for k, v in (m.get("client_libraries") or {}).items()) or "-"),
        ("host", f"{host.get('cpu_model') or '?'}, {host.get('cpus') or '?'} CPUs, {host.get('memory_gb') or '?'} GB, "
                 f"{host.get('os') or '?'}"),
    ]
    if record.load_phase:
        lp = record.load_phase
        rows.append(("data load", f"{lp.records:,} records in {lp.seconds:.1f} s ({lp.records_per_s:,.0f} records/s)"))
    rows += [("note", note) for note in record.notes]
    return Table(("", ""), tuple(rows))


def _reference(record: RunRecord, evidence: Evidence) -> tuple[RunRecord | None, str]:
    """The baseline, else the previous run of the same engine and workload (same definition first)."""
    base = evidence.baseline(record)
    if base is not None and base.run_id != record.run_id:
        return base, "baseline"
    earlier = [r for r in evidence.runs if r.engine == record.engine and r.workload == record.workload
               and r.preset == record.preset and r.started_at < record.started_at and r.run_id != record.run_id]
    same = [r for r in earlier if r.workload_hash == record.workload_hash]
    candidates = same or earlier
    return (candidates[-1] if candidates else None), "previous run"


def _comparison(record: RunRecord, evidence: Evidence) -> list[Block]:
    reference, kind = _reference(record, evidence)
    if reference is None:
        return [Heading(3, "Comparison"),
                Text(f"Nothing to compare with: no baseline and no earlier run of {record.engine}/{_workload(record)}.")]
    head: list[Block] = [Heading(3, f"Comparison vs {kind} {reference.run_id}")]
    try:
        result: Comparison = compare(reference, record)
    except UserError as exc:
        return [*head, Text(str(exc), "bad")]
    rows = tuple((c.operation, *change_cells(c), c.verdict.value, c.evidence) for c in result.changes)
    tones = tuple({"regressed": "bad", "improved": "good"}.get(c.verdict.value, "") for c in result.changes)
    verdict = result.verdict.value.upper()
    return [*head, *[Text(f"WARNING: {w}", "bad") for w in result.warnings],
            Table(("operation", "metric", kind, "this run", "change", "verdict", "evidence"), rows, tones),
            Text(f"Verdict: {verdict} (minimum effect {result.threshold:.0%}, family-wise significance 5%; "
                 "↑ higher is better, ↓ lower is better)", "bad" if verdict == "REGRESSED" else ""),
            *([Text(SHARE_RULE.capitalize() + ".", "note")] if any(c.metric in SHARES for c in result.changes) else []),
            *([Text(FEW_NOTE + ".", "note")] if any(c.verdict == "too few samples" for c in result.changes) else [])]


def _history(record: RunRecord, evidence: Evidence, name: str) -> list[Block]:
    """History charts of the record's engine and workload, one per series of comparable runs (same definition,
    scale and load shape): runs of different series are never joined in one chart."""
    frame = evidence.history(record)
    frame = frame[frame["preset"].isna()] if record.preset is None else frame[frame["preset"] == record.preset]
    blocks: list[Block] = [Heading(3, "History")]
    groups = [(series, rows) for series, rows in frame.groupby("series", sort=False)]
    if len(groups) > 1:
        blocks.append(Text(f"Stored runs of {record.engine}/{_workload(record)} fall into {len(groups)} series that "
                           "cannot be compared (different workload definition, scale or load shape); each has its "
                           "own chart, a series of one run none.", "note"))
    own = run_history.series(record)
    for index, (series, rows) in enumerate(sorted(groups, key=lambda g: g[0] != own)):
        svg = plots.history_trend(rows.reset_index(drop=True), evidence.baseline(record), record.run_id)
        if svg is not None:
            runs = rows["run_id"].nunique()
            blocks.append(Plot(name if index == 0 else f"{name}-{index}", f"History of {series} ({runs} runs)", svg))
    if len(blocks) == 1 + (len(groups) > 1):
        blocks.append(Text(f"No history yet: fewer than two comparable stored runs of "
                           f"{record.engine}/{_workload(record)}."))
    return blocks


def _step_percentile(value: int | None, metric: str, step: RunRecord | None) -> str:
    """A capacity step's worst-operation percentile, marked FEW when that operation had too few samples (its run
    record found among the stored runs; unmarked when the record is gone)."""
    return fmt_us(value) if value is None else step_cell(fmt_us(value), metric, step)


def _capacity(record: RunRecord, results: Sequence[CapacityResult], name: str,
              runs: Sequence[RunRecord] = ()) -> list[Block]:
    mine = [c for c in results if c.engine == record.engine and c.workload == record.workload
            and c.preset == record.preset]
    if not mine:
        return []
    newest = mine[-1]
    found = (f"{newest.capacity_ops_s:,.0f} ops/s" if newest.capacity_ops_s is not None
             else "none: even the lowest rate missed the SLO")
    steps = {r.run_id: r for r in runs}
    rows = tuple((f"{p.target_rate:,.0f}", f"{p.achieved_ops_s:,.0f}",
                  *(_step_percentile(getattr(p, f"{m}_us"), m, steps.get(p.run_id)) for m in ("p50", "p99", "p999")),
                  "yes" if p.slo_met else "NO", "yes" if p.valid else "NO", p.run_id)
                 for p in newest.curve)
    tones = tuple("" if p.slo_met and p.valid else "bad" for p in newest.curve)
    blocks: list[Block] = [Heading(3, f"Capacity ({newest.capacity_id}, {newest.started_at})"),
                           Text(f"Highest open-loop rate meeting {newest.slo}: {found}.")]
    svg = plots.capacity_curve(newest)
    if svg:
        blocks.append(Plot(name, f"Latency vs throughput, {newest.capacity_id}", svg))
    blocks.append(Table(("target ops/s", "achieved ops/s", "p50", "p99", "p99.9", "SLO met", "valid", "run"),
                        rows, tones))
    if any(cell.endswith(FEW) for row in rows for cell in row[2:5]):
        blocks.append(Text(FEW_NOTE + " (of the step's slowest operation).", "note"))
    return blocks


def _selection(selection: SelectionResult) -> list[Block]:
    rows = tuple((str(r.rank), r.engine, fmt_metric("throughput", r.capacity_ops_s) if r.capacity_ops_s
                  else capacity_words(None, getattr(r, "capacity_below_ops_s", None)),
                  fmt_metric("throughput", r.throughput_ops_s), fmt_us(r.p99_us),
                  f"cannot run it: {r.unsupported}" if r.unsupported else "; ".join(r.reasons))
                 for r in sorted(selection.ranking, key=lambda r: r.rank))
    tones = tuple("bad" if r.unsupported else "" for r in sorted(selection.ranking, key=lambda r: r.rank))
    blocks: list[Block] = [
        Heading(2, f"Selection: {selection.use_case} ({selection.workload})", slug(selection.selection_id)),
        Text(f"{selection.selection_id}, {selection.started_at}; SLO {selection.slo}."),
        Heading(3, "Ranking (measured)"),
        Table(("rank", "engine", "capacity", "closed-loop ops/s", "p99", "reasons"), rows, tones),
    ]
    if selection.traits:
        blocks += [Heading(3, "Qualitative traits (not measured)"),
                   Text("Judgements about each engine, kept as data; they inform but never change the measured "
                        "ranking above.", "note"),
                   Table(("engine", "transactions", "schema flexibility", "query power", "operational burden"),
                         tuple((engine, t.transactions, t.schema_flexibility, t.query_power, t.operational_burden)
                               for engine, t in sorted(selection.traits.items())))]
    return blocks


def _run_section(record: RunRecord, evidence: Evidence) -> list[Block]:
    stem = slug(record.run_id)
    flags = [word for word, ok in (("INVALID", record.valid), ("INCOMPLETE", record.complete)) if not ok]
    title = f"{decision.record_label(record)} · {_workload(record)} — {record.run_id}" + "".join(f" — {f}" for f in flags)
    blocks: list[Block] = [Heading(2, title, stem, "bad" if flags else "")]
    if not record.complete:
        blocks.append(Text("INCOMPLETE RUN: the measurement was cut short; numbers cover only what was measured.",
                           "bad"))
    if not record.valid:
        blocks += _invalid(record)
    blocks += [Heading(3, "Summary"), *_summary(record), Heading(3, "Manifest"), _manifest(record)]
    if svg := plots.latency_distribution(record):
        blocks += [Heading(3, "Latency percentile distribution"), Plot(f"{stem}-percentiles", "Latency by percentile", svg)]
    if svg := plots.timeseries(record):
        blocks += [Heading(3, "Per-second time series"), Plot(f"{stem}-timeseries", "Per-second throughput and p99", svg)]
    blocks += _history(record, evidence, f"{stem}-history")
    blocks += _comparison(record, evidence)
    blocks += _capacity(record, evidence.capacity, f"{stem}-capacity", evidence.runs)
    return blocks


def gather(records: Sequence[RunRecord], evidence: Evidence, selection: SelectionResult | None = None) -> Report:
    """The whole report for the given runs (oldest first), with plots already rendered; runs of several engines
    on one workload, or a `selection`, first get the cross-engine decision view (decision.py)."""
    overview = Table(("run", "engine", "workload", "ops/s", "valid", "complete"),
                     tuple((r.run_id, decision.record_label(r), _workload(r), f"{r.total_throughput_ops_s:,.0f}",
                            "yes" if r.valid else "NO", "yes" if r.complete else "NO") for r in records),
                     tuple("" if r.valid and r.complete else "bad" for r in records))
    decide = decision.wants_decision(records, selection)
    blocks: list[Block] = (decision.decision_blocks(records, evidence.runs, evidence.capacity, selection)
                           if decide else [])
    blocks += [Heading(2, "Runs"), overview] if records else []
    blocks += repeats.group_blocks(records)
    for record in records:
        blocks += _run_section(record, evidence)
    for shown in _newest_per(evidence.selections, {r.workload for r in records}, {r.engine for r in records}):
        if selection is None or shown.selection_id != selection.selection_id:
            blocks += _selection(shown)
    if selection is not None:
        blocks += _selection(selection)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return Report("dbarena decision report" if decide else "dbarena report", now, tuple(blocks))


def _newest_per(selections: Iterable[SelectionResult], workloads: set[str], engines: set[str]) -> list[SelectionResult]:
    """The newest stored selection per use case and workload that ranked one of the reported runs' engines."""
    newest: dict[tuple[str, str], SelectionResult] = {}
    for selection in selections:  # oldest first, so later ones win
        if selection.workload in workloads and engines & {ranked.engine for ranked in selection.ranking}:
            newest[(selection.use_case, selection.workload)] = selection
    return list(newest.values())


def write_report(records: Sequence[RunRecord], evidence: Evidence, out_dir: Path,
                 selection: SelectionResult | None = None) -> tuple[Path, Path]:
    """Write report.md (with sibling .svg files) and a self-contained report.html about `records` (and the
    `selection` result, when given)."""
    if not records and selection is None:
        raise UserError("no runs to report; `dbarena bench` makes one")
    report = gather(sorted(records, key=lambda r: r.started_at), evidence, selection)
    for plot in report.plots:
        write_atomic(out_dir / f"{plot.name}.svg", plot.svg)
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    write_atomic(md_path, markdown.render(report))
    write_atomic(html_path, html.render(report))
    return md_path, html_path
