"""Outages from a per-second series: grouping of dark seconds and the recovery time after each."""

from __future__ import annotations

from harness.metrics.models import TimePoint
from harness.metrics.outages import outages


def series(counts: list[tuple[int, int]], start: int = 2) -> tuple[TimePoint, ...]:
    """Measured points from second `start` on: (successes, failures) per second, split over two operations."""
    points = []
    for t, (ok, failed) in enumerate(counts, start=start):
        points.append(TimePoint(t=t, op="read", phase="measure", count=ok - ok // 2, errors=failed))
        points.append(TimePoint(t=t, op="update", phase="measure", count=ok // 2, errors=0, timeouts=0))
    points.append(TimePoint(t=start, op="read", phase="warmup", count=10_000, errors=0))  # never counted
    return tuple(points)


def test_a_restart_is_one_outage_with_the_seconds_until_throughput_is_back() -> None:
    points = series([(100, 0), (100, 0), (98, 0), (0, 40), (0, 35), (50, 3), (79, 0), (85, 0), (101, 0)])
    (outage,) = outages(points, dark=[5, 6])
    assert (outage.start_s, outage.seconds, outage.failed) == (5, 2, 75)
    # median before = 100; second 7 has 50, second 8 has 79 (< 80), second 9 has 85: back at the end of second 9
    assert outage.recovery_s == 3.0
    assert "outage at 5 s for 2 s (75 calls failed or timed out)" in outage.describe()


def test_separate_dark_spells_are_separate_outages_and_one_never_recovered() -> None:
    points = series([(10, 0), (0, 5), (10, 0), (10, 0), (0, 4), (0, 4), (3, 0)])
    first, second = outages(points, dark=[3, 6, 7])
    assert (first.start_s, first.seconds, first.recovery_s) == (3, 1, 1.0)
    assert (second.start_s, second.seconds, second.recovery_s) == (6, 2, None)
    assert "not back to speed" in second.describe()


def test_an_outage_at_the_start_is_judged_against_the_seconds_after_it() -> None:
    (outage,) = outages(series([(0, 9), (30, 0), (50, 0), (50, 0)]), dark=[2])
    assert outage.recovery_s == 2.0  # reference median 50: second 3 (30) is not back, second 4 is


def test_no_dark_second_no_outage() -> None:
    assert outages(series([(5, 1), (5, 0)]), dark=[]) == ()



def test_seconds_are_said_as_spans_one_second_alone() -> None:
    from harness.metrics.outages import seconds_text

    assert seconds_text([5]) == "second 5"  # not "seconds 5-5"
    assert seconds_text([7, 5, 6]) == "seconds 5-7"
    assert seconds_text([3, 5, 6, 9]) == "seconds 3, 5-6, 9"
