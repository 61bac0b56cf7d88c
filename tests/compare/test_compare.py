"""Verdicts need both a minimum effect and significance; incomparable runs are refused."""

from __future__ import annotations

import re

import numpy as np
import pytest

from harness.compare.compare import (
    Comparison,
    MetricChange,
    Verdict,
    _per_second,
    _per_second_throughput,
    agresti_caffo,
    compare,
)
from harness.compare.gate import Failure, Gate
from harness.compare.stats import block_bootstrap_ci, bootstrap_percentile_ci, mann_whitney_p
from harness.errors import UserError
from harness.report.comparison import comparison_json, comparison_table
from tests.compare.records import synthetic_run, with_drain, with_outcomes, with_warmup


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


def _share(comparison: Comparison, metric: str) -> MetricChange:
    (change,) = [c for c in comparison.changes if c.metric == metric]
    return change


def test_outcome_shares_side_by_side_and_a_rise_beyond_the_baseline_regresses() -> None:
    base = with_outcomes(synthetic_run(1000, seed=1, run_id="a"), calls=10_000, errors=10, timeouts=10, not_found=10)
    worse = with_outcomes(synthetic_run(1000, seed=2, run_id="b"), calls=10_000, errors=10, timeouts=60,
                          not_found=200)
    comparison = compare(base, worse)
    misses, timeouts, errors = (_share(comparison, m) for m in ("not-found share", "timeout share", "error share"))
    assert (misses.before, misses.after) == (10 / 9_980, 200 / 9_930)  # of the successful calls
    assert (timeouts.before, timeouts.after) == (10 / 10_000, 60 / 10_000)  # of all calls
    assert errors.before == errors.after == 10 / 10_000
    assert misses.change == pytest.approx(200 / 9_930 - 10 / 9_980) and misses.samples == (9_980, 9_930)
    assert misses.verdict is timeouts.verdict is Verdict.REGRESSED and errors.verdict is not Verdict.REGRESSED
    assert comparison.verdict is Verdict.REGRESSED
    assert Gate(worse, comparison).failures("regressed") == [Failure.REGRESSED]
    assert compare(worse, base).verdict is Verdict.IMPROVED  # the same shares falling
    text = comparison_table(comparison)
    assert re.search(r"read\s+not-found share ↓\s+0\.10%\s+2\.01%\s+\+1\.91 pp\s+regressed", text), text
    assert "max(0.1 pp, minimum effect × the baseline's share)" in text
    changes = {c["metric"]: c for c in comparison_json(comparison)["changes"]}
    assert changes["timeout share"]["change"] == pytest.approx(0.005)
    assert changes["timeout share"]["verdict"] == "regressed"


def test_a_rise_below_the_minimum_effect_does_not_regress() -> None:
    """0.01% -> 0.05% of a million calls: significant, but less than the 0.1 percentage point floor."""
    base = with_outcomes(synthetic_run(1000, seed=1, run_id="a"), calls=1_000_000, timeouts=100)
    b = with_outcomes(synthetic_run(1000, seed=2, run_id="b"), calls=1_000_000, timeouts=500)
    timeouts = _share(compare(base, b), "timeout share")
    assert timeouts.interval is not None and timeouts.interval[0] > 0  # significant
    assert timeouts.verdict is Verdict.UNCHANGED
    # relative floor: a 10% error share must rise by min_effect x 10% = 0.5 pp
    base = with_outcomes(synthetic_run(1000, seed=1, run_id="a"), calls=1_000_000, errors=100_000)
    b = with_outcomes(synthetic_run(1000, seed=2, run_id="b"), calls=1_000_000, errors=103_000)
    assert _share(compare(base, b), "error share").verdict is Verdict.UNCHANGED  # +0.3 pp, significant
    b = with_outcomes(synthetic_run(1000, seed=2, run_id="b"), calls=1_000_000, errors=104_500)
    assert _share(compare(base, b), "error share").verdict is Verdict.INCONCLUSIVE  # +0.45 pp, may reach 0.5
    b = with_outcomes(synthetic_run(1000, seed=2, run_id="b"), calls=1_000_000, errors=110_000)
    assert _share(compare(base, b), "error share").verdict is Verdict.REGRESSED


