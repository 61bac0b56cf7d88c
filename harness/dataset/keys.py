"""Which record an operation touches: uniform, zipfian, latest, hotspot, sequential.

Pure functions of a random stream and the key-space size, so they are tested without I/O.
Zipfian follows YCSB (Gray et al., "Quickly generating billion-record synthetic
databases"), scrambled so that the hot records are spread over the key space instead of
clustered at its start.
"""

from __future__ import annotations

import math
import random
from typing import Protocol

from harness.dataset.generate import mix64
from harness.spec.models import Distribution, Operation


class KeyChooser(Protocol):
    def next(self, size: int) -> int:
        """An index in [0, size)."""


class Uniform:
    def __init__(self, rng: random.Random) -> None:
        self._random = rng.random

    def next(self, size: int) -> int:
        return int(self._random() * size)


class Zipfian:
    """YCSB's zipfian over ranks, scrambled by a hash so hot keys are spread."""

    def __init__(self, rng: random.Random, constant: float = 0.99, scrambled: bool = True) -> None:
        self._random = rng.random
        self.theta = constant
        self.scrambled = scrambled
        self._size = 0
        self._zetan = 0.0
        self._alpha = 1.0 / (1.0 - constant) if constant != 1.0 else 1e9
        self._zeta2 = self._zeta(2)

    def _zeta(self, n: int) -> float:
        return sum(1.0 / (i ** self.theta) for i in range(1, n + 1))

    def _resize(self, size: int) -> None:
        if self._size == 0 or size < self._size:
            self._zetan = self._zeta(size)
        else:  # incremental, as YCSB does when the key space grows with inserts
            self._zetan += sum(1.0 / (i ** self.theta) for i in range(self._size + 1, size + 1))
        self._size = size
        self._eta = (1 - (2.0 / size) ** (1 - self.theta)) / (1 - self._zeta2 / self._zetan) if size > 2 else 1.0

    def rank(self, size: int) -> int:
        """0 is the most popular rank."""
        if size != self._size:
            self._resize(size)
        u = self._random()
        uz = u * self._zetan
        if uz < 1.0:
            return 0
        if uz < 1.0 + 0.5 ** self.theta:
            return min(1, size - 1)
        return min(size - 1, int(size * (self._eta * u - self._eta + 1) ** self._alpha))

    def next(self, size: int) -> int:
        rank = self.rank(size)
        return mix64(rank) % size if self.scrambled else rank


class Latest:
    """Recent records are the most popular (zipfian on recency)."""

    def __init__(self, rng: random.Random, constant: float = 0.99) -> None:
        self._zipf = Zipfian(rng, constant, scrambled=False)

    def next(self, size: int) -> int:
        return size - 1 - self._zipf.rank(size)


class Hotspot:
    """`hot_share` of operations go to the first `hot_fraction` of keys (spread by a hash)."""

    def __init__(self, rng: random.Random, hot_fraction: float, hot_share: float) -> None:
        self._random = rng.random
        self.hot_fraction = hot_fraction
        self.hot_share = hot_share

    def next(self, size: int) -> int:
        hot = max(1, int(size * self.hot_fraction))
        if self._random() < self.hot_share or hot >= size:
            return mix64(int(self._random() * hot)) % size
        return mix64(hot + int(self._random() * (size - hot))) % size


class Sequential:
    def __init__(self, start: int = 0) -> None:
        self._next = start

    def next(self, size: int) -> int:
        value = self._next % size
        self._next += 1
        return value


def chooser_for(op: Operation, rng: random.Random, start: int = 0, capacity: int | None = None) -> KeyChooser:
    """The chooser an operation's `distribution` names.

    `capacity` is the item space the popularity ranks spread over (loaded records plus the
    inserts expected during the run, >= any size passed to `next`); None sizes it from the
    first call. (Signature first; the rank-stable zipfian that uses it follows.)
    """
    del capacity  # accepted now so callers can pass it; used by the growth-stable zipfian
    if op.distribution is Distribution.ZIPFIAN:
        return Zipfian(rng, op.zipf_constant)
    if op.distribution is Distribution.LATEST:
        return Latest(rng, op.zipf_constant)
    if op.distribution is Distribution.HOTSPOT:
        return Hotspot(rng, op.hot_fraction, op.hot_share)
    if op.distribution is Distribution.SEQUENTIAL:
        return Sequential(start)
    return Uniform(rng)


def zipf_skew(samples: list[int]) -> float:
    """Share of samples on the most frequent 1% of distinct keys (a test helper for skew)."""
    from collections import Counter

    counts = sorted(Counter(samples).values(), reverse=True)
    top = max(1, math.ceil(len(counts) * 0.01))
    return sum(counts[:top]) / max(1, len(samples))
