"""How many samples a percentile needs before it means something: 10/(1-q) for quantile q, and its mark.

p50 needs 20, p90 100, p99 1,000, p99.9 10,000 (with fewer, the tail percentile is a handful
of the slowest values, or the maximum). `compare` does not compare a percentile below this,
thresholds cannot be checked on it, and every table that shows one (terminal, report.md,
report.html, the decision report, group tables) marks it with FEW and says FEW_NOTE under it.
No scipy here: `show` imports it.
"""

from __future__ import annotations

import math

__all__ = ["FEW", "FEW_NOTE", "QUANTILE", "few", "marked", "min_samples"]

QUANTILE = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "p999": 0.999}
FEW = "*"  # marks a percentile from fewer samples than it needs
FEW_NOTE = (f"{FEW} from fewer than 10/(1-q) samples (p50: 20, p90: 100, p99: 1,000, p99.9: 10,000): "
            "a rough figure, not compared by `compare`")


def min_samples(metric: str) -> int:
    """Samples a percentile needs: ceil(10/(1-q)) for quantile q (p99: 1,000); KeyError for another metric."""
    return math.ceil(10 / (1 - QUANTILE[metric]) - 1e-9)


def few(count: int, metric: str) -> bool:
    """Whether `count` samples are too few for percentile `metric` ('p50'..'p999'); False for max, mean and others."""
    return metric in QUANTILE and count < min_samples(metric)


def marked(cell: str, count: int, metric: str) -> str:
    """`cell` (a shown percentile) with FEW appended when `count` samples are too few for `metric`."""
    return cell + FEW if few(count, metric) and cell not in ("-", "n/a", "") else cell
