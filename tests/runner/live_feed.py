"""A stand-in master for the live page's tests: a gevent process serving a LiveView on synthetic snapshots.

`python -m tests.runner.live_feed [--seconds S]` prints the page's URL on its first line, feeds a
minute of varied history at once (warm-up then measure), then the same steady second (STEADY) every
0.2 s until S seconds have passed; finally it sends phase "done", stops the server and prints
"stopped". pytest's own process is not gevent-patched, so the tests drive this one instead.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import gevent
import locust  # noqa: F401  (gevent monkey-patching first, as in the run's master)

from harness.metrics.histogram import new_histogram
from harness.runner.live import LiveOperation, LiveSnapshot, LiveView
from harness.runner.progress import phase_clock

HISTORY = 60  # seconds of history fed at once
WARMUP = 10
TOTAL = 120.0
FEED_EVERY_S = 0.2

# The steady second: (operations, errors, latencies µs recorded as value -> count)
STEADY = {
    "read": (4321, 0, {180: 3000, 250: 1200, 1_800: 100, 3_100: 21}),
    "update": (987, 7, {400: 600, 900: 300, 6_400: 80}),
    "scan": (123, 0, {2_000: 100, 12_500: 23}),
}


def operation(count: int, errors: int, latencies: dict[int, int]) -> LiveOperation:
    histogram = new_histogram()
    for value, times in latencies.items():
        histogram.record_value(value, times)
    return LiveOperation.of(count, errors, histogram)


def varied(second: int) -> dict[str, LiveOperation]:
    """A plausible second: throughput and latency that wander, errors now and then on update."""
    wave = 1 + 0.25 * math.sin(second / 6)
    ops = {}
    for name, (count, errors, latencies) in STEADY.items():
        scaled = {int(value * (2 - wave)): times for value, times in latencies.items()}
        ops[name] = operation(int(count * wave), errors if second % 9 == 0 else 0, scaled)
    return ops


def snapshot(phase: str, elapsed: float, operations: dict[str, LiveOperation]) -> LiveSnapshot:
    own = phase_clock(elapsed, WARMUP, TOTAL - WARMUP) if phase in ("warm-up", "measure") else ("", 0.0, 0.0)
    _, own_s, own_total_s = own  # as the master: the warm-up and the measurement each have their own clock
    return LiveSnapshot(run="run-live-test", engine="fake", workload="kv-cache", phase=phase,  # type: ignore[arg-type]
                        elapsed_s=elapsed, total_s=TOTAL, phase_elapsed_s=own_s, phase_total_s=own_total_s,
                        operations=operations)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    view = LiveView()
    print(view.start(), flush=True)
    view.update(snapshot("loading", 0.0, {}))
    for second in range(1, HISTORY + 1):
        view.update(snapshot("warm-up" if second <= WARMUP else "measure", float(second), varied(second)))
    steady = {name: operation(*spec) for name, spec in STEADY.items()}
    deadline, elapsed = time.monotonic() + args.seconds, float(HISTORY)
    while time.monotonic() < deadline:
        elapsed += FEED_EVERY_S
        view.update(snapshot("measure", round(elapsed, 1), steady))
        gevent.sleep(FEED_EVERY_S)
    view.update(snapshot("done", round(elapsed, 1), steady))
    gevent.sleep(0.5)
    view.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
