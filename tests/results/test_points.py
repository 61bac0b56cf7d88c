"""measured_points: the measured window's per-second points, one per (second, operation), warm-up left out."""

from __future__ import annotations

from harness.results.points import measured_points
from harness.results.record import TimePoint
from tests.compare.records import synthetic_run, with_warmup


def test_warm_up_points_are_left_out_and_the_shared_second_on_request() -> None:
    record = with_warmup(synthetic_run(1000, seconds=4, per_second=100), 2)  # warm-up at 0, 1; measured at 1..4
    extra = TimePoint(t=3, op="scan", phase="measure", count=7, errors=0)
    record = record.model_copy(update={"timeseries": (*record.timeseries, extra)})
    points = measured_points(record)
    assert [(p.t, p.op) for p in points] == [(1, "read"), (2, "read"), (3, "read"), (3, "scan"), (4, "read")]
    assert all(p.phase == "measure" for p in points)
    assert sum(p.count for p in measured_points(record, "read")) == record.operations["read"].count
    assert [p.t for p in measured_points(record, "read", whole_seconds=True)] == [2, 3, 4]  # 1 is shared
    assert [p.t for p in measured_points(record, "scan", whole_seconds=True)] == [3]
    assert measured_points(record, "absent") == []
