"""`dbarena bench | capacity | sweep | select`: the commands that run benchmarks, and what they print.

The studies (harness/studies) run and save; everything shown on stdout is decided here.
Progress lines go to stderr through the studies' `Progress`. The studies, the runner and
the report modules are imported by the command that needs them, so `dbarena --help` or
`dbarena validate` never load pandas or matplotlib.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.exit_codes import ExitCode
from harness.cli.options import (
    Subcommands,
    add_json,
    add_limits,
    add_load_shape,
    add_placement,
    add_provisioning,
    add_regression_gate,
    add_run_shape,
    check_address,
    count_value,
    overrides_from,
    placement_from,
    positive_value,
    time_value,
)
from harness.errors import SpecError, UserError
from harness.paths import default_suite, results_dir

if TYPE_CHECKING:
    from harness.compare.gate import Gate
    from harness.results.record import RunRecord
    from harness.studies.bench import BenchRun
    from harness.studies.models import CapacityResult, CurvePoint

__all__ = ["cmd_bench", "cmd_capacity", "cmd_select", "cmd_sweep", "cmd_worker", "register"]


def verdict_text(done: BenchRun) -> str:
    """What `bench` says about a run against its committed baseline, and its thresholds."""
    from harness.report.comparison import checks_text, comparison_table
    from harness.results.baselines import baseline_name
    from harness.studies.bench import INTERRUPTED_NOT_COMPARED

    record = done.record
    if done.comparison is not None:
        text = comparison_table(done.comparison)
    elif done.not_compared == INTERRUPTED_NOT_COMPARED:
        text = INTERRUPTED_NOT_COMPARED
    elif done.not_compared is not None:
        text = f"not compared with the baseline: {done.not_compared}"
    else:
        text = f"no baseline for {baseline_name(record)}"
        if record.valid:  # promote refuses an invalid run: the hint would lead nowhere
            text += f"; `dbarena baseline promote {record.run_id}` makes this one"
    return "\n".join(filter(None, [text, checks_text(done.checks)]))


def _gate_of(done: BenchRun) -> Gate:
    from harness.compare.gate import Gate

    return Gate(done.record, done.comparison, done.checks, done.not_compared, done.baseline_invalid)


def cmd_bench(args: argparse.Namespace) -> ExitCode:
    """Run, print each run, and exit with the gate's worst failure (an invalid run is never 0)."""
    from harness.cli.gate import check_junit, exit_code, min_effect_from, thresholds_from, write_junit
    from harness.report.terminal import run_summary
    from harness.results.groups import group_text
    from harness.studies.bench import bench
    from harness.studies.runs import check_writable

    suite = Path(args.suite) if args.suite else (None if args.workload else default_suite())
    min_effect, expressions = min_effect_from(args)
    thresholds = thresholds_from(expressions)
    check_junit(args)  # the outputs are checked before the run, not refused after it
    check_writable(results_dir())  # before provisioning, too (each run checks again)
    gates = []
    try:
        for done in bench(suite, overrides_from(args), provision=args.provision, url=args.url,
                          placement=placement_from(args), thresholds=thresholds, min_effect=min_effect):
            print(run_summary(done.record))
            print(f"run record: {done.path}")
            print(verdict_text(done))
            if done.group:
                print(group_text(list(done.group)))
            gates.append(_gate_of(done))
    finally:  # an interrupted suite still leaves the gate's file for what ran
        if gates:
            write_junit(args, gates)
    return exit_code(gates, args.fail_on)


def _step_mark(point: CurvePoint) -> str:
    if point.slo_met:
        return "yes"
    if point.client_bound:
        return "no (client-bound)"
    return "no (INVALID)" if not point.valid else "no"


def _stored_step(run_id: str) -> RunRecord | None:
    """A capacity step's stored record (how many samples its percentiles had), None when it cannot be read."""
    from harness.results import store

    try:
        return store.find_run(run_id)
    except UserError:
        return None


