"""Lengths drawn from a distribution over [low, high]: YCSB's scan lengths and field lengths.

YCSB's CoreWorkload draws a scan's length from `scanlengthdistribution` over
[`minscanlength`, `maxscanlength`] (uniform by default; zipfian favours short scans) and a
string field's length from `fieldlengthdistribution` over [`minfieldlength`, `fieldlength`]
(constant by default: always `fieldlength`). Zipfian here is the exact bounded Zipf law with
YCSB's default constant 0.99, rank 0 (the most likely) being the shortest length: P(low + r) is
proportional to 1 / (r + 1) ** 0.99 — YCSB's `ZipfianGenerator(min, max)` approximates the same
law (Gray et al. 1994). Sampling inverts the cumulative table (at most `MAX_SPAN` lengths, built
once per distinct range), so the mean is exactly `mean_length`.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from functools import lru_cache
from typing import Literal

import numpy as np

LengthDistribution = Literal["constant", "uniform", "zipfian"]
ZIPF_CONSTANT = 0.99  # YCSB's ZipfianGenerator.ZIPFIAN_CONSTANT
MAX_SPAN = 1_000_000  # lengths in one range at most (a field's length is at most 1,000,000)


@lru_cache(maxsize=32)
def _cdf(span: int) -> np.ndarray:
    """Cumulative probabilities of ranks 0..span-1 of the bounded Zipf law (float64, last = 1.0)."""
    weights = 1.0 / np.arange(1, span + 1, dtype=np.float64) ** ZIPF_CONSTANT
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf


def length_pmf(low: int, high: int, distribution: LengthDistribution) -> dict[int, float]:
    """The exact probability of each length in [low, high] (a test oracle, and `mean_length`)."""
    if distribution == "constant":
        return {high: 1.0}
    span = high - low + 1
    if distribution == "uniform":
        return {low + r: 1.0 / span for r in range(span)}
    weights = 1.0 / np.arange(1, span + 1, dtype=np.float64) ** ZIPF_CONSTANT
    weights /= weights.sum()
    return {low + r: float(w) for r, w in enumerate(weights)}


def mean_length(low: int, high: int, distribution: LengthDistribution) -> float:
    """The expected length: `high` for constant, (low + high) / 2 for uniform, the Zipf mean otherwise."""
    return sum(length * p for length, p in length_pmf(low, high, distribution).items())


def length_sampler(low: int, high: int, distribution: LengthDistribution, rng: random.Random) -> Callable[[], int]:
    """A function drawing one length per call from `rng` (a scan's length, per call)."""
    _check(low, high)
    if distribution == "constant" or low == high:
        return lambda: high
    span = high - low + 1
    draw = rng.random
    if distribution == "uniform":
        return lambda: low + int(draw() * span)
    cdf = _cdf(span).tolist()
    last = span - 1
    return lambda: low + min(bisect.bisect_right(cdf, draw()), last)


def hashed_length(low: int, high: int, distribution: LengthDistribution) -> Callable[[int], int]:
    """A function of a 64-bit hash -> a length (a field's length, deterministic by seed and record)."""
    _check(low, high)
    if distribution == "constant" or low == high:
        return lambda h: high
    span = high - low + 1
    if distribution == "uniform":
        return lambda h: low + h % span
    cdf = _cdf(span).tolist()
    last = span - 1
    return lambda h: low + min(bisect.bisect_right(cdf, (h >> 11) / float(1 << 53)), last)


def hashed_lengths(low: int, high: int, distribution: LengthDistribution) -> Callable[[np.ndarray], np.ndarray]:
    """`hashed_length` over a uint64 array of hashes (the same lengths, as int64)."""
    _check(low, high)
    if distribution == "constant" or low == high:
        return lambda h: np.full(h.shape, high, dtype=np.int64)
    span = high - low + 1
    if distribution == "uniform":
        return lambda h: (h % np.uint64(span)).astype(np.int64) + low
    cdf = _cdf(span)

    def zipf(h: np.ndarray) -> np.ndarray:
        u = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
        return np.minimum(np.searchsorted(cdf, u, side="right"), span - 1).astype(np.int64) + low

    return zipf


def _check(low: int, high: int) -> None:
    if not 1 <= low <= high or high - low + 1 > MAX_SPAN:
        raise ValueError(f"lengths {low}..{high}: give 1 <= low <= high, at most {MAX_SPAN:,} lengths")
