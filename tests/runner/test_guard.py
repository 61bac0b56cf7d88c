"""The harness-side guard: a call past its deadline is stopped, a call within it and a sleeping user never are."""

from __future__ import annotations

import time

import gevent
import pytest
from greenlet import greenlet

from harness.runner.guard import CallTimedOut, Guard

NS = 1_000_000_000


class User:
    def __init__(self) -> None:
        self.op_greenlet: greenlet | None = None
        self.call: tuple[int, int, int] | None = None
        self.outcome = ""

    def run(self, call_s: float, then_sleep_s: float = 0.0) -> None:
        self.op_greenlet = gevent.getcurrent()
        start = time.perf_counter_ns()
        self.call = (0, 0, start)
        try:
            gevent.sleep(call_s)  # the driver waiting on its socket
            self.outcome = "done"
        except CallTimedOut:
            self.outcome = f"timed out after {(time.perf_counter_ns() - start) / NS:.2f}"
        self.call = None
        gevent.sleep(then_sleep_s)  # outside a call: never interrupted


def test_an_overdue_call_is_given_up_and_others_are_left_alone() -> None:
    hung, quick, idle = User(), User(), User()
    guard = Guard([hung, quick, idle], limits_ns=[int(0.3 * NS)], drain_end_ns=time.perf_counter_ns() + 60 * NS)
    try:
        began = time.monotonic()
        gevent.joinall([gevent.spawn(hung.run, 5.0), gevent.spawn(quick.run, 0.1),
                        gevent.spawn(idle.run, 0.0, 1.0)], timeout=10)
    finally:
        guard.stop()
    assert hung.outcome.startswith("timed out after")
    assert 0.3 <= float(hung.outcome.split()[-1]) <= 0.5  # the limit + at most ~2 periods of the guard
    assert quick.outcome == idle.outcome == "done"
    assert time.monotonic() - began < 2
    assert guard.fired == 1


def test_no_call_outlives_the_drain() -> None:
    user = User()
    guard = Guard([user], limits_ns=[60 * NS], drain_end_ns=time.perf_counter_ns() + int(0.2 * NS))
    try:
        gevent.spawn(user.run, 5.0).join(timeout=5)
    finally:
        guard.stop()
    assert user.outcome.startswith("timed out after")
    assert float(user.outcome.split()[-1]) == pytest.approx(0.25, abs=0.15)
