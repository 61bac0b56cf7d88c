"""When each operation is due: pure arithmetic on time, no I/O, no sleeping.

In open loop every user has its own schedule of intended start times; the runner waits
for the next one and measures response time from it, so a stalled server shows up in
the latency instead of silently lowering the offered load (coordinated omission).
"""

from __future__ import annotations

import math
import random
from typing import Protocol

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
