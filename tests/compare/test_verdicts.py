"""Verdicts that mean what they say: unchanged only inside the minimum effect, few samples marked, weaker
statistics said, invalid runs refused."""

from __future__ import annotations

import pytest

from harness.compare.compare import (
    PER_OPERATION,
    PER_SECOND,
    Verdict,
    _decide,
    compare,
    min_samples,
    refuse_invalid,
)
from harness.errors import InvalidRunRefused
from harness.results.record import RunRecord
from tests.compare.records import invalid, synthetic_run


def test_the_rule() -> None:
    assert _decide(0.01, (-0.02, 0.03), False, False, 0.05) is Verdict.UNCHANGED
    assert _decide(0.01, (-0.30, 0.32), False, False, 0.05) is Verdict.INCONCLUSIVE  # small change, wide interval
    assert _decide(0.03, (0.01, 0.08), True, False, 0.05) is Verdict.INCONCLUSIVE  # significant, may exceed the effect
    assert _decide(0.20, (0.10, 0.30), True, False, 0.05) is Verdict.REGRESSED
    assert _decide(-0.20, (-0.30, -0.10), True, False, 0.05) is Verdict.IMPROVED
    assert _decide(0.20, (0.10, 0.30), True, True, 0.05) is Verdict.IMPROVED  # throughput: higher is better
    assert _decide(None, (0.1, 0.2), True, False, 0.05) is Verdict.NOT_AVAILABLE


def test_min_samples_is_ten_over_one_minus_q() -> None:
    assert [min_samples(m) for m in ("p50", "p90", "p99", "p999")] == [20, 100, 1000, 10000]


def test_unchanged_means_the_whole_interval_inside_the_minimum_effect() -> None:
    quiet = compare(synthetic_run(1000, seed=1, run_id="a"), synthetic_run(1000, seed=2, run_id="b"))
    noisy = compare(synthetic_run(1000, seconds=6, per_second=40, seed=1, noise=0.9, run_id="a"),
                    synthetic_run(1000, seconds=6, per_second=40, seed=2, noise=0.9, run_id="b"))
    for comparison in (quiet, noisy):
        for c in comparison.changes:
            if c.interval is None:
                continue
            effect = comparison.threshold * {"throughput": 1, "p50": 1, "p99": 2, "p999": 4}[c.metric]
            inside = -effect < c.interval[0] and c.interval[1] < effect
            assert (c.verdict is Verdict.UNCHANGED) == inside, c
    p50 = next(c for c in quiet.changes if c.metric == "p50")
    assert p50.verdict is Verdict.UNCHANGED and p50.method == PER_SECOND
    noisy_p50 = next(c for c in noisy.changes if c.metric == "p50")
    assert noisy_p50.interval is not None and noisy_p50.interval[1] - noisy_p50.interval[0] > 0.10
    assert noisy_p50.verdict is Verdict.INCONCLUSIVE
    assert noisy.verdict is Verdict.INCONCLUSIVE


def test_percentiles_from_too_few_samples_are_marked_not_compared() -> None:
    a = synthetic_run(1000, seconds=8, per_second=100, seed=1, run_id="a")
    b = synthetic_run(3000, seconds=8, per_second=100, seed=2, run_id="b")
    counts = (a.operations["read"].count, b.operations["read"].count)
    assert 20 <= min(counts) < 1000
    by_metric = {c.metric: c for c in compare(a, b).changes}
    assert by_metric["p50"].verdict is Verdict.REGRESSED  # 20 samples are enough for a median
    for metric in ("p99", "p999"):
        change = by_metric[metric]
        assert change.verdict is Verdict.TOO_FEW and change.samples == counts
        assert f"both sides ({counts[0]:,} and {counts[1]:,} samples), {metric} needs {min_samples(metric):,}" \
            in change.evidence
    latency = a.operations["read"].latency_us
    assert latency is not None and by_metric["p99"].before == latency.p99  # shown, only not compared


