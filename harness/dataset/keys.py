"""Which record an operation touches: uniform, zipfian, latest, hotspot, sequential.

Pure functions of a random stream and the key-space size, so they are tested without I/O.
`next(size)` returns a position in [0, size): the records that exist now (loaded plus
acknowledged inserts). Popularity is a property of an item's rank in a fixed item space of
`capacity` items (loaded + expected inserts), never of the current size, so the hot set
stays put while the key space grows (YCSB CoreWorkload: ScrambledZipfianGenerator over
insertstart..insertcount + expectednewkeys, redrawing keys not yet acknowledged).

Capacity: pass it when known (the run's loaded records plus the inserts it expects);
None takes the size of the first call. Either way it doubles whenever a size exceeds it. A
doubling changes the normalisation and the scramble, so the hot set moves once per
doubling — pass a capacity to avoid that.

Zipfian ranks are drawn by rejection-inversion (harness.dataset.zipf, O(1) setup for any
exponent > 0 including 1.0), in numpy batches of `BATCH` from a generator seeded once
from the caller's `random.Random`, so a draw costs a list pop on the hot path.
"""

from __future__ import annotations

import math
import random
from typing import Protocol

import numpy as np

from harness.dataset.zipf import Scramble, ZipfSampler
from harness.spec.models import Distribution, Operation

BATCH = 2048  # draws generated per numpy call (the first ones smaller: a quick first draw)
FIRST_BATCH = 128
MAX_TRIES = 1000  # redraws of a position not yet inserted before the fallback (see `Zipfian`)


class KeyChooser(Protocol):
    def next(self, size: int) -> int:
        """An index in [0, size); size >= 1."""


class Uniform:
    def __init__(self, rng: random.Random) -> None:
        self._random = rng.random

    def next(self, size: int) -> int:
        return int(self._random() * size)


class _ItemSpace:
    """A fixed item space of `capacity` positions whose i.i.d. draws are buffered.

    Subclasses fill `_buffer` with positions in [0, capacity); `next(size)` pops them and
    redraws any at or past `size` (an item not inserted yet), as YCSB CoreWorkload's
    nextKeynum loop does. After MAX_TRIES misses in a row — only when the existing records
    are a tiny fraction (< ~1%) of the capacity — it returns the last draw modulo `size`.
    """

    def __init__(self, rng: random.Random, capacity: int | None) -> None:
        if capacity is not None and capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._gen = np.random.default_rng(rng.getrandbits(64))
        self.capacity = capacity or 0
        self._buffer: list[int] = []
        self._batch = FIRST_BATCH
        if capacity:
            self._resize(capacity)

    def _resize(self, capacity: int) -> None:
        self.capacity = capacity
        self._buffer = []

    def _refill(self) -> None:
        """Append i.i.d. draws (positions, or ranks for `Latest`) to `_buffer`."""
        raise NotImplementedError

    def _batch_size(self) -> int:
        """FIRST_BATCH, doubling per refill up to BATCH."""
        batch = self._batch
        self._batch = min(BATCH, batch * 2)
        return batch

    def _grow(self, size: int) -> None:
        capacity = self.capacity or size
        while capacity < size:
            capacity *= 2
        self._resize(capacity)

    def next(self, size: int) -> int:
        """A buffered position (a rank for `Latest`) below `size`, with the bounded redraw."""
        if size > self.capacity:
            self._grow(size)
        buffer = self._buffer
        item = 0
        for _ in range(MAX_TRIES):
            if not buffer:
                self._refill()
            item = buffer.pop()
            if item < size:
                return item
        return item % size


class Zipfian(_ItemSpace):
    """A record's popularity depends on its rank only: P(rank r) ∝ (r + 1)^-constant.

    Ranks over [0, capacity) are scrambled to positions by a fixed bijection
    (harness.dataset.zipf.Scramble; YCSB's ScrambledZipfianGenerator hashes them), then
    positions not yet inserted are redrawn (see `_ItemSpace`): the existing records keep
    their relative popularity exactly while the key space grows. Any constant > 0.
    """

    def __init__(self, rng: random.Random, constant: float = 0.99, capacity: int | None = None) -> None:
        self.theta = constant
        self._sampler = ZipfSampler(1, constant)  # refuses a constant <= 0 now; sized by _resize
        self._scramble = Scramble(1)
        super().__init__(rng, capacity)

    def _resize(self, capacity: int) -> None:
        super()._resize(capacity)
        self._sampler = ZipfSampler(capacity, self.theta)
        self._scramble = Scramble(capacity)

    def _refill(self) -> None:
        self._buffer.extend(self._scramble.array(self._sampler.ranks(self._gen, self._batch_size())).tolist())