def capacity_text(result: CapacityResult, path: Path) -> str:
    """The curve, the capacity (or that the search was client-bound) and where the result is saved."""
    from harness.compare.samples import FEW, FEW_NOTE
    from harness.report.terminal import step_cell, table
    from harness.studies.capacity import client_bound_text

    steps = {p.run_id: _stored_step(p.run_id) for p in result.curve}
    rows = [[f"{p.target_rate:,.0f}", f"{p.achieved_ops_s:,.0f}",
             *(step_cell(str(getattr(p, f"{m}_us")), m, steps[p.run_id]) for m in ("p50", "p99", "p999")),
             _step_mark(p)] for p in result.curve]
    lowest = min((p.target_rate for p in result.curve), default=0.0)
    found = (f"{result.capacity_ops_s:,.0f} ops/s" if result.capacity_ops_s
             else f"below {lowest:,.0f} ops/s (missed even at the lowest rate tried)")
    lines = [table(rows, ["offered ops/s", "achieved", "p50 µs", "p99 µs", "p99.9 µs", f"meets {result.slo}"])]
    if any(cell.endswith(FEW) for row in rows for cell in row[2:5]):
        lines.append(FEW_NOTE + " (of the step's slowest operation)")
    lines += [f"invalid step at {p.target_rate:,.0f} ops/s (counted as missed): {'; '.join(p.invalid_reasons)}"
              for p in result.curve if not p.valid]
    bound = client_bound_text(result)
    lines.append(bound if bound is not None else f"capacity under {result.slo}: {found}")
    lines.append(f"capacity result: {path}")
    return "\n".join(lines)


def _json_out(data: dict[str, object]) -> None:
    """JSON on stdout, nothing else (progress is on stderr)."""
    import json

    print(json.dumps(data, indent=1))


def cmd_capacity(args: argparse.Namespace) -> ExitCode:
    from harness.runner.progress import Progress
    from harness.spec.suite import CapacitySearch
    from harness.studies.capacity import save_capacity, search_capacity
    from harness.studies.runs import single_run
    from harness.studies.slo import parse_slo

    slo = parse_slo(args.slo)
    overrides = overrides_from(args, duration=args.step_duration)
    if args.start_rate > args.max_rate:
        raise UserError(f"--start-rate {args.start_rate:g} is above --max-rate {args.max_rate:g} ops/s; "
                        "give a start rate at or below the maximum")
    search = CapacitySearch(start_rate=args.start_rate, max_rate=args.max_rate, refine=args.refine)
    progress = Progress()
    with single_run(overrides, args.provision, args.url, progress, placement_from(args)) as base:
        result = search_capacity(base, slo, search, progress)
    path = save_capacity(result)
    if args.json:
        below = None if result.capacity_ops_s else min((p.target_rate for p in result.curve), default=None)
        _json_out({**result.model_dump(mode="json"), "capacity_below_ops_s": below, "path": str(path)})
    else:
        print(capacity_text(result, path))
    return ExitCode.OK


def cmd_sweep(args: argparse.Namespace) -> ExitCode:
    from harness.report.terminal import table
    from harness.runner.progress import Progress
    from harness.studies.runs import single_run
    from harness.studies.sweep import parse_sizes, sweep, sweep_plot, sweep_plot_path, sweep_table

    sizes = parse_sizes(args.scales)
    progress = Progress()
    with single_run(overrides_from(args), args.provision, args.url, progress, placement_from(args),
                    check_data=False) as base:  # each size is checked and said by the sweep
        records = sweep(base, sizes, progress, override_limits=args.override_limits)
    header, rows = sweep_table(records)
    print(table(rows, header))
    print(f"plot: {sweep_plot(records, sweep_plot_path(records))}")
    return ExitCode.OK


def cmd_select(args: argparse.Namespace) -> ExitCode:
    from harness.spec.loader import load_selection
    from harness.studies.runs import selection_problems
    from harness.studies.select import ranking_text, run_selection

    selection = load_selection(Path(args.selection))
    if problems := selection_problems(selection, args.selection):  # the same lines `dbarena validate` prints
        raise SpecError(problems)
    result = run_selection(selection, provision=args.provision,
                           placement=placement_from(args), override_limits=args.override_limits,
                           repeats=args.repeats)
    if args.json:
        _json_out(result.model_dump(mode="json"))
    else:
        print(ranking_text(result))
    return ExitCode.OK


def _bench_parser(sub: Subcommands) -> None:
    parser = sub.add_parser("bench", help="run a suite, or one workload on one engine")
    parser.add_argument("--suite", metavar="FILE",
                        help="suite file (default: <home>/benchmarks/default.yaml, unless --workload is given)")
    parser.add_argument("--engine", metavar="NAME", help="engine to run, e.g. redis (default: the suite's, else postgres)")
    parser.add_argument("--workload", metavar="NAME_OR_FILE",
                        help="workload name under <home>/workloads/ or a file; runs it alone, without the suite "
                             "(default: the suite's runs)")
    add_run_shape(parser)
    parser.add_argument("--repeat", metavar="N", type=count_value(1, 50, "repeats"),
                        help="run each configuration N times, 1 to 50, as one group: N run records sharing a group "
                             "id, then the group's median and min–max per operation (`dbarena show GROUP`, "
                             "`dbarena compare GROUP GROUP`) (default: the suite run's `repeat`, else 1)")
    add_load_shape(parser)
    add_provisioning(parser)
    add_placement(parser)
    add_limits(parser)
    add_regression_gate(parser, "a run regressed against its baseline", min_effect=True)
    parser.set_defaults(func=cmd_bench)


