"""The statistics behind a verdict: Mann–Whitney U on per-second throughput, bootstrap
confidence intervals on latency percentiles drawn from the HDR histograms.

A change counts only when it is both larger than a minimum effect AND statistically
significant (asv's rule): big-but-noisy is "inconclusive", small-but-significant is
"unchanged".
"""

from __future__ import annotations

import numpy as np
from hdrh.histogram import HdrHistogram
from scipy.stats import mannwhitneyu

from harness.metrics.histogram import decode

BOOTSTRAP_ROUNDS = 300
BOOTSTRAP_MAX_SAMPLE = 20_000  # per draw; smaller draws only widen the interval (conservative)


def mann_whitney_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided p-value that samples a and b come from the same distribution."""
    if len(a) < 3 or len(b) < 3:
        return None
    if len(set(a) | set(b)) == 1:
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def histogram_distribution(histogram: HdrHistogram) -> tuple[np.ndarray, np.ndarray]:
    """(values µs, probabilities) of a histogram, for resampling."""
    values, counts = [], []
    for item in histogram.get_recorded_iterator():
        values.append(item.value_iterated_to)
        counts.append(item.count_at_value_iterated_to)
    counts_array = np.asarray(counts, dtype=float)
    return np.asarray(values, dtype=float), counts_array / counts_array.sum()


def bootstrap_percentile_ci(encoded_a: str, encoded_b: str, percentile: float, confidence: float = 0.95,
                            seed: int = 0) -> tuple[float, float] | None:
    """Confidence interval of the relative change (b - a) / a of a latency percentile."""
    hist_a, hist_b = decode(encoded_a), decode(encoded_b)
    n_a, n_b = hist_a.get_total_count(), hist_b.get_total_count()
    if n_a < 20 or n_b < 20:
        return None
    rng = np.random.default_rng(seed)
    values_a, p_a = histogram_distribution(hist_a)
    values_b, p_b = histogram_distribution(hist_b)
    size_a, size_b = min(n_a, BOOTSTRAP_MAX_SAMPLE), min(n_b, BOOTSTRAP_MAX_SAMPLE)
    changes = np.empty(BOOTSTRAP_ROUNDS)
    for i in range(BOOTSTRAP_ROUNDS):
        sample_a = np.percentile(rng.choice(values_a, size=size_a, p=p_a), percentile)
        sample_b = np.percentile(rng.choice(values_b, size=size_b, p=p_b), percentile)
        changes[i] = (sample_b - sample_a) / sample_a if sample_a else 0.0
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(changes, [tail, 100 - tail])
    return float(low), float(high)
