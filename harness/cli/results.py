"""`dbarena runs | show | compare | baseline | history | report`: what is stored, compared and reported.

This is where stored runs, baselines, capacity and selection results are read for a report:
the report module only turns what it is given into a document. Comparison (scipy), history
(pandas) and the report (matplotlib) are imported by the commands that need them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.exit_codes import ExitCode
from harness.cli.options import Subcommands, add_regression_gate
from harness.errors import UserError
from harness.report.terminal import run_summary, table
from harness.results import store
from harness.results.baselines import baseline_for, baseline_path, promote
from harness.results.record import RunRecord

if TYPE_CHECKING:
    from harness.report.build import Evidence

__all__ = ["cmd_baseline", "cmd_compare", "cmd_history", "cmd_report", "cmd_runs", "cmd_show", "register",
           "skipped", "stored_evidence"]

DEFAULT_THRESHOLD = 0.05


def skipped(problem: store.Unreadable) -> None:
    """Say on stderr, in one line, which stored file a listing skipped and why."""
    print(f"dbarena: skipped {problem}", file=sys.stderr)


def _workload(record: RunRecord) -> str:
    return record.workload + (f":{record.preset}" if record.preset else "")


def cmd_runs(args: argparse.Namespace) -> ExitCode:
    rows = [[record.run_id, record.engine, _workload(record), f"{record.total_throughput_ops_s:,.0f}",
             "yes" if record.valid else "NO", "yes" if record.complete else "NO"]
            for _path, record in store.all_runs(on_skip=skipped)
            if (not args.engine or record.engine == args.engine) and (not args.workload or record.workload == args.workload)]
    if not rows:
        print("no runs stored yet; `dbarena bench` makes one")
        return ExitCode.OK
    print(table(rows, ["run", "engine", "workload", "ops/s", "valid", "complete"]))
    return ExitCode.OK


def cmd_show(args: argparse.Namespace) -> ExitCode:
    print(run_summary(store.find_run(args.run)))
    return ExitCode.OK


def cmd_compare(args: argparse.Namespace) -> ExitCode:
    from harness.compare.compare import compare
    from harness.report.comparison import comparison_table

    candidate = store.find_run(args.runs[-1])
    if len(args.runs) == 2:
        baseline = store.find_run(args.runs[0])
    else:
        found = baseline_for(candidate)
        if found is None:
            raise UserError(f"no baseline for {candidate.engine}/{candidate.workload}; "
                            f"`dbarena baseline promote RUN_ID` makes one, or give two runs")
        baseline = found
    comparison = compare(baseline, candidate, threshold=args.threshold, force=args.force)
    print(comparison_table(comparison))
    return ExitCode.REGRESSED if args.fail_on_regression and comparison.regressions else ExitCode.OK


def cmd_baseline(args: argparse.Namespace) -> ExitCode:
    if args.action == "promote":
        if not args.run:
            raise UserError("baseline promote: give a run id (see `dbarena runs`)")
        path = promote(store.find_run(args.run))
        print(f"baseline written: {path} (commit it to share it)")
        return ExitCode.OK
    for path in sorted(baseline_path("x", "y").parents[1].glob("*/*.json")):
        try:
            record = store.load(path)
        except store.Unreadable as problem:
            skipped(problem)
            continue
        print(f"{path}: {record.run_id} ({record.total_throughput_ops_s:,.0f} ops/s)")
    return ExitCode.OK


def cmd_history(args: argparse.Namespace) -> ExitCode:
    import pandas as pd

    from harness.results.history import export, history

    frame = history(args.engine, args.workload, on_skip=skipped)
    target = args.csv or args.parquet
    if target:
        flag = "--csv" if args.csv else "--parquet"
        try:
            export(frame, Path(target))
        except OSError as exc:
            raise UserError(f"{flag} {target}: cannot write there ({exc.strerror or exc}); "
                            "give a path in an existing, writable folder") from None
        print(f"{len(frame)} rows written to {target}")
    elif frame.empty:
        print("no runs match")
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 12):
            print(frame[["started_at", "run_id", "engine", "workload", "operation", "throughput_ops_s",
                         "p50_us", "p99_us", "valid"]].to_string(index=False))
    return ExitCode.OK


def stored_evidence(records: Sequence[RunRecord], runs: Sequence[RunRecord] | None = None,
                    on_skip: store.OnSkip = skipped) -> Evidence:
    """Everything stored that a report on `records` draws on: all runs, their baselines, capacity and selections.

    `runs`: every stored run when the caller has read them already (default: read them here).
    An unreadable baseline, run, capacity or selection file is left out and passed to `on_skip`
    (the report then compares with the previous run).
    """
    from harness.report.build import Evidence, baseline_key
    from harness.studies.capacity import stored_capacity
    from harness.studies.select import stored_selections

    baselines = {}
    for key, record in {baseline_key(record): record for record in records}.items():  # each baseline read once
        try:
            found = baseline_for(record)
        except store.Unreadable as problem:
            on_skip(problem)
            found = None
        if found is not None:
            baselines[key] = found
    if runs is None:
        runs = [r for _, r in store.all_runs(on_skip=on_skip)]
    return Evidence(runs=tuple(runs), baselines=baselines,
                    capacity=tuple(stored_capacity(on_skip)), selections=tuple(stored_selections(on_skip)))


def cmd_report(args: argparse.Namespace) -> ExitCode:
    from harness.report.build import write_report

    records = [store.find_run(run) for run in args.runs]
    stored = [r for _, r in store.all_runs(on_skip=skipped)]
    if not records:
        if not stored:
            raise UserError("no runs stored yet; `dbarena bench` makes one")
        records = [stored[-1]]
    out = Path(args.out) if args.out else store.results_dir() / "reports"
    md_path, html_path = write_report(records, stored_evidence(records, stored), out)
    print(f"report written: {html_path} and {md_path}")
    return ExitCode.OK


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", metavar="NAME", help="only runs of this engine (default: all engines)")
    parser.add_argument("--workload", metavar="NAME", help="only runs of this workload (default: all workloads)")


def _compare_parser(sub: Subcommands) -> None:
    parser = sub.add_parser("compare", help="compare two runs, or one run with its baseline")
    parser.add_argument("runs", nargs="+", metavar="RUN_ID",
                        help="BASELINE CANDIDATE, or CANDIDATE alone (vs its committed baseline)")
    parser.add_argument("--threshold", metavar="FRACTION", type=float, default=DEFAULT_THRESHOLD,
                        help="minimum relative effect that counts, as a fraction (0.05 = 5%%); doubled for p99, "
                             f"quadrupled for p99.9 (default: {DEFAULT_THRESHOLD})")
    parser.add_argument("--force", action="store_true",
                        help="compare runs of different workload definitions (default: off, refused)")
    add_regression_gate(parser, "anything regressed")
    parser.set_defaults(func=cmd_compare)


def _other_parsers(sub: Subcommands) -> None:
    runs = sub.add_parser("runs", help="list stored runs")
    _filters(runs)
    runs.set_defaults(func=cmd_runs)

    show = sub.add_parser("show", help="print one stored run")
    show.add_argument("run", metavar="RUN_ID", help="run id (or a unique prefix) or path of a run record")
    show.set_defaults(func=cmd_show)

    baseline = sub.add_parser("baseline", help="promote a run to baseline, or list baselines")
    baseline.add_argument("action", choices=["promote", "list"], help="promote RUN_ID, or list the baselines")
    baseline.add_argument("run", nargs="?", metavar="RUN_ID", help="run to promote (promote only)")
    baseline.set_defaults(func=cmd_baseline)

    hist = sub.add_parser("history", help="stored runs as a table (pandas); export CSV/Parquet")
    _filters(hist)
    hist.add_argument("--csv", metavar="FILE", help="write the table to this .csv file (default: print it)")
    hist.add_argument("--parquet", metavar="FILE", help="write the table to this .parquet file (default: print it)")
    hist.set_defaults(func=cmd_history)

    report = sub.add_parser("report", help="write report.md and a self-contained report.html with plots")
    report.add_argument("runs", nargs="*", metavar="RUN_ID", help="runs to report (default: the newest run)")
    report.add_argument("--out", metavar="DIR", help="output directory (default: <results>/reports)")
    report.set_defaults(func=cmd_report)


def register(sub: Subcommands) -> None:
    """Add runs, show, compare, baseline, history and report to the `dbarena` parser."""
    _other_parsers(sub)
    _compare_parser(sub)
