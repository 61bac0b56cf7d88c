"""The open-loop wait: never before its deadline, close to it, other greenlets served meanwhile, no fd left open."""

from __future__ import annotations

import os
import random
import statistics
import sys
import time

import gevent
import pytest

from harness.runner import waiting
from harness.runner.waiting import MARGIN_MAX_NS, Margin, SleepWaiter, TimerfdWaiter, Waiter, new_waiter

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")
WAITS = 200


class NoMargin(Margin):
    """Armed at the deadline itself: the kernel timer alone decides when the wait ends."""

    def observe(self, delay_ns: int) -> None:
        pass


def lateness_ns(waiter: Waiter, waits: int = WAITS, seed: int = 1) -> list[int]:
    """How late each of `waits` waits ended (ns), for deadlines 0.2-2 ms ahead; a wait that ended early fails."""
    rng, clock, late = random.Random(seed), time.perf_counter_ns, []
    for _ in range(waits):
        deadline = clock() + rng.randrange(200_000, 2_000_000)
        waiter.until(deadline)
        woke = clock()
        assert woke >= deadline, f"the wait ended {deadline - woke} ns before its deadline"
        late.append(woke - deadline)
    return late


@linux_only
def test_the_timer_runs_on_the_clock_the_runner_reads() -> None:
    """Deadlines are time.perf_counter_ns values and the timerfd is armed on CLOCK_MONOTONIC: the same clock."""
    assert "CLOCK_MONOTONIC" in time.get_clock_info("perf_counter").implementation


@linux_only
def test_a_timerfd_wait_never_ends_before_its_deadline_and_ends_close_to_it() -> None:
    waiter = TimerfdWaiter(Margin())
    try:
        late = lateness_ns(waiter)
    finally:
        waiter.close()
    assert statistics.median(late) < 5_000_000  # loose: a shared CI machine; benchmarks/pacing.py measures


@linux_only
def test_without_a_margin_the_timer_alone_never_wakes_early() -> None:
    waiter = TimerfdWaiter(NoMargin(start_ns=0))
    try:
        lateness_ns(waiter, waits=100)
    finally:
        waiter.close()


def test_the_gevent_sleep_wait_never_ends_before_its_deadline() -> None:
    assert statistics.median(lateness_ns(SleepWaiter(), waits=100)) < 5_000_000


@linux_only
def test_other_greenlets_run_while_users_wait_and_each_keeps_its_own_deadlines() -> None:
    turns = 0

    def busy() -> None:
        nonlocal turns
        for _ in range(100_000):  # bounded: ends long before the test would hang
            turns += 1
            gevent.sleep(0.0005)

    def user(seed: int) -> list[int]:
        waiter = new_waiter()
        try:
            return lateness_ns(waiter, waits=40, seed=seed)
        finally:
            waiter.close()

    other = gevent.spawn(busy)
    users = [gevent.spawn(user, seed) for seed in range(8)]
    gevent.joinall(users, timeout=30, raise_error=True)
    other.kill()
    assert all(u.successful() and len(u.value) == 40 for u in users)
    assert turns > 10  # 8 × 40 waits of ~1 ms: the busy greenlet ran all along


@linux_only
def test_closing_a_waiter_releases_its_descriptor() -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        waiter = TimerfdWaiter(Margin())
        waiter.until(time.perf_counter_ns() + 100_000)
        fd = waiter.fd
        waiter.close()
        waiter.close()  # twice is harmless
        with pytest.raises(OSError):
            os.fstat(fd)
    assert len(os.listdir("/proc/self/fd")) == before


@linux_only
def test_a_user_killed_mid_wait_can_close_its_waiter() -> None:
    waiter = TimerfdWaiter(Margin())
    glet = gevent.spawn(waiter.until, time.perf_counter_ns() + 10 * 1_000_000_000)
    gevent.sleep(0.01)
    glet.kill()  # Locust stops a user this way (GreenletExit in the wait)
    assert glet.dead
    fd = waiter.fd
    waiter.close()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_the_margin_settles_at_the_75th_percentile_of_the_wake_up_delay() -> None:
    rng = random.Random(7)
    margin, settled = Margin(start_ns=0), []
    for n in range(20_000):
        margin.observe(rng.randrange(0, 80_001))  # uniform 0-80 µs: 75th percentile 60 µs
        if n >= 10_000:
            settled.append(margin.ns)
    assert 58_000 <= statistics.mean(settled) <= 62_000


def test_the_margin_stays_within_its_bounds() -> None:
    margin = Margin(start_ns=0)
    for _ in range(1_000):
        margin.observe(10 * MARGIN_MAX_NS)
    assert margin.ns == MARGIN_MAX_NS
    for _ in range(1_000):
        margin.observe(0)
    assert margin.ns == 0


@linux_only
def test_a_process_out_of_descriptors_waits_with_gevent_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: TimerfdWaiter, margin: Margin | None = None) -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(TimerfdWaiter, "__init__", refuse)
    assert isinstance(new_waiter(), SleepWaiter)


def test_the_benchmarks_switch_selects_the_gevent_sleep_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(waiting.WAIT_ENV, "gevent-sleep")
    assert isinstance(new_waiter(), SleepWaiter)
    monkeypatch.delenv(waiting.WAIT_ENV)
    waiter = new_waiter()
    try:
        assert isinstance(waiter, TimerfdWaiter if sys.platform.startswith("linux") else SleepWaiter)
    finally:
        waiter.close()
