"""When each operation is due: pure arithmetic on time, no I/O, no sleeping.

In open loop every user has its own schedule of intended start times; the runner waits
for the next one and measures response time from it, so a stalled server shows up in
the latency instead of silently lowering the offered load (coordinated omission).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol

from harness.spec.suite import LoadProfile, Scenario

NS_PER_S = 1_000_000_000


class Schedule(Protocol):
    def next_ns(self) -> int:
        """The intended start of the next operation, in ns on the run's clock."""


class ClosedLoop:
    """No schedule: the next operation starts as soon as the previous one ends."""

    def next_ns(self) -> int:
        return 0


class Deterministic:
    """Evenly spaced starts at `rate` ops/s, beginning at `start_ns` (+ a per-user phase)."""

    def __init__(self, rate: float, start_ns: int, phase: float = 0.0) -> None:
        self.interval_ns = NS_PER_S / rate
        self.start_ns = start_ns + int(phase * self.interval_ns)
        self.n = 0

    def next_ns(self) -> int:
        due = self.start_ns + int(self.n * self.interval_ns)
        self.n += 1
        return due


class Poisson:
    """Starts with exponentially distributed gaps (a Poisson process) at mean `rate` ops/s."""

    def __init__(self, rate: float, start_ns: int, rng: random.Random) -> None:
        self.mean_gap_ns = NS_PER_S / rate
        self.t = float(start_ns)
        self._random = rng.random

    def next_ns(self) -> int:
        self.t += -math.log(1.0 - self._random()) * self.mean_gap_ns
        return int(self.t)


def per_user_rate(target_rate: float, total_users: int) -> float:
    """Each user's share of the target rate."""
    return target_rate / total_users


def schedule_for(
    target_rate: float | None,
    kind: str,
    *,
    total_users: int,
    user_slot: int,
    start_ns: int,
    rng: random.Random,
) -> Schedule:
    """A user's schedule: closed loop without a target rate, else its share of the rate."""
    if target_rate is None:
        return ClosedLoop()
    rate = per_user_rate(target_rate, total_users)
    if kind == "deterministic":
        # Spread users' phases so that starts are evenly spaced across all users.
        return Deterministic(rate, start_ns, phase=user_slot / total_users)
    return Poisson(rate, start_ns, rng)


@dataclass(frozen=True)
class Segment:
    """A stretch of the run during which one user's pacing does not change.

    `rate` is the open-loop target (ops/s) of the group of `group_users` users this user
    belongs to during the segment (None: closed loop); `position` is its index in that group
    (deterministic schedules spread the group's phases by it). An inactive user idles.
    """

    start_ns: int
    end_ns: int
    active: bool
    rate: float | None
    group_users: int
    position: int
    think_time_s: float = 0.0


def segments_for(load: LoadProfile, *, user_slot: int, t0_ns: int, measure_from_ns: int,
                 measure_until_ns: int) -> list[Segment]:
    """One user's segments from the start of warm-up to the end of the window (times in ns).

    Plain runs are one segment; with stages, the first stage also covers the warm-up and
    stage i starts at measure_from + the durations of the stages before it; with scenarios,
    the user's scenario (slots are given to scenarios in order) sets its group and rate.
    """
    if load.stages:
        segments, start, elapsed = [], t0_ns, 0.0
        for stage in load.stages:
            elapsed += stage.duration_s
            end = min(measure_until_ns, measure_from_ns + int(elapsed * NS_PER_S))
            group = stage.users or load.users
            segments.append(Segment(start, end, user_slot < group, stage.rate, group, user_slot, load.think_time_s))
            start = end
        return segments
    if load.scenarios:
        first = 0
        for scenario in load.scenarios:
            if user_slot < first + scenario.users:
                return [Segment(t0_ns, measure_until_ns, True, scenario.rate, scenario.users, user_slot - first,
                                scenario.think_time_s)]
            first += scenario.users
        return [Segment(t0_ns, measure_until_ns, False, None, 1, 0)]
    return [Segment(t0_ns, measure_until_ns, True, load.target_rate, load.users, user_slot, load.think_time_s)]


def scenario_of(load: LoadProfile, user_slot: int) -> Scenario | None:
    """The scenario user `user_slot` runs (slots are given to scenarios in order), if any."""
    first = 0
    for scenario in load.scenarios:
        if user_slot < first + scenario.users:
            return scenario
        first += scenario.users
    return None


def operation_share(operation_count: int | None, user_slot: int, total_users: int) -> int | None:
    """User `user_slot`'s share of `operation_count` measured operations (split exactly), None without a count."""
    if operation_count is None:
        return None
    share, extra = divmod(operation_count, total_users)
    return share + (1 if user_slot < extra else 0)
