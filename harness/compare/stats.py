"""The statistics behind a verdict: Mann–Whitney U on per-second throughput, bootstrap
confidence intervals on latency percentiles drawn from the HDR histograms.

A change counts only when it is both larger than a minimum effect AND statistically
significant (asv's rule): big-but-noisy is "inconclusive", small-but-significant is
"unchanged".
"""

from __future__ import annotations

import math

import numpy as np
from hdrh.histogram import HdrHistogram
from scipy.stats import mannwhitneyu

from harness.metrics.histogram import decode

BOOTSTRAP_ROUNDS = 2000


def mann_whitney_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided p-value that samples a and b come from the same distribution."""
    if len(a) < 3 or len(b) < 3:
        return None
    if len(set(a) | set(b)) == 1:
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def mann_whitney_min_p(n: int, m: int) -> float:
    """The smallest two-sided p-value Mann-Whitney U's exact test can give for samples of n and m values.

    Under the null hypothesis each of the C(n+m, n) orderings of the pooled values is equally likely
    (Mann & Whitney 1947); the most extreme (U = 0 or U = nm) has one ordering each: p = 2 / C(n+m, n).
    A test at a level below it cannot reject, however large the change.
    """
    return min(1.0, 2 / math.comb(n + m, n))


def seconds_for_mann_whitney(alpha: float) -> int:
    """The fewest values a side (n = m) for which Mann-Whitney U can reach `alpha` (`mann_whitney_min_p` < alpha)."""
    n = 3
    while mann_whitney_min_p(n, n) >= alpha:
        n += 1
    return n


def histogram_distribution(histogram: HdrHistogram) -> tuple[np.ndarray, np.ndarray]:
    """(values µs, probabilities) of a histogram, for resampling."""
    values, counts = [], []
    for item in histogram.get_recorded_iterator():
        values.append(item.value_iterated_to)
        counts.append(item.count_at_value_iterated_to)
    counts_array = np.asarray(counts, dtype=float)
    return np.asarray(values, dtype=float), counts_array / counts_array.sum()


def block_bootstrap_ci(a: list[float], b: list[float], confidence: float = 0.95, seed: int = 0) -> tuple[float, float] | None:
    """CI of the relative change of the median of per-second values (seconds resampled whole).

    Resampling seconds rather than single operations keeps what varies over time inside a
    run (GC pauses, checkpoints, a noisy neighbour) in the interval; an iid resample of
    operations would call such drift significant.
    """
    if len(a) < 3 or len(b) < 3:
        return None
    rng = np.random.default_rng(seed)
    array_a, array_b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    medians_a = np.median(rng.choice(array_a, size=(BOOTSTRAP_ROUNDS, len(a))), axis=1)
    medians_b = np.median(rng.choice(array_b, size=(BOOTSTRAP_ROUNDS, len(b))), axis=1)
    changes = (medians_b - medians_a) / np.maximum(medians_a, 1.0)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(changes, [tail, 100 - tail])
    return float(low), float(high)


def _percentile_from_counts(values: np.ndarray, counts: np.ndarray, percentile: float) -> np.ndarray:
    """Percentile of each row of resampled bucket counts (rows x buckets)."""
    cumulative = np.cumsum(counts, axis=1)
    rank = np.ceil(cumulative[:, -1:] * percentile / 100.0)
    index = (cumulative < rank).sum(axis=1)
    return values[np.minimum(index, len(values) - 1)]


def bootstrap_percentile_ci(encoded_a: str, encoded_b: str, percentile: float, confidence: float = 0.95,
                            seed: int = 0) -> tuple[float, float] | None:
    """Confidence interval of the relative change (b - a) / a of a latency percentile.

    Resampling n values from a histogram is a multinomial draw over its buckets, so each
    bootstrap round costs one draw per bucket, not per operation: exact and cheap.
    """
    hist_a, hist_b = decode(encoded_a), decode(encoded_b)
    n_a, n_b = hist_a.get_total_count(), hist_b.get_total_count()
    if n_a < 20 or n_b < 20:
        return None
    rng = np.random.default_rng(seed)
    values_a, p_a = histogram_distribution(hist_a)
    values_b, p_b = histogram_distribution(hist_b)
    sample_a = _percentile_from_counts(values_a, rng.multinomial(n_a, p_a, size=BOOTSTRAP_ROUNDS), percentile)
    sample_b = _percentile_from_counts(values_b, rng.multinomial(n_b, p_b, size=BOOTSTRAP_ROUNDS), percentile)
    changes = (sample_b - sample_a) / np.maximum(sample_a, 1.0)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(changes, [tail, 100 - tail])
    return float(low), float(high)
