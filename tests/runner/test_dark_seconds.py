"""Which measured seconds count as dark (nothing succeeded) in a run's merged per-second series."""

from __future__ import annotations

from harness.metrics.outages import outages
from harness.runner.run import _dark_seconds
from tests.metrics.test_outages import series


def test_a_whole_blocked_second_between_busy_ones_is_dark_a_partial_or_quiet_one_is_not() -> None:
    """Callers that waited through a restart leave an empty second with no failure: still an outage."""
    points = series([(300, 0), (300, 0), (0, 0), (310, 0), (2, 0), (0, 0), (3, 0), (300, 0), (0, 0)])
    dark, failed = _dark_seconds(points, warmup_s=2.0, measured_s=8.5)  # seconds 2..10, the last one partial
    assert (dark, failed) == ([4], 0)  # 7 sits between quiet seconds; 10 is only half in the window
    (outage,) = outages(points, dark)
    assert (outage.start_s, outage.recovery_s) == (4, 1.0)