def test_a_fallback_to_the_weaker_statistic_is_said() -> None:
    a = synthetic_run(1000, seconds=2, per_second=600, seed=1, run_id="a")
    b = synthetic_run(1000, seconds=2, per_second=600, seed=2, run_id="b")
    comparison = compare(a, b)
    p50 = next(c for c in comparison.changes if c.metric == "p50")
    assert p50.method == PER_OPERATION
    (warning,) = [w for w in comparison.warnings if w.startswith("weaker statistics")]
    assert "read p50" in warning and "fewer than 3 measured seconds" in warning
    assert not [w for w in compare(synthetic_run(1000, seed=1), synthetic_run(1000, seed=2)).warnings
                if w.startswith("weaker statistics")]


def test_an_invalid_side_is_refused_unless_forced() -> None:
    a = synthetic_run(1000, seconds=4, run_id="a")
    b = invalid(synthetic_run(1000, seconds=4, seed=2, run_id="b"), "engine stalled for 3 s", causes=("engine",))
    with pytest.raises(InvalidRunRefused, match=r"candidate b is INVALID: engine stalled for 3 s .*--force"):
        refuse_invalid(a, b)
    with pytest.raises(InvalidRunRefused, match="baseline b is INVALID"):
        refuse_invalid(b, a)
    refuse_invalid(a, b, force=True)
    assert compare(a, b).invalid == ("candidate b is INVALID: engine stalled for 3 s",)


def _two_ops(record, rare_seconds: set[int]):  # type: ignore[no-untyped-def]
    """`record` with a second operation `scan` that made calls only in `rare_seconds` (no point in the others)."""
    from harness.metrics.models import TimePoint

    rare = tuple(TimePoint(t=p.t, op="scan", phase=p.phase, count=3, errors=0, p50_us=p.p50_us, p99_us=p.p99_us,
                           p999_us=p.p999_us, max_us=p.max_us) for p in record.timeseries if p.t in rare_seconds)
    ops = {**record.operations, "scan": record.operations["read"].model_copy(update={"count": 3 * len(rare)})}
    return record.model_copy(update={"timeseries": record.timeseries + rare, "operations": ops})


def test_every_operation_of_a_run_is_judged_on_the_same_whole_seconds() -> None:
    """A rare operation silent in some seconds counts 0 there: it has as many per-second values as the others,
    so throughput is compared for all of them or for none."""
    from harness.compare.compare import _per_second_throughput, whole_seconds

    a = _two_ops(synthetic_run(1000, seconds=5, per_second=200, seed=1, run_id="a"), {0, 2})
    b = _two_ops(synthetic_run(1000, seconds=5, per_second=200, seed=2, run_id="b"), {1})
    assert whole_seconds(a) == [0, 1, 2, 3, 4]  # the window [0, 5)
    assert _per_second_throughput(a, "scan") == [3.0, 0.0, 3.0, 0.0, 0.0]
    throughput = {c.operation: c for c in compare(a, b).changes if c.metric == "throughput"}
    assert all("Mann-Whitney U p=" in c.evidence for c in throughput.values()), throughput  # tested, each of them
    short_a = _two_ops(synthetic_run(1000, seconds=2, per_second=200, seed=1, run_id="a"), {0, 1})
    short_b = _two_ops(synthetic_run(1000, seconds=2, per_second=200, seed=2, run_id="b"), {0, 1})
    for change in (c for c in compare(short_a, short_b).changes if c.metric == "throughput"):
        assert change.verdict is Verdict.NOT_AVAILABLE
        assert change.evidence == "not compared: 2 and 2 whole measured seconds, needs 3 a side"


