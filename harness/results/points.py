"""The measured window's per-second points of a run record: what plots and statistics may draw on.

A record's `timeseries` holds one point per (second, operation, phase): the second in which the
warm-up ends has two points, one `warmup` and one `measure`, each counting only its own phase's
operations. Anything that summarises the measurement (plots, per-second statistics, stall and
outage checks) must read the measured points alone, or it draws two values at that second and
mixes warm-up into the measured window. Every consumer goes through `measured_points`.
"""

from __future__ import annotations

import math

from harness.metrics.models import TimePoint
from harness.results.record import RunRecord

__all__ = ["MEASURE", "measured_points", "whole_seconds"]

MEASURE = "measure"  # TimePoint.phase of the measured window (the other is "warmup")


def whole_seconds(record: RunRecord) -> list[int]:
    """The seconds (since the start of warm-up) that lie wholly inside the measured window
    [warmup_s, warmup_s + measured_s), every one of them, a dark one too.

    The per-second series also holds seconds only partly measured: the one a fractional warm-up ends
    in, the one an operationcount run stops in, and the drain's — calls made in the window's last
    moments that end after it, a handful of the slowest. A statistic over seconds that took them in
    would read a few slow calls as a second's latency and a fragment as a second's throughput.
    """
    start = record.load.warmup_s
    end = start + record.measured_s
    return list(range(math.ceil(start - 1e-9), math.floor(end + 1e-9)))


def measured_points(record: RunRecord, op: str | None = None, whole: bool = False) -> list[TimePoint]:
    """Points of the measured window, ordered by second (then operation), at most one per (second, operation).

    `op`: only that operation's points. `whole`: only the seconds wholly inside the window
    (`whole_seconds`) — for per-second statistics, where a partial second would read as a slow one.
    """
    points = [p for p in record.timeseries if p.phase == MEASURE and (op is None or p.op == op)]
    if whole:
        inside = set(whole_seconds(record))
        points = [p for p in points if p.t in inside]
    return sorted(points, key=lambda p: (p.t, p.op))
