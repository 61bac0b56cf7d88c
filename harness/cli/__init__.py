"""The `dbarena` command: one function per subcommand.

User errors print one line per problem on stderr and exit 2, without a traceback;
anything else is a harness bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.errors import SpecError, UserError


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.spec.loader import spec_files, validate_file

    files = spec_files(args.paths)
    problems = [line for path in files for line in validate_file(path)]
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"{len(files)} spec file(s) valid")
    return 1 if problems else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from harness.bench import DEFAULT_SUITE, Overrides, bench

    suite = Path(args.suite) if args.suite else (None if args.workload else DEFAULT_SUITE)
    overrides = Overrides(engine=args.engine, workload=args.workload, preset=args.preset, duration=args.duration,
                          warmup=args.warmup, users=args.users, processes=args.processes, rate=args.rate,
                          schedule=args.schedule, scale=args.scale)
    saved = bench(suite, overrides, provision=args.provision, url=args.url)
    return 3 if args.fail_on_regression and any(regressed for _, _, regressed in saved) else 0


def cmd_engines(args: argparse.Namespace) -> int:
    from harness import engines_cli

    handler: Callable[[argparse.Namespace], int] = getattr(engines_cli, f"cmd_{args.action}")
    return handler(args)


def cmd_runs(args: argparse.Namespace) -> int:
    from harness.report.terminal import table
    from harness.results import store

    rows = []
    for _path, record in store.all_runs():
        if args.engine and record.engine != args.engine:
            continue
        if args.workload and record.workload != args.workload:
            continue
        rows.append([record.run_id, record.engine, record.workload + (f":{record.preset}" if record.preset else ""),
                     f"{record.total_throughput_ops_s:,.0f}", "yes" if record.valid else "NO",
                     "yes" if record.complete else "NO"])
    if not rows:
        print("no runs stored yet; `dbarena bench` makes one")
        return 0
    print(table(rows, ["run", "engine", "workload", "ops/s", "valid", "complete"]))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from harness.report.terminal import run_summary
    from harness.results import store

    print(run_summary(store.find_run(args.run)))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from harness.compare.compare import compare
    from harness.report.comparison import comparison_table
    from harness.results import store
    from harness.results.baselines import baseline_for

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
    return 3 if args.fail_on_regression and comparison.regressions else 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from harness.results import store
    from harness.results.baselines import baseline_path, promote

    if args.action == "promote":
        if not args.run:
            raise UserError("baseline promote: give a run id (see `dbarena runs`)")
        path = promote(store.find_run(args.run))
        print(f"baseline written: {path} (commit it to share it)")
        return 0
    for path in sorted(baseline_path("x", "y").parents[1].glob("*/*.json")):
        record = store.load(path)
        print(f"{path}: {record.run_id} ({record.total_throughput_ops_s:,.0f} ops/s)")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    import pandas as pd

    from harness.results.history import export, history

    frame = history(args.engine, args.workload)
    if args.csv:
        export(frame, Path(args.csv))
        print(f"{len(frame)} rows written to {args.csv}")
    elif args.parquet:
        export(frame, Path(args.parquet))
        print(f"{len(frame)} rows written to {args.parquet}")
    elif frame.empty:
        print("no runs match")
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 12):
            print(frame[["started_at", "run_id", "engine", "workload", "operation", "throughput_ops_s",
                         "p50_us", "p99_us", "valid"]].to_string(index=False))
    return 0


def cmd_capacity(args: argparse.Namespace) -> int:
    from harness.bench import Overrides, single_run
    from harness.recommend.capacity import save_capacity, search_capacity
    from harness.recommend.slo import parse_slo
    from harness.report.terminal import table
    from harness.runner.progress import Progress
    from harness.spec.suite import CapacitySearch

    slo = parse_slo(args.slo)
    overrides = Overrides(engine=args.engine, workload=args.workload, preset=args.preset, duration=args.step_duration,
                          warmup=args.warmup, users=args.users, processes=args.processes, scale=args.scale)
    search = CapacitySearch(start_rate=args.start_rate, max_rate=args.max_rate, refine=args.refine)
    progress = Progress()
    with single_run(overrides, args.provision, args.url, progress) as base:
        result = search_capacity(base, slo, search, progress)
    path = save_capacity(result)
    rows = [[f"{p.target_rate:,.0f}", f"{p.achieved_ops_s:,.0f}", str(p.p50_us), str(p.p99_us), str(p.p999_us),
             "yes" if p.slo_met else "no"] for p in result.curve]
    print(table(rows, ["offered ops/s", "achieved", "p50 µs", "p99 µs", "p99.9 µs", f"meets {result.slo}"]))
    found = f"{result.capacity_ops_s:,.0f} ops/s" if result.capacity_ops_s else "none (missed at the lowest rate)"
    print(f"capacity under {result.slo}: {found}\ncapacity result: {path}")
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    from harness.recommend.select import ranking_text, run_selection
    from harness.spec.loader import load_selection

    result = run_selection(load_selection(Path(args.selection)), provision=args.provision)
    print(ranking_text(result))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from harness.report.build import write_report
    from harness.results import store

    if args.runs:
        records = [store.find_run(run) for run in args.runs]
    else:
        stored = store.all_runs()
        if not stored:
            raise UserError("no runs stored yet; `dbarena bench` makes one")
        records = [stored[-1][1]]
    out = Path(args.out) if args.out else store.results_dir() / "reports"
    md_path, html_path = write_report(records, out)
    print(f"report written: {html_path} and {md_path}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from harness.bench import Overrides, single_run
    from harness.recommend.sweep import parse_sizes, sweep, sweep_plot, sweep_table
    from harness.report.terminal import table
    from harness.results import store
    from harness.runner.progress import Progress

    sizes = parse_sizes(args.scales)
    overrides = Overrides(engine=args.engine, workload=args.workload, preset=args.preset, duration=args.duration,
                          warmup=args.warmup, users=args.users, processes=args.processes, rate=args.rate)
    progress = Progress()
    with single_run(overrides, args.provision, args.url, progress) as base:
        records = sweep(base, sizes, progress)
    header, rows = sweep_table(records)
    print(table(rows, header))
    plot = sweep_plot(records, store.results_dir() / "sweeps" / f"{records[0].run_id}-sweep.png")
    print(f"plot: {plot}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dbarena", description="Polyglot persistence benchmarking harness.")
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check workload and suite files")
    validate.add_argument("paths", nargs="+", help="spec files or directories")
    validate.set_defaults(func=cmd_validate)

    bench = sub.add_parser("bench", help="run a suite, or one workload on one engine")
    bench.add_argument("--suite", help="suite file (default benchmarks/default.yaml unless --workload)")
    bench.add_argument("--engine", help="engine to run (overrides the suite's)")
    bench.add_argument("--workload", help="workload name or path (runs it alone)")
    bench.add_argument("--preset", help="workload preset, e.g. ycsb-a")
    bench.add_argument("--duration", help="measured duration, e.g. 30s")
    bench.add_argument("--warmup", help="warm-up before measuring, e.g. 5s")
    bench.add_argument("--users", type=int, help="concurrent users (connections)")
    bench.add_argument("--processes", type=int, help="worker processes")
    bench.add_argument("--rate", type=float, help="open-loop target rate in ops/s (0 = closed loop)")
    bench.add_argument("--schedule", choices=["poisson", "deterministic"], help="open-loop arrival schedule")
    bench.add_argument("--scale", type=float, help="multiply record counts")
    bench.add_argument("--provision", default="auto", choices=["auto", "external", "native", "compose"])
    bench.add_argument("--url", help="engine URL (implies --provision external under auto)")
    bench.add_argument("--fail-on-regression", action="store_true", help="exit 3 when a run regressed vs its baseline")
    bench.set_defaults(func=cmd_bench)

    engines = sub.add_parser("engines", help="list, start, stop native engines")
    engines.add_argument("action", choices=["list", "up", "down", "status", "build", "matrix"])
    engines.add_argument("name", nargs="?", help="engine (up/down/status/build; all when omitted)")
    engines.add_argument("--port", type=int, help="port for `up` (default: the engine's usual one)")
    engines.set_defaults(func=cmd_engines)

    runs = sub.add_parser("runs", help="list stored runs")
    runs.add_argument("--engine")
    runs.add_argument("--workload")
    runs.set_defaults(func=cmd_runs)

    compare = sub.add_parser("compare", help="compare two runs, or one run with its baseline")
    compare.add_argument("runs", nargs="+", help="BASELINE CANDIDATE, or CANDIDATE alone (vs its baseline)")
    compare.add_argument("--threshold", type=float, default=0.05, help="minimum relative effect (default 0.05)")
    compare.add_argument("--force", action="store_true", help="compare runs of different workload definitions")
    compare.add_argument("--fail-on-regression", action="store_true", help="exit 3 when anything regressed")
    compare.set_defaults(func=cmd_compare)

    baseline = sub.add_parser("baseline", help="promote a run to baseline, or list baselines")
    baseline.add_argument("action", choices=["promote", "list"])
    baseline.add_argument("run", nargs="?")
    baseline.set_defaults(func=cmd_baseline)

    hist = sub.add_parser("history", help="stored runs as a table (pandas); export CSV/Parquet")
    hist.add_argument("--engine")
    hist.add_argument("--workload")
    hist.add_argument("--csv", help="write to this .csv")
    hist.add_argument("--parquet", help="write to this .parquet")
    hist.set_defaults(func=cmd_history)

    capacity = sub.add_parser("capacity", help="highest open-loop rate whose latency meets an SLO")
    capacity.add_argument("--engine", required=True)
    capacity.add_argument("--workload", required=True)
    capacity.add_argument("--preset")
    capacity.add_argument("--slo", required=True, help="e.g. p99=5ms")
    capacity.add_argument("--start-rate", type=float, default=100.0)
    capacity.add_argument("--max-rate", type=float, default=100_000.0)
    capacity.add_argument("--refine", type=int, default=2, help="bisection steps after the first miss")
    capacity.add_argument("--step-duration", default="10s", help="measured duration of each step")
    capacity.add_argument("--warmup", default="2s")
    capacity.add_argument("--users", type=int, default=16)
    capacity.add_argument("--processes", type=int, default=2)
    capacity.add_argument("--scale", type=float)
    capacity.add_argument("--provision", default="auto", choices=["auto", "external", "native", "compose"])
    capacity.add_argument("--url")
    capacity.set_defaults(func=cmd_capacity)

    select = sub.add_parser("select", help="rank engines for a use case (benchmarks/selection/*.yaml)")
    select.add_argument("selection", help="selection file")
    select.add_argument("--provision", default="auto", choices=["auto", "external", "native", "compose"])
    select.set_defaults(func=cmd_select)

    sweep_cmd = sub.add_parser("sweep", help="one workload at several data volumes")
    sweep_cmd.add_argument("workload")
    sweep_cmd.add_argument("--engine", required=True)
    sweep_cmd.add_argument("--scales", required=True, help="record counts, e.g. 10k,100k,1m")
    sweep_cmd.add_argument("--preset")
    sweep_cmd.add_argument("--duration", default="10s")
    sweep_cmd.add_argument("--warmup", default="2s")
    sweep_cmd.add_argument("--users", type=int, default=8)
    sweep_cmd.add_argument("--processes", type=int, default=2)
    sweep_cmd.add_argument("--rate", type=float, help="open-loop target rate (default closed loop)")
    sweep_cmd.add_argument("--provision", default="auto", choices=["auto", "external", "native", "compose"])
    sweep_cmd.add_argument("--url")
    sweep_cmd.set_defaults(func=cmd_sweep)

    show = sub.add_parser("show", help="print one stored run")
    show.add_argument("run", help="run id (or a unique prefix) or path")
    show.set_defaults(func=cmd_show)

    report = sub.add_parser("report", help="write report.md and a self-contained report.html with plots")
    report.add_argument("runs", nargs="*", metavar="RUN_ID", help="runs to report (default: the newest run)")
    report.add_argument("--out", help="output directory (default: <results>/reports)")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SpecError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"dbarena: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dbarena: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