def test_shares_appear_only_when_either_side_has_such_outcomes() -> None:
    a, b = synthetic_run(1000, seed=1, run_id="a"), synthetic_run(1000, seed=2, run_id="b")
    assert {c.metric for c in compare(a, b).changes} == {"throughput", "p50", "p99", "p999"}
    missing = with_outcomes(b, not_found=5, must_hit=False)  # not must-hit: a miss is a valid answer
    assert {c.metric for c in compare(a, missing).changes} == {"throughput", "p50", "p99", "p999"}
    missing = with_outcomes(b, not_found=5)
    assert [c.metric for c in compare(a, missing).changes][-1] == "not-found share"


def test_equal_shares_regress_no_more_often_than_the_significance_level() -> None:
    """Agresti-Caffo covers the true difference (0) in >= 94% of 2,000 binomial pairs at 95%, down to 0.1% shares."""
    rng = np.random.default_rng(7)
    for share, calls in ((0.02, 5_000), (0.001, 20_000), (0.3, 400)):
        xs = rng.binomial(calls, share, size=(2_000, 2))
        inside = [low <= 0 <= high for low, high in (agresti_caffo(int(x), calls, int(y), calls, 0.95) for x, y in xs)]
        assert np.mean(inside) >= 0.94, (share, calls, np.mean(inside))
    assert agresti_caffo(0, 1_000_000, 0, 1_000_000, 0.95)[1] < 1e-5  # nothing on either side: a tight interval


def test_per_second_statistics_use_whole_measured_seconds() -> None:
    """Warm-up points (99,999 calls a second) never enter the per-second statistics, nor the drain's second after
    the window (4 calls of 10 s): each side has exactly its 20 whole seconds."""
    a = with_drain(with_warmup(synthetic_run(1000, seed=1, run_id="a"), 3))
    b = with_drain(with_warmup(synthetic_run(1000, seed=2, run_id="b"), 3))
    assert _per_second_throughput(a, "read") == [float(p.count) for p in a.timeseries
                                                   if p.phase == "measure" and 3 <= p.t < 23]
    assert len(_per_second(a, "read", "p50")) == 20
    assert max(_per_second(a, "read", "p99")) < 10_000_000
    assert _share_free(compare(a, b)).verdict in (Verdict.UNCHANGED, Verdict.INCONCLUSIVE)


def test_a_dark_second_counts_as_zero_throughput_not_as_a_missing_one() -> None:
    """A second in which nothing completed has no point in the series; it is still a whole second of the window
    (the per-second values had been taken from the points, so a stall vanished from throughput's test)."""
    a = synthetic_run(1000, seconds=6, seed=1, run_id="a")
    dark = a.model_copy(update={"timeseries": tuple(p for p in a.timeseries if p.t != 3)})
    assert _per_second_throughput(dark, "read")[3] == 0.0
    assert len(_per_second_throughput(dark, "read")) == 6


def _share_free(comparison: Comparison) -> MetricChange:
    return next(c for c in comparison.changes if c.metric == "throughput")


def test_warnings_name_only_what_differs_and_unread_settings_are_said_so() -> None:
    a = synthetic_run(1000, seconds=2, seed=1, run_id="a")
    b = synthetic_run(1000, seconds=3, seed=2, run_id="b")
    (load,) = [w for w in compare(a, b).warnings if w.startswith("different load profiles")]
    assert load == "different load profiles: duration_s 2 vs 3"
    read = {"maxmemory": "0", "appendonly": "no"}
    a = a.model_copy(update={"manifest": {"engine_settings": read}})
    b = b.model_copy(update={"manifest": {"engine_settings": {**read, "appendonly": "yes"}}})
    assert "different engine settings: appendonly" in compare(a, b).warnings
    b = b.model_copy(update={"manifest": {"engine_settings": {"unavailable": "ConnectionError: refused"}}})
    (settings,) = [w for w in compare(a, b).warnings if "engine settings" in w]
    assert settings == "engine settings could not be read for candidate b (ConnectionError: refused): not compared"
