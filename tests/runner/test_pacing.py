"""Pacing is pure arithmetic: schedules are checked without any I/O or sleeping."""

from __future__ import annotations

import itertools
import random
import statistics

from harness.runner.pacing import NS_PER_S, ClosedLoop, Deterministic, Poisson, schedule_for


def test_closed_loop_has_no_intended_start() -> None:
    assert ClosedLoop().next_ns() == 0


def test_deterministic_schedule_is_evenly_spaced() -> None:
    schedule = Deterministic(rate=100, start_ns=5 * NS_PER_S)
    starts = [schedule.next_ns() for _ in range(101)]
    assert starts[0] == 5 * NS_PER_S
    assert starts[100] - starts[0] == NS_PER_S
    assert {b - a for a, b in itertools.pairwise(starts)} <= {10_000_000, 9_999_999, 10_000_001}


def test_users_share_the_rate_with_spread_phases() -> None:
    rng = random.Random(1)
    schedules = [schedule_for(1000, "deterministic", total_users=4, user_slot=u, start_ns=0, rng=rng) for u in range(4)]
    starts = sorted(s.next_ns() for s in schedules for _ in range(250))
    assert len(starts) == 1000
    assert starts[-1] < NS_PER_S  # 1000 ops in one second over all users
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert max(gaps) - min(gaps) <= 2  # evenly interleaved: 1 ms apart


def test_poisson_schedule_has_the_target_mean_rate() -> None:
    schedule = Poisson(rate=500, start_ns=0, rng=random.Random(7))
    starts = [schedule.next_ns() for _ in range(20_000)]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    mean_gap = statistics.fmean(gaps)
    assert abs(mean_gap - NS_PER_S / 500) / (NS_PER_S / 500) < 0.03
    # exponential gaps: standard deviation close to the mean
    assert abs(statistics.pstdev(gaps) / mean_gap - 1.0) < 0.05


def test_no_target_rate_means_closed_loop() -> None:
    assert isinstance(schedule_for(None, "poisson", total_users=2, user_slot=0, start_ns=0, rng=random.Random()), ClosedLoop)
