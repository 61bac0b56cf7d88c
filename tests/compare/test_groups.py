"""Comparing groups of repeats: each run is one sample (harness/compare/groups.py)."""

from __future__ import annotations

from harness.compare.groups import GroupChange, compare_groups, median_run
from harness.results.record import RunRecord
from tests.compare.records import invalid, synthetic_run

_BASE = synthetic_run(1000, seconds=3, per_second=50)


def _group(*throughputs: float) -> list[RunRecord]:
    out = []
    for i, value in enumerate(throughputs):
        read = _BASE.operations["read"].model_copy(update={"throughput_ops_s": value})
        out.append(_BASE.model_copy(update={"run_id": f"r{i}-{value}", "total_throughput_ops_s": value,
                                            "operations": {"read": read}, "group": "g", "repeat": i + 1}))
    return out


def _verdict(changes: list[GroupChange], operation: str = "total", figure: str = "ops/s") -> str:
    (change,) = [c for c in changes if (c.operation, c.figure) == (operation, figure)]
    return change.verdict


def test_a_clear_drop_in_every_repeat_is_a_regression() -> None:
    changes = compare_groups(_group(1000, 1010, 990, 1005), _group(700, 690, 710, 705))
    (total,) = [c for c in changes if c.operation == "total"]
    assert total.baseline_median == 1002.5 and total.candidate_median == 702.5
    assert total.interval is not None and total.interval[1] < -0.05
    assert total.verdict == "regressed"
    assert _verdict(changes, "read") == "regressed"


def test_three_runs_a_side_all_apart_are_inconclusive_not_a_change() -> None:
    """A bootstrap over 3 values excludes 0 whenever the sides do not overlap; Mann–Whitney's p is then 0.1."""
    changes = compare_groups(_group(1000, 1010, 990), _group(700, 690, 710))
    (total,) = [c for c in changes if c.operation == "total"]
    assert total.interval is not None and total.interval[1] < 0 and total.p_value == 0.1
    assert total.verdict == "inconclusive"


def test_repeats_within_one_percent_are_unchanged() -> None:
    assert _verdict(compare_groups(_group(1000, 1005, 995), _group(1002, 998, 1004))) == "unchanged"


def test_overlapping_noisy_repeats_are_inconclusive_not_unchanged() -> None:
    assert _verdict(compare_groups(_group(600, 1000, 1400), _group(700, 1100, 1500))) == "inconclusive"


def test_two_runs_a_side_are_too_few() -> None:
    changes = compare_groups(_group(1000, 1000), _group(500, 500))
    assert _verdict(changes) == "too few runs" and changes[0].interval is None and changes[0].p_value is None


def test_an_invalid_run_is_not_a_sample_and_the_median_run_stands_in() -> None:
    group = _group(100, 300, 200)
    group[1] = invalid(group[1], "stalled", causes=("engine",))
    assert median_run(group).total_throughput_ops_s == 100  # lower middle of the valid 100, 200
    assert _verdict(compare_groups(group, _group(100, 100, 100))) == "too few runs"


def test_a_p99_from_too_few_samples_is_not_compared() -> None:
    """_BASE has 150 calls a run; a p99 needs 1,000 (10/(1-q)): the p99 figure is 'too few samples', no interval."""
    changes = compare_groups(_group(1000, 1010, 990, 1005), _group(700, 690, 710, 705))
    (p99,) = [c for c in changes if c.figure == "p99 µs"]
    assert p99.verdict == "too few samples" and p99.few and p99.interval is None and p99.p_value is None
    assert _verdict(changes, "read") == "regressed"  # throughput is still compared


def test_a_p99_from_enough_samples_is_compared() -> None:
    many = synthetic_run(1000, seconds=4, per_second=500)  # 2,000 calls a run
    base = [many.model_copy(update={"run_id": f"b{i}", "group": "b", "repeat": i + 1}) for i in range(4)]
    slower = synthetic_run(3000, seconds=4, per_second=500)
    cand = [slower.model_copy(update={"run_id": f"c{i}", "group": "c", "repeat": i + 1}) for i in range(4)]
    (p99,) = [c for c in compare_groups(base, cand) if c.figure == "p99 µs"]
    assert not p99.few and p99.verdict != "too few samples"
