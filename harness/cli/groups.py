"""`dbarena compare` when a side is a group of repeats (`bench --repeat N`).

Both sides groups: compared across repeats (harness/compare/groups.py), one line per figure,
exit 3 (REGRESSED) under --fail-on regressed|inconclusive when a figure regressed, 6
(INCONCLUSIVE) under --fail-on inconclusive when one is inconclusive or has too few runs.
One side a group: that group's median run stands in for it (said on stderr) and the runs are
compared as usual.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from harness.cli.exit_codes import ExitCode
from harness.compare.compare import comparability
from harness.compare.groups import GroupChange, compare_groups, median_run
from harness.compare.samples import FEW, FEW_NOTE
from harness.errors import UserError
from harness.results import store
from harness.results.groups import find_group
from harness.results.record import RunRecord

__all__ = ["compare_sides", "group_comparison_text", "group_or_run"]


def group_or_run(ident: str) -> tuple[str | None, list[RunRecord]]:
    """(group id, its runs in repeat order) when `ident` names a group of repeats, else (None, [the run]).

    UserError (one line) when `ident` is neither a run (id, unique prefix or .json path) nor a group.
    """
    group = find_group(ident)
    if group:
        return ident, group
    try:
        return None, [store.find_run(ident)]
    except UserError as exc:
        if str(exc).startswith("no run "):
            raise UserError(f"no run or group {ident!r} in {store.runs_dir()}; `dbarena runs` lists the runs (a group "
                            "id is the one `bench --repeat N` printed)") from None
        raise


def compare_sides(args: argparse.Namespace, min_effect: float, thresholds: bool = False) -> ExitCode | None:
    """Handle `compare` when a side names a group: the exit code when both are groups (printed here); else None,
    with a group side replaced in `args.runs` by its median run.

    Two groups are refused (UserError, one line) when their workload definitions differ (unless --force),
    and when thresholds or --junit are asked for: those gate one run, not a group, and must never be
    dropped silently.
    """
    groups = [find_group(name) for name in args.runs]
    if not any(groups):
        return None
    if len(groups) == 2 and all(groups):
        if thresholds or getattr(args, "junit", None):
            raise UserError("compare of two groups of repeats takes no --threshold or --junit (they gate one run): "
                            "compare one run of each group, or `dbarena check RUN --threshold ...`")
        comparability(groups[0][0], groups[1][0], args.force)  # different workload definitions: refused
        return _both(args, groups[0], groups[1], min_effect)
    for name, group in zip(args.runs, groups, strict=True):
        if not group:
            group_or_run(name)  # a missing run id: its error alone, before any note on the group side
    for i, group in enumerate(groups):
        if group:
            stand_in = median_run(group)
            print(f"dbarena: group {args.runs[i]}: compared by its median run {stand_in.run_id} "
                  f"({_median_note(group, stand_in)}; the other side is one run; give two groups to compare across "
                  "repeats)", file=sys.stderr)
            args.runs[i] = stand_in.run_id
    return None


def _median_note(group: list[RunRecord], stand_in: RunRecord) -> str:
    """How the stand-in was chosen: the middle (lower middle of an even count) of the valid runs by total ops/s."""
    pool = [r for r in group if r.valid] or group
    values = [r.total_throughput_ops_s for r in pool]
    which = "lower middle" if len(pool) % 2 == 0 else "middle"
    kind = "valid run(s)" if pool[0].valid else "run(s), none valid"
    return (f"{which} of {len(pool)} {kind} by total "
            f"throughput: {stand_in.total_throughput_ops_s:,.0f} ops/s; group median {statistics.median(values):,.0f}"
            " ops/s")


def _both(args: argparse.Namespace, baseline: list[RunRecord], candidate: list[RunRecord],
          min_effect: float) -> ExitCode:
    changes = compare_groups(baseline, candidate, min_effect)
    if args.json:
        print(json.dumps({"baseline": args.runs[0], "candidate": args.runs[1], "min_effect": min_effect,
                          "changes": [c.model_dump(mode="json") for c in changes]}, indent=1))
    else:
        print(group_comparison_text(args.runs[0], args.runs[1], baseline, candidate, changes, min_effect))
    verdicts = {c.verdict for c in changes}
    if args.fail_on in ("regressed", "inconclusive") and "regressed" in verdicts:
        return ExitCode.REGRESSED
    if args.fail_on == "inconclusive" and verdicts & {"inconclusive", "too few runs"}:
        return ExitCode.INCONCLUSIVE
    return ExitCode.OK


def _interval(change: GroupChange) -> str:
    return "-" if change.interval is None else f"[{change.interval[0]:+.1%}, {change.interval[1]:+.1%}]"


def group_comparison_text(base_id: str, cand_id: str, baseline: list[RunRecord], candidate: list[RunRecord],
                          changes: list[GroupChange], min_effect: float) -> str:
    """A table: per figure the two medians over the runs, the change, its 95% interval, p and the verdict."""
    lines = [f"baseline group {base_id} ({sum(r.valid for r in baseline)} valid runs) vs candidate group {cand_id} "
             f"({sum(r.valid for r in candidate)} valid runs); each run is one sample, minimum effect {min_effect:.0%}",
             f"{'operation':<16} {'figure':<7} {'baseline':>11} {'candidate':>11} {'change':>8} "
             f"{'95% interval':>18} {'p':>6}  verdict"]
    for c in changes:
        p = "-" if c.p_value is None else f"{c.p_value:.2f}"
        mark = FEW if c.few else ""
        lines.append(f"{c.operation:<16} {c.figure:<7} {c.baseline_median:>10,.0f}{mark:1} "
                     f"{c.candidate_median:>10,.0f}{mark:1} {c.change:>+8.1%} {_interval(c):>18} {p:>6}  {c.verdict}")
    if not changes:
        lines.append("no figure to compare: a side has no valid run")
    if any(c.few for c in changes):
        lines.append(FEW_NOTE + " (in at least one run of a group)")
    return "\n".join(lines)
