"""measured_points: the measured window's per-second points, one per (second, operation), warm-up left out."""

from __future__ import annotations

from harness.results.points import measured_points, whole_seconds
from harness.results.record import TimePoint
from tests.compare.records import synthetic_run, with_drain, with_warmup


def test_warm_up_points_are_left_out_and_the_partial_seconds_on_request() -> None:
    # warm-up [0, 2): points at 0, 1 and 2 (its calls that ended after it); measured window [2, 6), then the drain's 6
    record = with_drain(with_warmup(synthetic_run(1000, seconds=4, per_second=100), 2))
    extra = TimePoint(t=3, op="scan", phase="measure", count=7, errors=0)
    record = record.model_copy(update={"timeseries": (*record.timeseries, extra)})
    points = measured_points(record)
    assert [(p.t, p.op) for p in points] == [(2, "read"), (3, "read"), (3, "scan"), (4, "read"), (5, "read"),
                                             (6, "read")]
    assert all(p.phase == "measure" for p in points)
    assert sum(p.count for p in measured_points(record, "read")) == record.operations["read"].count
    assert whole_seconds(record) == [2, 3, 4, 5]
    assert [p.t for p in measured_points(record, "read", whole=True)] == [2, 3, 4, 5]  # not the drain's 6
    assert [p.t for p in measured_points(record, "scan", whole=True)] == [3]


def test_whole_seconds_leave_out_the_seconds_a_fractional_window_cuts() -> None:
    """A 1.5 s warm-up and a window that stopped after 3.2 s (operationcount): [1.5, 4.7) holds 2, 3 whole."""
    record = synthetic_run(1000, seconds=6, per_second=100)
    record = record.model_copy(update={"load": record.load.model_copy(update={"warmup_s": 1.5}), "measured_s": 3.2})
    assert whole_seconds(record) == [2, 3]
    assert measured_points(record, "absent") == []