def test_a_headline_never_rests_on_the_weaker_statistic_alone() -> None:
    """Two 2-second runs, the candidate 30% faster: throughput n/a (too few seconds), p50 improved only on the
    bootstrap over operations. The headline is INCONCLUSIVE, and a weak regression fails no --fail-on regressed."""
    from harness.report.comparison import comparison_table

    a = synthetic_run(1000, seconds=2, per_second=600, seed=1, run_id="a", noise=0.05)
    b = synthetic_run(700, seconds=2, per_second=600, seed=2, run_id="b", noise=0.05)
    comparison = compare(a, b)
    p50 = next(c for c in comparison.changes if c.metric == "p50")
    assert p50.method == PER_OPERATION and p50.verdict is Verdict.IMPROVED and p50.weak
    assert all(c.verdict is not Verdict.IMPROVED for c in comparison.changes if not c.weak)
    assert comparison.verdict is Verdict.INCONCLUSIVE
    line = next(x for x in comparison_table(comparison).splitlines() if x.startswith("verdict:"))
    assert line.startswith("verdict: INCONCLUSIVE (read p50 improved, read p99 improved on the weaker bootstrap "
                           "over operations only: not counted; run longer)"), line
    worse = compare(b, a)
    assert worse.verdict is Verdict.INCONCLUSIVE and not worse.regressions and worse.inconclusive


def test_the_smallest_mann_whitney_p_is_two_over_the_orderings() -> None:
    """Exact test, fully separated samples: scipy's p is 2 / C(n+m, n), the floor `mann_whitney_min_p` gives."""
    from scipy.stats import mannwhitneyu

    from harness.compare.stats import mann_whitney_min_p, seconds_for_mann_whitney

    for n, m in ((3, 3), (5, 5), (4, 6)):
        apart = mannwhitneyu(list(range(n)), list(range(100, 100 + m)), alternative="two-sided", method="exact")
        assert apart.pvalue == pytest.approx(mann_whitney_min_p(n, m))
    assert mann_whitney_min_p(5, 5) == pytest.approx(2 / 252)
    assert seconds_for_mann_whitney(0.05 / 12) == 6  # 2/C(12, 6) = 0.0022 < 0.0042 <= 2/C(10, 5) = 0.0079
    assert seconds_for_mann_whitney(0.05) == 4


def test_throughput_over_too_few_seconds_to_reach_the_level_is_not_judged_and_said_so() -> None:
    """Throughput halved over 5 s a side: 4 metrics, each at 1.25%, the smallest p is 0.79%... one operation can
    decide; with 3 operations (12 metrics, 0.42% each) 5 s cannot, 6 s can."""
    def run(per_second: int, seconds: int, run_id: str) -> RunRecord:
        record = synthetic_run(1000, seconds=seconds, per_second=per_second, seed=len(run_id), run_id=run_id)
        ops = {name: record.operations["read"] for name in ("read", "scan", "update")}
        points = tuple(p.model_copy(update={"op": name}) for p in record.timeseries for name in ops)
        return record.model_copy(update={"operations": ops, "timeseries": points})

    short = compare(run(600, 5, "a"), run(300, 5, "bb"))
    throughput = [c for c in short.changes if c.metric == "throughput"]
    assert {c.verdict for c in throughput} == {Verdict.TOO_SHORT}, [c.evidence for c in throughput]
    assert all(c.evidence.startswith("not judged: 5 and 5 whole seconds; at 0.42% a metric the test needs 6 a side")
               for c in throughput)
    assert any(w.startswith("throughput not judged (read, scan, update)") and w.endswith("measure at least 6 s")
               for w in short.warnings), short.warnings
    longer = compare(run(600, 6, "a"), run(300, 6, "bb"))
    assert {c.verdict for c in longer.changes if c.metric == "throughput"} == {Verdict.REGRESSED}
    assert not any("not judged" in w for w in longer.warnings)


def test_a_run_compared_with_itself_says_so() -> None:
    record = synthetic_run(1000, seconds=10, seed=3, run_id="same")
    assert "both sides are the same run: the intervals show only the resampling's spread" in compare(record, record).warnings
