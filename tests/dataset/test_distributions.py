"""Key choosers and the generator's Zipf draws follow their exact pmf (chi-square, fixed seeds).

Each expected pmf is written out here from its definition — zipf P(rank r) ∝ (r + 1)^-θ,
uniform, YCSB hotspot — not taken from the code under test. Zipfian and hotspot ranks map
to positions by the fixed bijection `Scramble(capacity)` (checked to be one in
test_keys.py); a position at or past the current size is an item not inserted yet, so the
pmf over positions is the item pmf restricted to existing positions and renormalised. Every
case is drawn before inserts (80% of the capacity exists) and after (all of it), from the
same chooser: popularity per rank must not change while the key space grows.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy.stats import chisquare

from harness.dataset.generate import RecordFactory, ReferenceTarget, mix64, salt_of, vocabulary, zipf_word
from harness.dataset.keys import Hotspot, KeyChooser, Latest, Uniform, Zipfian
from harness.dataset.zipf import Scramble, ZipfSampler
from harness.spec.models import Entity, IntField, RefField

DRAWS = 20_000
MIN_EXPECTED = 20.0  # expected count per chi-square bin
P_FLOOR = 1e-3  # fixed seeds: deterministic; a correct sampler sits far above this
SIZES = (10, 1_000, 100_000)
THETAS = (0.5, 0.99, 1.0, 1.2, 2.0)
HOT_FRACTION, HOT_SHARE = 0.2, 0.8


def zipf_pmf(n: int, theta: float) -> np.ndarray:
    weights = np.arange(1, n + 1, dtype=np.float64) ** -theta
    return weights / weights.sum()


def chi2_pvalue(observed: np.ndarray, pmf: np.ndarray) -> float:
    """Chi-square of counts per category against a pmf, merging consecutive categories into bins
    of >= MIN_EXPECTED expected draws (categories in the pmf's order: by rank for skewed ones)."""
    total = observed.sum()
    expected = pmf * total
    assert observed[pmf == 0].sum() == 0, "draws on categories of probability 0"
    starts = np.cumsum(expected) - expected
    bins = np.floor(starts / MIN_EXPECTED).astype(np.int64)
    bins = np.unique(bins, return_inverse=True)[1]
    obs = np.bincount(bins, weights=observed).astype(np.float64)
    exp = np.bincount(bins, weights=expected)
    if len(exp) > 1 and exp[-1] < MIN_EXPECTED:  # the tail bin may be short: merge it
        obs[-2] += obs[-1]
        exp[-2] += exp[-1]
        obs, exp = obs[:-1], exp[:-1]
    if len(exp) < 2:
        return 1.0
    return float(chisquare(obs, exp * (obs.sum() / exp.sum())).pvalue)


def inverse_scramble(capacity: int) -> np.ndarray:
    """position -> item (rank) of the chooser's fixed bijection."""
    positions = Scramble(capacity).array(np.arange(capacity))
    inverse = np.empty(capacity, dtype=np.int64)
    inverse[positions] = np.arange(capacity)
    return inverse


def restricted(item_pmf: np.ndarray, capacity: int, size: int) -> np.ndarray:
    """The item pmf over items whose scrambled position exists (< size), renormalised."""
    exists = Scramble(capacity).array(np.arange(capacity)) < size
    pmf = np.where(exists, item_pmf, 0.0)
    return pmf / pmf.sum()


def draws(chooser: KeyChooser, size: int) -> np.ndarray:
    out = np.fromiter((chooser.next(size) for _ in range(DRAWS)), dtype=np.int64, count=DRAWS)
    assert out.min() >= 0 and out.max() < size
    return out


def phases(capacity: int) -> tuple[int, int]:
    """(size before inserts, size after): 80% of the item space loaded, then all of it."""
    return max(1, int(capacity * 0.8)), capacity


@pytest.mark.parametrize("capacity", SIZES)
def test_uniform(capacity: int) -> None:
    chooser = Uniform(random.Random(capacity))
    for size in phases(capacity):
        counts = np.bincount(draws(chooser, size), minlength=size)
        assert chi2_pvalue(counts, np.full(size, 1.0 / size)) > P_FLOOR


@pytest.mark.parametrize("capacity", SIZES)
@pytest.mark.parametrize("theta", THETAS)
def test_zipfian_popularity_is_by_rank_before_and_after_inserts(theta: float, capacity: int) -> None:
    chooser = Zipfian(random.Random(int(theta * 100) + capacity), theta, capacity=capacity)
    to_rank = inverse_scramble(capacity)
    for size in phases(capacity):
        ranks = to_rank[draws(chooser, size)]
        pmf = restricted(zipf_pmf(capacity, theta), capacity, size)
        assert chi2_pvalue(np.bincount(ranks, minlength=capacity), pmf) > P_FLOOR, (theta, size)


@pytest.mark.parametrize("capacity", SIZES)
def test_latest_is_zipfian_on_recency_over_the_current_size(capacity: int) -> None:
    chooser = Latest(random.Random(7 + capacity), 0.99, capacity=capacity)
    for size in phases(capacity):
        recency = size - 1 - draws(chooser, size)  # 0: the newest record
        assert chi2_pvalue(np.bincount(recency, minlength=size), zipf_pmf(size, 0.99)) > P_FLOOR, size


@pytest.mark.parametrize("capacity", SIZES)
def test_hotspot_sends_its_share_to_a_fixed_hot_set(capacity: int) -> None:
    chooser = Hotspot(random.Random(11 + capacity), HOT_FRACTION, HOT_SHARE, capacity=capacity)
    hot = max(1, int(capacity * HOT_FRACTION))
    item_pmf = np.where(np.arange(capacity) < hot, HOT_SHARE / hot, (1 - HOT_SHARE) / max(1, capacity - hot))
    to_item = inverse_scramble(capacity)
    for size in phases(capacity):
        items = to_item[draws(chooser, size)]
        pmf = restricted(item_pmf, capacity, size)
        assert chi2_pvalue(np.bincount(items, minlength=capacity), pmf) > P_FLOOR, size


def test_the_chi_square_has_power() -> None:
    """A neighbouring exponent is rejected: the binning does not hide a wrong distribution."""
    sampler, rng = ZipfSampler(1_000, 0.9), random.Random(3)
    counts = np.bincount([sampler.rank(rng.random) for _ in range(DRAWS)], minlength=1_000)
    assert chi2_pvalue(counts, zipf_pmf(1_000, 0.9)) > P_FLOOR
    assert chi2_pvalue(counts, zipf_pmf(1_000, 1.0)) < 1e-6


@pytest.mark.parametrize("theta", THETAS)
def test_sampler_ranks_by_hash_and_in_batches_follow_the_pmf(theta: float) -> None:
    sampler = ZipfSampler(1_000, theta)
    by_hash = [sampler.rank_of_hash(mix64(i)) for i in range(DRAWS)]
    batch = sampler.ranks(np.random.default_rng(5), DRAWS)
    for ranks in (np.array(by_hash), batch):
        assert chi2_pvalue(np.bincount(ranks, minlength=1_000), zipf_pmf(1_000, theta)) > P_FLOOR


def test_text_terms_are_zipf_over_the_vocabulary() -> None:
    words = vocabulary(500)
    index = {word: rank for rank, word in enumerate(words)}
    ranks = np.array([index[zipf_word(words, mix64(i * 31 + 7))] for i in range(DRAWS)])
    assert chi2_pvalue(np.bincount(ranks, minlength=500), zipf_pmf(500, 1.0)) > P_FLOOR


@pytest.mark.parametrize("theta", (0.6, 1.0))
def test_references_are_zipf_by_rank_and_deterministic(theta: float) -> None:
    targets = 2_000
    edge = Entity(name="edge", count=DRAWS, key="id", fields={
        "id": IntField(type="int", sequence=True),
        "dst": RefField(type="ref", entity="node", zipf_constant=theta),
    })
    target = {"node": ReferenceTarget(targets, lambda i: i)}
    factory = RecordFactory(edge, 42, target)
    refs = [factory.value("dst", i) for i in range(DRAWS)]
    assert refs[:500] == [RecordFactory(edge, 42, target).value("dst", i) for i in range(500)]
    positions = Scramble(targets, key=salt_of(42, "edge", "dst")).array(np.arange(targets))
    to_rank = np.empty(targets, dtype=np.int64)
    to_rank[positions] = np.arange(targets)
    counts = np.bincount(to_rank[np.array(refs)], minlength=targets)
    assert chi2_pvalue(counts, zipf_pmf(targets, theta)) > P_FLOOR
