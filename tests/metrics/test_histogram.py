"""HDR histograms merge exactly: the merge of parts equals the histogram of the whole."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.metrics.histogram import HIGHEST_US, Percentiles, ceiling_us, decode, encode, merge, new_histogram, record_many


def test_merge_of_encoded_parts_equals_whole() -> None:
    rng = random.Random(3)
    values = [int(rng.lognormvariate(6, 1.2)) + 1 for _ in range(30_000)]
    whole = new_histogram()
    parts = [new_histogram() for _ in range(3)]
    for i, value in enumerate(values):
        whole.record_value(value)
        parts[i % 3].record_value(value)
    merged = merge([encode(p) for p in parts])
    assert merged.get_total_count() == whole.get_total_count() == len(values)
    for percentile in (50, 90, 99, 99.9, 100):
        assert merged.get_value_at_percentile(percentile) == whole.get_value_at_percentile(percentile)
    assert Percentiles.of(merged) == Percentiles.of(whole)


def test_three_significant_digits_in_microseconds() -> None:
    histogram = new_histogram()
    histogram.record_value(123_456)
    summary = Percentiles.of(histogram)
    assert summary is not None
    assert abs(summary.p50 - 123_456) / 123_456 < 0.001


def test_empty_histograms() -> None:
    assert Percentiles.of(new_histogram()) is None
    assert decode("").get_total_count() == 0
    assert merge(["", ""]).get_total_count() == 0


def test_histograms_with_a_higher_ceiling_merge_without_losing_values() -> None:
    long = new_histogram(ceiling_us(3 * 3600))
    long.record_value(2 * 3600 * 1_000_000)  # 2 h: above the default ceiling
    short = new_histogram()
    short.record_value(1_000)
    merged = merge([encode(short), encode(long)])
    assert merged.get_total_count() == 2
    assert abs(merged.get_max_value() - 7_200_000_000) / 7_200_000_000 < 0.001
    assert decode(encode(long)).get_total_count() == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(-5, 3_000), st.integers(0, 10**7), st.integers(0, 5 * 10**9),
                          st.sampled_from([0, 1, 1023, 1024, 2047, 2048, 2049, HIGHEST_US])), max_size=400))
def test_record_many_counts_exactly_as_record_value(values: list[int]) -> None:
    """The vectorised bulk record leaves the same counts, total, min, max and encoding as hdrh's record_value."""
    one_by_one, bulk = new_histogram(), new_histogram()
    for value in values:
        one_by_one.record_value(value)
    record_many(bulk, values)
    assert list(bulk.counts) == list(one_by_one.counts)
    assert (bulk.total_count, bulk.get_min_value(), bulk.get_max_value()) == (
        one_by_one.total_count, one_by_one.get_min_value(), one_by_one.get_max_value())
    assert encode(bulk) == encode(one_by_one)
