"""How many samples a percentile needs, and its mark (harness/metrics/samples.py)."""

from __future__ import annotations

from harness.metrics.samples import FEW, few, marked, min_samples


def test_ten_over_one_minus_q() -> None:
    assert [min_samples(p) for p in ("p50", "p90", "p99", "p999")] == [20, 100, 1000, 10_000]
    assert few(999, "p99") and not few(1000, "p99") and not few(1, "max") and not few(1, "mean")


def test_marked_cells() -> None:
    assert marked("1.20 ms", 999, "p99") == "1.20 ms" + FEW and marked("1.20 ms", 1000, "p99") == "1.20 ms"
    assert marked("-", 3, "p99") == "-" and marked("3 ms", 3, "max") == "3 ms"
