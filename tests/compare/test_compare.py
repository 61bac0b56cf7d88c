"""Verdicts need both a minimum effect and significance; incomparable runs are refused."""

from __future__ import annotations

import pytest

from harness.compare.compare import Verdict, compare
from harness.compare.stats import block_bootstrap_ci, bootstrap_percentile_ci, mann_whitney_p
from harness.errors import UserError
from tests.compare.records import synthetic_run


def test_same_distribution_is_not_a_regression() -> None:
    a, b = synthetic_run(1000, seed=1, run_id="a"), synthetic_run(1000, seed=2, run_id="b")
    comparison = compare(a, b)
    assert not comparison.regressions
    assert comparison.verdict in (Verdict.UNCHANGED, Verdict.INCONCLUSIVE)


def test_twenty_percent_slower_is_a_regression_and_faster_an_improvement() -> None:
    a = synthetic_run(1000, seed=1, run_id="a")
    slow = synthetic_run(1200, seed=2, run_id="slow")
    fast = synthetic_run(800, seed=3, run_id="fast")
    regressed = compare(a, slow)
    assert regressed.verdict is Verdict.REGRESSED
    assert {c.metric for c in regressed.regressions} >= {"p50", "p99"}
    assert compare(a, fast).verdict is Verdict.IMPROVED


def test_a_small_effect_is_unchanged_even_if_significant() -> None:
    a, b = synthetic_run(1000, seed=1, run_id="a"), synthetic_run(1020, seed=2, run_id="b")
    p50 = next(c for c in compare(a, b).changes if c.metric == "p50")
    assert p50.verdict is Verdict.UNCHANGED


def test_different_workload_definitions_are_refused_unless_forced() -> None:
    a, b = synthetic_run(1000, run_id="a"), synthetic_run(1000, run_id="b", workload_hash="other")
    with pytest.raises(UserError, match="different workload definitions"):
        compare(a, b)
    assert "DIFFERENT WORKLOAD DEFINITIONS (compared with --force)" in compare(a, b, force=True).warnings


def test_statistics_primitives() -> None:
    assert mann_whitney_p([1, 2, 3], [1, 2]) is None
    assert mann_whitney_p([10.0] * 5, [10.0] * 5) == 1.0
    assert (mann_whitney_p([1, 2, 3, 4, 5, 6], [11, 12, 13, 14, 15, 16]) or 1) < 0.01
    low, high = block_bootstrap_ci([100.0] * 10, [120.0] * 10) or (0, 0)
    assert low == pytest.approx(0.2) and high == pytest.approx(0.2)
    a, b = synthetic_run(1000, seconds=3, run_id="a"), synthetic_run(1500, seconds=3, seed=5, run_id="b")
    interval = bootstrap_percentile_ci(a.operations["read"].histogram, b.operations["read"].histogram, 50)
    assert interval is not None and 0.4 < interval[0] <= interval[1] < 0.6
