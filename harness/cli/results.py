"""`dbarena runs | show | compare | check | baseline | history | report`: what is stored, compared, gated, reported.

This is where stored runs, baselines, capacity and selection results are read for a report:
the report module only turns what it is given into a document. Comparison (scipy), history
(pandas) and the report (matplotlib) are imported by the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.exit_codes import ExitCode
from harness.cli.options import Subcommands, add_json, add_regression_gate
from harness.errors import UserError
from harness.report.terminal import run_summary, table
from harness.results import store
from harness.results.baselines import baseline_for, baseline_name, baseline_path, promote
from harness.results.record import RunRecord

if TYPE_CHECKING:
    import pandas as pd

    from harness.compare.gate import Gate
    from harness.compare.thresholds import Threshold
    from harness.report.build import Evidence
    from harness.studies.models import SelectionResult

__all__ = ["cmd_baseline", "cmd_check", "cmd_compare", "cmd_history", "cmd_report", "cmd_runs", "cmd_show", "register",
           "skipped", "stored_evidence"]



def skipped(problem: store.Unreadable) -> None:
    """Say on stderr, in one line, which stored file a listing skipped and why."""
    print(f"dbarena: skipped {problem}", file=sys.stderr)


def _workload(record: RunRecord) -> str:
    return record.workload + (f":{record.preset}" if record.preset else "")


def cmd_runs(args: argparse.Namespace) -> ExitCode:
    """The stored runs, one a row; `group` names a `bench --repeat` group (repeat/repeats), `study` the capacity
    search or selection a run was a step of (`capacity ID` for a capacity step, `select ID` for a selection's)."""
    studies = _studies_of_runs()
    rows = [[record.run_id, record.engine, _workload(record), f"{record.total_throughput_ops_s:,.0f}",
             "yes" if record.valid else "NO", "yes" if record.complete else "NO", _group(record),
             studies.get(record.run_id, "")]
            for _path, record in store.all_runs(on_skip=skipped)
            if (not args.engine or record.engine == args.engine) and (not args.workload or record.workload == args.workload)]
    if not rows:
        print("no runs stored yet; `dbarena bench` makes one")
        return ExitCode.OK
    print(table(rows, ["run", "engine", "workload", "ops/s", "valid", "complete", "group", "study"]))
    return ExitCode.OK


def _group(record: RunRecord) -> str:
    """`GROUP_ID 2/3` for a run of a `bench --repeat` group, "" otherwise."""
    if not record.group:
        return ""
    return record.group + (f" {record.repeat}/{record.repeats}" if record.repeat and record.repeats else "")


def _studies_of_runs() -> dict[str, str]:
    """run id -> `capacity CAPACITY_ID` or `select SELECTION_ID`: the stored studies whose step the run was
    (a record does not say it: the capacity results' curves and the selections' ids do)."""
    from harness.studies.capacity import stored_capacity
    from harness.studies.select import stored_selections

    capacity_runs = {c.capacity_id: [p.run_id for p in c.curve] for c in stored_capacity(skipped)}
    studies = {run_id: f"capacity {cap_id}" for cap_id, runs in capacity_runs.items() for run_id in runs}
    for selection in stored_selections(skipped):
        for ranked in selection.ranking:
            searches = set(ranked.capacity_ids) | ({ranked.capacity_id} if ranked.capacity_id else set())
            steps = [run_id for cap_id in searches for run_id in capacity_runs.get(cap_id, ())]
            for run_id in (*ranked.reference_ids, *steps):
                studies[run_id] = f"select {selection.selection_id}"
    return studies


def cmd_show(args: argparse.Namespace) -> ExitCode:
    from harness.results.groups import find_group, group_stats, group_text

    group = find_group(args.run)  # unreadable records are said by find_run, once, if the name is no group
    if group:  # a group id (`bench --repeat N`): its median and spread, or its runs and figures as JSON
        print(json.dumps({"group": args.run, "runs": [r.run_id for r in group],
                          "stats": [s.model_dump(mode="json") for s in group_stats(group)]}, indent=1)
              if args.json else group_text(group))
        return ExitCode.OK
    record = store.find_run(args.run)
    print(record.model_dump_json(indent=1) if args.json else run_summary(record))
    return ExitCode.OK


def _finish_gate(args: argparse.Namespace, gate: Gate, text: str) -> ExitCode:
    """Print `text` (or the gate as JSON), write --junit, and return the gate's exit code."""
    from harness.cli.gate import exit_code, write_junit
    from harness.report.comparison import gate_json

    code = exit_code([gate], args.fail_on)
    write_junit(args, [gate])
    print(json.dumps(gate_json(gate, args.fail_on, code), indent=1) if args.json else text)
    return code


def cmd_compare(args: argparse.Namespace) -> ExitCode:
    """Compare two runs (or a run and its baseline); refuse an invalid side unless --force; gate on --fail-on."""
    from harness.cli.gate import min_effect_from, thresholds_from
    from harness.cli.groups import compare_sides
    from harness.compare.compare import compare, refuse_invalid
    from harness.compare.gate import Gate
    from harness.compare.thresholds import check_thresholds
    from harness.report.comparison import checks_text, comparison_table

    min_effect, expressions = min_effect_from(args)
    thresholds = thresholds_from(expressions)
    if len(args.runs) > 2:
        raise UserError(f"compare takes BASELINE CANDIDATE or CANDIDATE, not {len(args.runs)} runs")
    if (code := compare_sides(args, min_effect, bool(thresholds))) is not None:  # two groups of repeats: compared across repeats
        return code
    sides = [store.find_run(ident) for ident in args.runs]  # in the order given: the first missing one is named
    candidate = sides[-1]
    if len(sides) == 2:
        baseline = sides[0]
    else:
        found = baseline_for(candidate)
        if found is None:
            raise UserError(f"no baseline for {baseline_name(candidate)}; "
                            f"`dbarena baseline promote RUN_ID` makes one, or give two runs")
        baseline = found
    refuse_invalid(baseline, candidate, args.force)
    comparison = compare(baseline, candidate, threshold=min_effect, force=args.force)
    checks = check_thresholds(candidate, thresholds)
    # --force shows the comparison; a gate (--fail-on) never passes on an invalid side (docs/output.md, exit 5)
    gate = Gate(candidate, comparison, checks, baseline_invalid=not baseline.valid,
                judge_validity=not args.force or args.fail_on is not None)
    return _finish_gate(args, gate, "\n".join(filter(None, [comparison_table(comparison), checks_text(checks)])))


def cmd_check(args: argparse.Namespace) -> ExitCode:
    """Check a stored run, or a group of repeats, against absolute thresholds: a gate without a baseline."""
    from harness.cli.gate import thresholds_from
    from harness.cli.groups import group_or_run
    from harness.compare.gate import Gate
    from harness.compare.thresholds import check_thresholds
    from harness.errors import InvalidRunRefused
    from harness.report.comparison import checks_text

    thresholds = thresholds_from(args.thresholds)
    if not thresholds:
        raise UserError("check: give at least one --threshold, e.g. --threshold 'read.p99<5ms'")
    group, runs = group_or_run(args.run)
    if group is not None:
        return _check_group(args, group, runs, thresholds)
    record = runs[0]
    if not record.valid and not args.force:
        raise InvalidRunRefused(f"run {record.run_id} is INVALID: {'; '.join(record.invalid_reasons)} — its numbers "
                                "do not describe the engine's work; not checked (--force checks anyway)")
    checks = check_thresholds(record, thresholds)
    # --force shows the figures; the gate still fails on the invalid run (docs/output.md: a gate never passes on one)
    gate = Gate(record, None, checks)
    verdict = "PASS" if not gate.breached else f"FAIL ({len(gate.breached)} of {len(checks)} breached)"
    return _finish_gate(args, gate, f"run {record.run_id}\n{checks_text(checks)}\nthresholds: {verdict}")


def _check_group(args: argparse.Namespace, group: str, runs: list[RunRecord], thresholds: tuple[Threshold, ...]) -> ExitCode:
    """`check GROUP`: each threshold on the median over the group's valid runs (harness.compare.thresholds.check_group);
    the gate's run is the group's median run (as `compare` uses it); refused (exit 5) when no run is valid, unless
    --force."""
    from harness.compare.gate import Gate
    from harness.compare.groups import median_run
    from harness.compare.thresholds import check_group
    from harness.errors import InvalidRunRefused
    from harness.report.comparison import checks_text

    valid = [r for r in runs if r.valid]
    if not valid and not args.force:
        raise InvalidRunRefused(f"group {group}: all {len(runs)} runs are INVALID ({runs[0].run_id}: "
                                f"{'; '.join(runs[0].invalid_reasons)}); not checked (--force checks anyway)")
    checks = check_group(runs, thresholds)
    gate = Gate(median_run(runs), None, checks)  # --force shows the figures; an invalid median run fails the gate
    verdict = "PASS" if not gate.breached else f"FAIL ({len(gate.breached)} of {len(checks)} breached)"
    left_out = [r.run_id for r in runs if not r.valid] if valid else []
    head = (f"group {group}: {len(valid or runs)} run(s), each threshold on the median over them"
            + (f"; INVALID and left out: {', '.join(left_out)}" if left_out else ""))
    return _finish_gate(args, gate, f"{head}\n{checks_text(checks)}\nthresholds: {verdict}")


def cmd_baseline(args: argparse.Namespace) -> ExitCode:
    if args.action == "promote":
        if not args.run:
            raise UserError("baseline promote: give a run id (see `dbarena runs`)")
        path = promote(store.find_run(args.run), force=args.force)
        print(f"baseline written: {path} (commit it to share it)")
        return ExitCode.OK
    for path in sorted(baseline_path("x", "y").parents[1].glob("*/*.json")):
        try:
            record = store.load(path)
        except store.Unreadable as problem:
            skipped(problem)
            continue
        mark = "" if record.valid else f" INVALID: {'; '.join(record.invalid_reasons)}"
        print(f"{path}: {record.run_id} ({record.total_throughput_ops_s:,.0f} ops/s){mark}")
    return ExitCode.OK


def cmd_history(args: argparse.Namespace) -> ExitCode:
    import pandas as pd

    from harness.compare.samples import FEW_NOTE
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
        shown, few = _marked_percentiles(frame)
        # one table per series (engine, workload:preset, definition, scale, load shape): rows of different
        # configurations side by side would read as a trend they are not
        blocks = [f"== {name}\n" + rows[["started_at", "run_id", "operation", "throughput_ops_s", "p50_us", "p99_us",
                                          "valid"]].to_string(index=False)
                  for name, rows in shown.groupby("series", sort=False)]
        with pd.option_context("display.width", 200, "display.max_columns", 12):
            print("\n\n".join(blocks))
        if few:
            print(FEW_NOTE)
    return ExitCode.OK


def _marked_percentiles(frame: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """The history table as printed: p50_us and p99_us as text, marked FEW where the run's count is too few for
    them (the exported CSV/Parquet keep the numbers), and whether any cell is marked."""
    from harness.compare.samples import few, marked

    shown = frame.copy()
    for column, metric in (("p50_us", "p50"), ("p99_us", "p99")):
        shown[column] = [marked(f"{value:,.0f}", int(count), metric) if value is not None and value == value else "-"
                         for value, count in zip(frame[column], frame["count"])]
    return shown, any(few(int(count), metric) for count in frame["count"] for metric in ("p50", "p99"))


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


def _capacity_steps() -> set[str]:
    """Run ids of every stored capacity step (a capacity search's open-loop rate steps); unreadable capacity
    files are passed over silently here (the report's evidence says each once)."""
    from harness.studies.capacity import stored_capacity

    return {point.run_id for result in stored_capacity(store.ignore) for point in result.curve}


def newest_bench(stored: Sequence[RunRecord], steps: set[str]) -> list[RunRecord]:
    """What `report` with no argument reports: the newest run that is not a capacity step (a step is listed in a
    stored capacity search's curve, or carries the suite `capacity`, or is an open-loop run of a `select`), with
    the rest of its repeat group, or the rest of its suite (the newest unbroken stretch of runs of that suite)."""
    def step(record: RunRecord) -> bool:
        suite = record.suite or ""
        return record.run_id in steps or suite == "capacity" or (suite.startswith("select:")
                                                                 and record.load.target_rate is not None)

    runs = [r for r in stored if not step(r)]
    if not runs:
        return []
    newest = runs[-1]
    group = getattr(newest, "group", None)
    if group:
        return [r for r in runs if getattr(r, "group", None) == group]
    if not newest.suite:
        return [newest]
    tail: list[RunRecord] = []
    for record in reversed(runs):
        if record.suite != newest.suite:
            break
        tail.append(record)
    return tail[::-1]


def find_selection(ident: str) -> SelectionResult:
    """A stored selection result by id, id prefix or path of its .json file (UserError in one line if none)."""
    from harness.studies.models import SelectionResult
    from harness.studies.select import selections_dir, stored_selections

    path = Path(ident)
    if path.suffix == ".json" and path.is_file():
        try:
            return SelectionResult.model_validate(store.read_object(path))
        except ValueError as exc:
            raise UserError(f"{ident}: not a dbarena selection result ({str(exc).splitlines()[0]})") from None
    matches = [s for s in stored_selections(skipped) if s.selection_id.startswith(ident.removesuffix(".json"))]
    exact = [s for s in matches if s.selection_id == ident.removesuffix(".json")]
    if exact or len(matches) == 1:
        return (exact or matches)[0]
    if not matches:
        raise UserError(f"no selection {ident!r} in {selections_dir()}; `dbarena select` makes one")
    raise UserError(f"selection id {ident!r} is ambiguous ({len(matches)} results); give more of it")


def cmd_report(args: argparse.Namespace) -> ExitCode:
    from harness.cli.groups import group_or_run
    from harness.report.build import write_report

    records = list({r.run_id: r for run in args.runs for r in group_or_run(run)[1]}.values())  # a group: its runs
    selection = find_selection(args.select) if args.select else None
    stored = [r for _, r in store.all_runs(on_skip=skipped)]
    if not records and selection is None:
        if not stored:
            raise UserError("no runs stored yet; `dbarena bench` makes one")
        records = newest_bench(stored, _capacity_steps())
        if not records:
            raise UserError("only capacity steps are stored; `dbarena bench` makes a run to report "
                            "(`dbarena report --select RESULT` reports a selection)")
    evidence = stored_evidence(records, stored)
    out = Path(args.out) if args.out else store.results_dir() / "reports"
    md_path, html_path = write_report(records, evidence, out, selection)
    print(f"report written: {html_path} and {md_path}")
    return ExitCode.OK


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", metavar="NAME", help="only runs of this engine (default: all engines)")
    parser.add_argument("--workload", metavar="NAME", help="only runs of this workload (default: all workloads)")


def _compare_parser(sub: Subcommands) -> None:
    parser = sub.add_parser("compare", help="compare two runs, or one run with its baseline")
    parser.add_argument("runs", nargs="+", metavar="RUN_ID",
                        help="BASELINE CANDIDATE, or CANDIDATE alone (vs its committed baseline); a side may be a "
                             "group id (`bench --repeat N`): two groups are compared across repeats, each run one "
                             "sample; a group against one run stands in by its median run")
    parser.add_argument("--force", action="store_true",
                        help="compare runs of different workload definitions, or an invalid run (marked INVALID; "
                             "its validity then does not fail the gate) (default: off, refused)")
    add_json(parser, "the comparison, thresholds and gate outcome")
    add_regression_gate(parser, "anything regressed", min_effect=True)
    parser.set_defaults(func=cmd_compare)


def _check_parser(sub: Subcommands) -> None:
    parser = sub.add_parser("check", help="check a stored run against absolute thresholds (a gate without a baseline)")
    parser.add_argument("run", metavar="RUN_ID", help="run id (or a unique prefix) or path of a run record, or a group "
                                                      "id (`bench --repeat N`: each threshold on the median over "
                                                      "its valid runs)")
    parser.add_argument("--threshold", dest="thresholds", metavar="EXPR", action="append", default=[], required=True,
                        help="limit the run must meet, repeatable, k6-style: 'read.p99<5ms', 'p99<10ms' (every "
                             "operation), 'errors<0.1%%', 'throughput>=2000'; exit 7 when one is breached (required)")
    parser.add_argument("--force", action="store_true",
                        help="show an invalid run's figures against the thresholds anyway; the gate still fails "
                             "(exit 4 or 5, JUnit `valid` failed) (default: off, refused with exit 5)")
    parser.add_argument("--junit", metavar="FILE", type=Path,
                        help="also write the outcome as JUnit XML to FILE, one testcase per threshold and operation "
                             "(default: none)")
    add_json(parser, "the checks and the gate outcome")
    parser.set_defaults(func=cmd_check, fail_on=None)


def _other_parsers(sub: Subcommands) -> None:
    runs = sub.add_parser("runs", help="list stored runs")
    _filters(runs)
    runs.set_defaults(func=cmd_runs)

    show = sub.add_parser("show", help="print one stored run, or a group of repeats")
    show.add_argument("run", metavar="RUN_ID", help="run id (or a unique prefix) or path of a run record, or a group id "
                                                    "(`bench --repeat N`: the group's median and min–max)")
    add_json(show, "the run record (the stable, versioned record format)")
    show.set_defaults(func=cmd_show)

    baseline = sub.add_parser("baseline", help="promote a run to baseline, or list baselines")
    baseline.add_argument("action", choices=["promote", "list"], help="promote RUN_ID, or list the baselines")
    baseline.add_argument("run", nargs="?", metavar="RUN_ID", help="run to promote (promote only)")
    baseline.add_argument("--force", action="store_true",
                          help="promote an invalid run anyway; the baseline keeps its INVALID mark and a gate "
                               "against it fails with exit 5 (default: off, refused with exit 5)")
    baseline.set_defaults(func=cmd_baseline)

    hist = sub.add_parser("history", help="stored runs as a table (pandas); export CSV/Parquet")
    _filters(hist)
    hist.add_argument("--csv", metavar="FILE", help="write the table to this .csv file (default: print it)")
    hist.add_argument("--parquet", metavar="FILE", help="write the table to this .parquet file (default: print it)")
    hist.set_defaults(func=cmd_history)

    report = sub.add_parser("report", help="write report.md and a self-contained report.html with plots")
    report.add_argument("runs", nargs="*", metavar="RUN_ID",
                        help="runs to report, or group ids (`bench --repeat N`: the group's runs with their median "
                             "and spread); runs of several engines on one workload get a side-by-side decision "
                             "view (default: the newest bench run, or the newest suite's runs; never a capacity step)")
    report.add_argument("--select", metavar="RESULT",
                        help="a stored `dbarena select` result (id, id prefix or .json path): its ranking, reasons "
                             "and capacity curves across engines, with its reference runs (default: none)")
    report.add_argument("--out", metavar="DIR", help="output directory (default: <results>/reports)")
    report.set_defaults(func=cmd_report)


def register(sub: Subcommands) -> None:
    """Add runs, show, compare, check, baseline, history and report to the `dbarena` parser."""
    _other_parsers(sub)
    _compare_parser(sub)
    _check_parser(sub)
