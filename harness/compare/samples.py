"""How many samples a percentile needs (10/(1-q) for quantile q): see harness/metrics/samples.py.

Kept here for the comparison's imports; the rule lives one layer down so that the results
layer's group tables can mark a percentile from too few samples too.
"""

from __future__ import annotations

from harness.metrics.samples import FEW, FEW_NOTE, QUANTILE, few, marked, min_samples

__all__ = ["FEW", "FEW_NOTE", "QUANTILE", "few", "marked", "min_samples"]
