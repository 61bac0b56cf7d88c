"""Outages in a run's per-second series: when nothing succeeded, and how long the engine took to come back.

An engine restart mid-run shows as a run of measured seconds with failures and no success;
the record keeps each such run with its recovery time (seconds until per-second throughput
is back to `RECOVERED_SHARE` of its median before the outage), so "errors only during the
outage, back to speed within N s" is read from the record, not from a log.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence

from harness.metrics.models import TimePoint
from harness.models import Frozen

RECOVERED_SHARE = 0.8  # back to this share of the pre-outage median ops/s counts as recovered


class Outage(Frozen):
    """Consecutive measured seconds in which no call succeeded (seconds from the start of warm-up)."""

    start_s: int  # the first such second
    seconds: int  # how many in a row
    failed: int  # calls that failed or timed out in them
    # from the outage's end to the end of the first second back at RECOVERED_SHARE of the pre-outage median
    # throughput (s); None when the run ended first
    recovery_s: float | None = None

    def describe(self) -> str:
        """'outage at 7 s for 3 s (1,204 calls failed), back to 80% of the earlier throughput 2 s after'."""
        back = ("not back to speed before the run ended" if self.recovery_s is None else
                f"back to {RECOVERED_SHARE:.0%} of the earlier throughput {self.recovery_s:g} s after")
        return (f"outage at {self.start_s} s for {self.seconds} s ({self.failed:,} calls failed or timed out), "
                f"{back}")


def measured_per_second(timeseries: Iterable[TimePoint]) -> tuple[dict[int, int], dict[int, int]]:
    """(successes, failures + timeouts) per second over all operations, measured-phase points only."""
    ok: dict[int, int] = defaultdict(int)
    failed: dict[int, int] = defaultdict(int)
    for point in timeseries:
        if point.phase == "measure":
            ok[point.t] += point.count
            failed[point.t] += point.errors + point.timeouts
    return ok, failed


def outages(timeseries: Sequence[TimePoint], dark: Sequence[int]) -> tuple[Outage, ...]:
    """The `dark` seconds (no success; see harness.runner.run) grouped into outages, each with its recovery time.

    The reference throughput is the median ops/s of the lit seconds before the outage (after it, when
    the outage began the window); recovery is the first later second at RECOVERED_SHARE of it.
    """
    ok, failed = measured_per_second(timeseries)
    groups: list[list[int]] = []
    for second in sorted(dark):
        if groups and second == groups[-1][-1] + 1:
            groups[-1].append(second)
        else:
            groups.append([second])
    dark_set = set(dark)
    lit = sorted(t for t in ok if t not in dark_set)
    found = []
    for group in groups:
        start, end = group[0], group[-1] + 1
        before = [ok[t] for t in lit if t < start] or [ok[t] for t in lit if t >= end]
        reference = statistics.median(before) if before else 0.0
        back = next((t for t in lit if t >= end and ok[t] >= RECOVERED_SHARE * reference), None)
        found.append(Outage(start_s=start, seconds=len(group), failed=sum(failed.get(t, 0) for t in group),
                            recovery_s=None if back is None else float(back + 1 - end)))
    return tuple(found)


def seconds_text(seconds: Iterable[int]) -> str:
    """Seconds in words, consecutive ones as spans: [5] -> 'second 5'; [5, 6, 7] -> 'seconds 5-7';
    [3, 5, 6] -> 'seconds 3, 5-6'. Empty: 'no second'."""
    spans: list[list[int]] = []
    for second in sorted(set(seconds)):
        if spans and second == spans[-1][1] + 1:
            spans[-1][1] = second
        else:
            spans.append([second, second])
    if not spans:
        return "no second"
    if spans == [[spans[0][0], spans[0][0]]]:
        return f"second {spans[0][0]}"
    return "seconds " + ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)
