"""How many samples a percentile needs before it means something: 10/(1-q) for quantile q.

p50 needs 20, p90 100, p99 1,000, p99.9 10,000 (with fewer, the tail percentile is a handful
of the slowest values, or the maximum). `compare` does not compare a percentile below this,
thresholds cannot be checked on it, and `show` marks it. No scipy here: `show` imports it.
"""

from __future__ import annotations

import math

__all__ = ["QUANTILE", "min_samples"]

QUANTILE = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "p999": 0.999}


def min_samples(metric: str) -> int:
    """Samples a percentile needs: ceil(10/(1-q)) for quantile q (p99: 1,000); KeyError for another metric."""
    return math.ceil(10 / (1 - QUANTILE[metric]) - 1e-9)