class Latest(_ItemSpace):
    """Recent records are the most popular: zipfian on recency, position size - 1 - rank.

    Rank r in [0, size) with P(r) ∝ (r + 1)^-constant over the current size: ranks are
    drawn over [0, capacity) and those >= size redrawn, which is exactly the zipfian over
    [0, size) (a truncated zipfian is the zipfian of the smaller size). O(1) per call.
    """

    def __init__(self, rng: random.Random, constant: float = 0.99, capacity: int | None = None) -> None:
        self.theta = constant
        self._sampler = ZipfSampler(1, constant)  # refuses a constant <= 0 now; sized by _resize
        super().__init__(rng, capacity)

    def _resize(self, capacity: int) -> None:
        super()._resize(capacity)
        self._sampler = ZipfSampler(capacity, self.theta)

    def _refill(self) -> None:
        self._buffer.extend(self._sampler.ranks(self._gen, self._batch_size()).tolist())

    def next(self, size: int) -> int:
        return size - 1 - _ItemSpace.next(self, size)


class Hotspot(_ItemSpace):
    """`hot_share` of operations go to a fixed `hot_fraction` of the item space (YCSB HotspotIntegerGenerator).

    Items [0, hot) with hot = max(1, hot_fraction * capacity) are hot, the rest cold; each
    set is drawn uniformly, then items are scrambled to positions by a fixed bijection and
    positions not yet inserted are redrawn, so the hot set stays put while the key space
    grows (both sets are spread over the positions, so the hot share is kept).
    """

    def __init__(self, rng: random.Random, hot_fraction: float, hot_share: float,
                 capacity: int | None = None) -> None:
        self.hot_fraction = hot_fraction
        self.hot_share = hot_share
        self._scramble = Scramble(1)
        self.hot = 1
        super().__init__(rng, capacity)

    def _resize(self, capacity: int) -> None:
        super()._resize(capacity)
        self._scramble = Scramble(capacity)
        self.hot = min(capacity, max(1, int(capacity * self.hot_fraction)))

    def _refill(self) -> None:
        gen, hot, cold, batch = self._gen, self.hot, self.capacity - self.hot, self._batch_size()
        is_hot = gen.random(batch) < self.hot_share if cold else np.ones(batch, dtype=bool)
        unit = gen.random(batch)
        items = np.where(is_hot, unit * hot, hot + unit * cold).astype(np.int64)
        self._buffer.extend(self._scramble.array(items).tolist())


class Sequential:
    def __init__(self, start: int = 0) -> None:
        self._next = start

    def next(self, size: int) -> int:
        value = self._next % size
        self._next += 1
        return value


def chooser_for(op: Operation, rng: random.Random, start: int = 0, capacity: int | None = None) -> KeyChooser:
    """The chooser an operation's `distribution` names.

    `capacity` is the item space popularity ranks spread over: the loaded records plus the
    inserts expected during the run, >= any size later passed to `next` (None: the size of
    the first call; either way doubled whenever a size exceeds it, see the module
    docstring). Uniform and sequential ignore it. `start` is where a sequential chooser begins.
    """
    if op.distribution is Distribution.ZIPFIAN:
        return Zipfian(rng, op.zipf_constant, capacity)
    if op.distribution is Distribution.LATEST:
        return Latest(rng, op.zipf_constant, capacity)
    if op.distribution is Distribution.HOTSPOT:
        return Hotspot(rng, op.hot_fraction, op.hot_share, capacity)
    if op.distribution is Distribution.SEQUENTIAL:
        return Sequential(start)
    return Uniform(rng)


def zipf_skew(samples: list[int]) -> float:
    """Share of samples on the most frequent 1% of distinct keys (a test helper for skew)."""
    from collections import Counter

    counts = sorted(Counter(samples).values(), reverse=True)
    top = max(1, math.ceil(len(counts) * 0.01))
    return sum(counts[:top]) / max(1, len(samples))