def _capacity_parser(sub: Subcommands) -> None:
    parser = sub.add_parser("capacity", help="highest open-loop rate whose latency meets an SLO")
    parser.add_argument("--engine", metavar="NAME", required=True, help="engine to search (required)")
    parser.add_argument("--workload", metavar="NAME_OR_FILE", required=True,
                        help="workload name under <home>/workloads/ or a file (required)")
    parser.add_argument("--slo", required=True, help="latency bound every operation must meet, e.g. p99=5ms "
                                                     "(percentiles p50, p90, p99, p999; units us, ms, s; required)")
    parser.add_argument("--start-rate", metavar="OPS_S", type=positive_value("ops/s"), default=100.0,
                        help="first target rate in ops/s, above 0 (default: 100)")
    parser.add_argument("--max-rate", metavar="OPS_S", type=positive_value("ops/s"), default=100_000.0,
                        help="stop doubling above this rate in ops/s, at least --start-rate (default: 100000)")
    parser.add_argument("--refine", metavar="N", type=count_value(0, 8, "bisection steps"), default=2,
                        help="bisection steps after the first miss, 0 to 8 (default: 2)")
    parser.add_argument("--step-duration", metavar="TIME", type=time_value, default="10s",
                        help="measured duration of each step: seconds or 30s, 1m (default: 10s)")
    add_run_shape(parser, defaults={"warmup": "2s", "users": 16, "processes": 2},
                  omit=("duration", "rate", "schedule"), suite=False)
    add_provisioning(parser)
    add_placement(parser)
    add_limits(parser)
    add_json(parser, "the capacity result (the stored format, plus its path)")
    parser.set_defaults(func=cmd_capacity)


def _sweep_parser(sub: Subcommands) -> None:
    parser = sub.add_parser("sweep", help="one workload at several data volumes")
    parser.add_argument("workload", metavar="WORKLOAD", help="workload name under <home>/workloads/ or a file")
    parser.add_argument("--engine", metavar="NAME", required=True, help="engine to run (required)")
    parser.add_argument("--scales", metavar="COUNTS", required=True,
                        help="record counts of the first entity, comma-separated, e.g. 10k,100k,1m (required)")
    add_run_shape(parser, defaults={"duration": "10s", "warmup": "2s", "users": 8, "processes": 2},
                  omit=("schedule", "scale"), suite=False)
    add_load_shape(parser)
    add_provisioning(parser)
    add_placement(parser)
    add_limits(parser)
    parser.set_defaults(func=cmd_sweep)


def _select_parser(sub: Subcommands) -> None:
    parser = sub.add_parser("select", help="rank engines for a use case (benchmarks/selection/*.yaml)")
    parser.add_argument("selection", metavar="FILE", help="selection file, e.g. benchmarks/selection/user-accounts.yaml")
    parser.add_argument("--repeats", metavar="N", type=count_value(1, 20, "rounds"), default=3,
                        help="rounds, 1 to 20: each runs every engine's reference run and capacity search in turn "
                             "(engines interleaved); the capacity is the median over the rounds with its range, and "
                             "the ranking a bootstrap probability over them (default: 3)")
    add_provisioning(parser, url=False)
    add_placement(parser)
    add_limits(parser)
    add_json(parser, "the selection result (the stored format)")
    parser.set_defaults(func=cmd_select)


def cmd_worker(args: argparse.Namespace) -> ExitCode:
    """Serve a master as a load worker, in a fresh process whose first import is Locust (gevent first)."""
    check_address("--master", args.master)
    os.execv(sys.executable, [sys.executable, "-m", "harness.runner.worker", "--master", args.master])
    return ExitCode.OK  # not reached


def _worker_parser(sub: Subcommands) -> None:
    parser = sub.add_parser("worker", help="serve a master as a load worker (on a load host)")
    parser.add_argument("--master", metavar="HOST:PORT", required=True,
                        help="the master's address: the host running `dbarena bench --expect-workers N "
                             "--master-bind 0.0.0.0:PORT` (required)")
    parser.set_defaults(func=cmd_worker)


def register(sub: Subcommands) -> None:
    """Add bench, capacity, select, sweep and worker to the `dbarena` parser."""
    _bench_parser(sub)
    _capacity_parser(sub)
    _select_parser(sub)
    _sweep_parser(sub)
    _worker_parser(sub)
