"""The measured window's per-second points of a run record: what plots and statistics may draw on.

A record's `timeseries` holds one point per (second, operation, phase): the second in which the
warm-up ends has two points, one `warmup` and one `measure`, each counting only its own phase's
operations. Anything that summarises the measurement (plots, per-second statistics, stall and
outage checks) must read the measured points alone, or it draws two values at that second and
mixes warm-up into the measured window. Every consumer goes through `measured_points`.
"""

from __future__ import annotations

from harness.metrics.models import TimePoint
from harness.results.record import RunRecord

__all__ = ["MEASURE", "measured_points"]

MEASURE = "measure"  # TimePoint.phase of the measured window (the other is "warmup")


def measured_points(record: RunRecord, op: str | None = None, whole_seconds: bool = False) -> list[TimePoint]:
    """Points of the measured window, ordered by second (then operation), at most one per (second, operation).

    `op`: only that operation's points. `whole_seconds`: also drop each operation's second shared with
    the warm-up (it holds only the part of the second after the warm-up ended, so its count is short) —
    for per-second statistics, where a partial second would read as a slow one.
    """
    points = [p for p in record.timeseries if p.phase == MEASURE and (op is None or p.op == op)]
    if whole_seconds:
        shared = {(p.t, p.op) for p in record.timeseries if p.phase != MEASURE}
        points = [p for p in points if (p.t, p.op) not in shared]
    return sorted(points, key=lambda p: (p.t, p.op))
