"""Scan and field lengths follow their distribution exactly (chi-square against the pmf), and field
lengths are deterministic by seed and record, the same record by record and batch by batch."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from scipy.stats import chisquare

from harness.dataset.generate import RecordFactory, mix64
from harness.dataset.lengths import hashed_length, hashed_lengths, length_pmf, length_sampler, mean_length
from harness.spec.models import Entity, StringField


def _chi_square_p(draws: list[int], low: int, high: int, distribution: str) -> float:
    pmf = length_pmf(low, high, distribution)  # type: ignore[arg-type]
    seen = Counter(draws)
    observed = [seen.get(length, 0) for length in range(low, high + 1)]
    expected = [pmf[length] * len(draws) for length in range(low, high + 1)]
    return float(chisquare(observed, expected).pvalue)


def test_means_are_ycsbs() -> None:
    assert mean_length(1, 100, "uniform") == pytest.approx(50.5)  # YCSB workloade: maxscanlength 100
    assert mean_length(1, 100, "constant") == 100
    zipf = mean_length(1, 100, "zipfian")
    assert 10 < zipf < 30  # short scans likeliest: P(1) / P(2) = 2 ** 0.99
    pmf = length_pmf(1, 100, "zipfian")
    assert pmf[1] / pmf[2] == pytest.approx(2 ** 0.99)


@pytest.mark.parametrize(("low", "high", "distribution"), [(1, 100, "uniform"), (1, 100, "zipfian"),
                                                            (5, 20, "uniform"), (10, 40, "zipfian")])
def test_drawn_lengths_follow_the_exact_pmf(low: int, high: int, distribution: str) -> None:
    draw = length_sampler(low, high, distribution, random.Random(7))  # type: ignore[arg-type]
    draws = [draw() for _ in range(60_000)]
    assert min(draws) >= low and max(draws) <= high
    assert _chi_square_p(draws, low, high, distribution) > 0.001
    assert np.mean(draws) == pytest.approx(mean_length(low, high, distribution), rel=0.02)  # type: ignore[arg-type]


@pytest.mark.parametrize("distribution", ["uniform", "zipfian"])
def test_hashed_lengths_follow_the_pmf_and_the_batch_form_agrees(distribution: str) -> None:
    scalar = hashed_length(3, 60, distribution)  # type: ignore[arg-type]
    hashes = [mix64(i) for i in range(50_000)]
    lengths = [scalar(h) for h in hashes]
    assert _chi_square_p(lengths, 3, 60, distribution) > 0.001
    batch = hashed_lengths(3, 60, distribution)(np.array(hashes, dtype=np.uint64))  # type: ignore[arg-type]
    assert batch.tolist() == lengths


def test_constant_is_always_the_longest_and_bad_ranges_are_refused() -> None:
    assert {length_sampler(1, 100, "constant", random.Random(1))() for _ in range(50)} == {100}
    with pytest.raises(ValueError):
        length_sampler(10, 5, "uniform", random.Random(1))


def _entity(spec: StringField) -> Entity:
    return Entity(name="t", count=1000, key="k", fields={"k": {"type": "int", "sequence": True}, "f": spec})


@pytest.mark.parametrize("distribution", ["uniform", "zipfian"])
def test_string_fields_take_their_length_per_record_deterministically(distribution: str) -> None:
    spec = StringField(type="string", length=100, min_length=10, length_distribution=distribution, prefix="p")
    factory = RecordFactory(_entity(spec), seed=42)
    values = [factory.value("f", i) for i in range(20_000)]
    lengths = [len(v) - 1 for v in values]
    assert all(v.startswith("p") for v in values) and min(lengths) >= 10 and max(lengths) <= 100
    assert _chi_square_p(lengths, 10, 100, distribution) > 0.001
    again = RecordFactory(_entity(spec), seed=42)
    assert [again.value("f", i) for i in range(0, 20_000, 97)] == values[::97]  # deterministic by seed
    other = RecordFactory(_entity(spec), seed=43)
    assert [other.value("f", i) for i in range(200)] != values[:200]
    batch = [r["f"] for rows in factory.batches(3000, 1000) for r in rows]
    assert batch == values[:3000]  # the batch (numpy) path makes the same strings


def test_constant_length_strings_are_unchanged_by_default() -> None:
    spec = StringField(type="string", length=100)
    factory = RecordFactory(_entity(spec), seed=42)
    assert {len(factory.value("f", i)) for i in range(500)} == {100}


def test_a_shortest_length_above_the_longest_is_refused() -> None:
    with pytest.raises(ValueError, match="min_length 50 is above length 10"):
        StringField(type="string", length=10, min_length=50, length_distribution="uniform")
