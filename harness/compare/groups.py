"""Comparing two groups of repeated runs (`bench --repeat N` on each side): the runs are the samples.

Each run of a group gives one value per figure (an operation's throughput, its p99); a change
between groups is judged on those per-run values, so run-to-run noise (placement, caches,
neighbours) is inside the interval, which a comparison of two single runs cannot see.

Per figure: the relative change of the medians, a bootstrap interval of that change over the
runs (`stats.block_bootstrap_ci` with each run as one block, 95%), and Mann–Whitney's p over the
runs (`stats.mann_whitney_p`). Verdict, asv's rule: "unchanged" when the interval lies inside
±min_effect; "regressed"/"improved" when the interval excludes 0, the median change is beyond the
minimum effect AND p < ALPHA; otherwise "inconclusive"; "too few runs" under 3 valid runs a side;
"too few samples" (not compared, as `compare` does for one run each) when a run of either group
measured a percentile from fewer samples than it needs (harness/metrics/samples.py).
A bootstrap over 3 values is overconfident (three runs all above three others always give an
interval that excludes 0), so significance is required too: with 3 runs a side Mann–Whitney's
smallest two-sided p is 0.1, so showing a change takes at least 4 runs a side (smallest p 0.029).
"""

from __future__ import annotations

import statistics

from harness.compare.stats import block_bootstrap_ci, mann_whitney_p
from harness.models import Frozen
from harness.results.groups import GroupStat, group_stats
from harness.results.record import RunRecord

__all__ = ["TOO_FEW", "GroupChange", "compare_groups", "median_run"]

CONFIDENCE = 0.95
ALPHA = 0.05  # Mann–Whitney significance a change needs besides its interval
TOO_FEW = "too few samples"  # a p99 from fewer than 1,000 samples (10/(1-q)) in a run of either group


class GroupChange(Frozen):
    """One figure of one operation, baseline group against candidate group."""

    operation: str
    figure: str  # "ops/s" (higher is better) or "p99 µs" (lower is better)
    baseline_median: float
    candidate_median: float
    change: float  # (candidate − baseline) / baseline of the medians
    interval: tuple[float, float] | None  # 95% bootstrap interval of the change; None under 3 runs a side
    p_value: float | None  # Mann–Whitney over the runs; None under 3 runs a side
    verdict: str  # unchanged | regressed | improved | inconclusive | too few runs | too few samples
    few: bool = False  # a side's percentile came from too few samples in some run: marked, not compared


def _verdict(figure: str, change: float, interval: tuple[float, float] | None, p: float | None,
             min_effect: float) -> str:
    if interval is None or p is None:
        return "too few runs"
    low, high = interval
    if -min_effect <= low and high <= min_effect:
        return "unchanged"
    if (low > 0 or high < 0) and abs(change) > min_effect and p < ALPHA:
        worse = change < 0 if figure == "ops/s" else change > 0
        return "regressed" if worse else "improved"
    return "inconclusive"


def _change(base: GroupStat, cand: GroupStat, min_effect: float) -> GroupChange:
    a, b = list(base.samples), list(cand.samples)
    change = (cand.median - base.median) / max(base.median, 1.0)
    if base.few or cand.few:  # a percentile from too few samples in some run: shown (marked), never compared
        return GroupChange(operation=base.operation, figure=base.figure, baseline_median=base.median,
                           candidate_median=cand.median, change=change, interval=None, p_value=None,
                           verdict=TOO_FEW, few=True)
    interval, p = block_bootstrap_ci(a, b, CONFIDENCE), mann_whitney_p(a, b)
    return GroupChange(operation=base.operation, figure=base.figure, baseline_median=base.median,
                       candidate_median=cand.median, change=change, interval=interval, p_value=p,
                       verdict=_verdict(base.figure, change, interval, p, min_effect))


def compare_groups(baseline: list[RunRecord], candidate: list[RunRecord], min_effect: float = 0.05) -> list[GroupChange]:
    """Every figure both groups have (valid runs only), baseline against candidate."""
    base = {(s.operation, s.figure): s for s in group_stats(baseline)}
    cand = {(s.operation, s.figure): s for s in group_stats(candidate)}
    return [_change(base[key], cand[key], min_effect) for key in base if key in cand]


def median_run(records: list[RunRecord]) -> RunRecord:
    """The valid run whose total throughput is the group's median (the lower middle for an even count); any run
    when none is valid: the group's stand-in when the other side of a comparison is one run."""
    pool = [r for r in records if r.valid] or records
    middle = statistics.median_low([r.total_throughput_ops_s for r in pool])
    return next(r for r in pool if r.total_throughput_ops_s == middle)
