"""Key-choice samplers: setup time, cost per draw, and where the reads go, old code vs new.

    .venv/bin/python benchmarks/samplers.py [--rounds 15]

1. Setup: 16 zipfian choosers over 10M records, each until its first draw (target < 50 ms
   in total, after one warm-up chooser so numpy's first-call costs, paid once per process,
   are not counted; the old YCSB zeta sum took ~0.82 s per chooser: measured for one, x 16).
2. ns per draw, old vs new, alternating blocks (old, new, old, new, ...) so both see the
   same machine load; the median of each.
3. Top-100 share of 10,000 records, zipfian 0.99, with no inserts and with the default
   5%-insert mix (the issue measured 53.5% and 2.4% on the old code; the exact share of the
   100 first ranks is printed beside).
The "old" classes are the code this replaced (harness/dataset/keys.py and generate.py at
a093698), kept here only to compare against.
"""

from __future__ import annotations

import argparse
import bisect
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from harness.dataset.generate import mix64, vocabulary, zipf_sampler, zipf_word
from harness.dataset.keys import Hotspot, KeyChooser, Latest, Uniform, Zipfian
from harness.dataset.zipf import Scramble

BIG = 10_000_000
USERS = 16


class OldZipfian:
    """The replaced chooser: YCSB/Gray with zeta(N) summed in Python, `mix64(rank) % size`."""

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
        else:
            self._zetan += sum(1.0 / (i ** self.theta) for i in range(self._size + 1, size + 1))
        self._size = size
        self._eta = (1 - (2.0 / size) ** (1 - self.theta)) / (1 - self._zeta2 / self._zetan) if size > 2 else 1.0

    def rank(self, size: int) -> int:
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


class OldLatest:
    def __init__(self, rng: random.Random, constant: float = 0.99) -> None:
        self._zipf = OldZipfian(rng, constant, scrambled=False)

    def next(self, size: int) -> int:
        return size - 1 - self._zipf.rank(size)


class OldHotspot:
    def __init__(self, rng: random.Random, hot_fraction: float, hot_share: float) -> None:
        self._random = rng.random
        self.hot_fraction = hot_fraction
        self.hot_share = hot_share

    def next(self, size: int) -> int:
        hot = max(1, int(size * self.hot_fraction))
        if self._random() < self.hot_share or hot >= size:
            return mix64(int(self._random() * hot)) % size
        return mix64(hot + int(self._random() * (size - hot))) % size


@lru_cache(maxsize=8)
def _old_zipf_cdf(size: int, exponent: float = 1.0) -> tuple[float, ...]:
    total, acc, out = sum(1.0 / (r ** exponent) for r in range(1, size + 1)), 0.0, []
    for rank in range(1, size + 1):
        acc += 1.0 / (rank ** exponent)
        out.append(acc / total)
    return tuple(out)


def old_zipf_word(words: tuple[str, ...], h: int) -> str:
    u = (h >> 11) / float(1 << 53)
    return words[min(bisect.bisect_left(_old_zipf_cdf(len(words)), u), len(words) - 1)]


class OldHashZipf:
    def __init__(self, size: int, theta: float) -> None:
        self.size, self.theta = size, theta
        self.zetan = sum(1.0 / (r ** theta) for r in range(1, size + 1))
        zeta2 = 1.0 + 0.5 ** theta
        self.alpha = 1.0 / (1.0 - theta) if theta != 1.0 else 1e9
        self.eta = (1 - (2.0 / size) ** (1 - theta)) / (1 - zeta2 / self.zetan) if size > 2 else 1.0

    def rank(self, h: int) -> int:
        u = (h >> 11) / float(1 << 53)
        uz = u * self.zetan
        if uz < 1.0:
            return 0
        if uz < 1.0 + 0.5 ** self.theta:
            return min(1, self.size - 1)
        return min(self.size - 1, int(self.size * (self.eta * u - self.eta + 1) ** self.alpha))


def setup_seconds(make: Callable[[random.Random], KeyChooser], users: int) -> float:
    began = time.perf_counter()
    for user in range(users):
        make(random.Random(user)).next(BIG)
    return time.perf_counter() - began


def block_ns(draw: Callable[[], object], n: int) -> float:
    began = time.perf_counter()
    for _ in range(n):
        draw()
    return (time.perf_counter() - began) / n * 1e9


def paired(old: Callable[[], object], new: Callable[[], object], rounds: int, n: int = 20_000) -> tuple[float, float]:
    """Median ns per call of `old` and `new`, timed in alternating blocks."""
    olds, news = [], []
    for _ in range(rounds):
        olds.append(block_ns(old, n))
        news.append(block_ns(new, n))
    return statistics.median(olds), statistics.median(news)


def top100(make: Callable[[random.Random, int], KeyChooser], insert_ratio: float, ops: int = 100_000) -> float:
    rng, size, reads = random.Random(20), 10_000, Counter[int]()
    chooser = make(rng, 10_000 + int(2 * ops * insert_ratio))  # YCSB: loaded + 2 x expected inserts
    for _ in range(ops):
        if rng.random() < insert_ratio:
            size += 1
        else:
            reads[chooser.next(size)] += 1
    return sum(c for _, c in reads.most_common(100)) / reads.total()


def draw_rows(size: int) -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    """(name, old draw, new draw) at a steady key-space size (the old code's cheapest case)."""
    old_z, new_z = OldZipfian(random.Random(1)), Zipfian(random.Random(1), 0.99, capacity=size)
    old_l, new_l = OldLatest(random.Random(1)), Latest(random.Random(1), 0.99, capacity=size)
    old_h, new_h = OldHotspot(random.Random(1), 0.2, 0.8), Hotspot(random.Random(1), 0.2, 0.8, capacity=size)
    uniform = Uniform(random.Random(1))
    words = vocabulary(5_000)
    old_ref, new_ref, scramble = OldHashZipf(100_000, 0.9), zipf_sampler(100_000, 0.9), Scramble(100_000, key=5)
    counter = iter(range(1 << 62))
    old_z.next(size), old_l.next(size)  # the old setup (zeta sum) outside the timing
    old_zipf_word(words, 1)
    return [
        ("zipfian 0.99", lambda: old_z.next(size), lambda: new_z.next(size)),
        ("latest 0.99", lambda: old_l.next(size), lambda: new_l.next(size)),
        ("hotspot 0.2/0.8", lambda: old_h.next(size), lambda: new_h.next(size)),
        ("uniform (unchanged)", lambda: uniform.next(size), lambda: uniform.next(size)),
        ("generator: text term (5,000 words)", lambda: old_zipf_word(words, mix64(next(counter))),
         lambda: zipf_word(words, mix64(next(counter)))),
        ("generator: ref, 100,000 targets", lambda: mix64(old_ref.rank(mix64(next(counter))) + 5) % 100_000,
         lambda: scramble(new_ref.rank_of_hash(mix64(next(counter))))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="alternating timing blocks per row")
    args = parser.parse_args()

    print(f"1. setup of {USERS} zipfian choosers over {BIG:,} records (until each one's first draw)")
    Zipfian(random.Random(0), 0.99, capacity=100).next(100)  # warm the code path (numpy's first calls)
    new = setup_seconds(lambda rng: Zipfian(rng, 0.99, capacity=BIG), USERS)
    grow = setup_seconds(lambda rng: Zipfian(rng, 0.99), USERS)
    old_one = setup_seconds(lambda rng: OldZipfian(rng), 1)
    print(f"   new, capacity given    {new * 1e3:10.1f} ms   (target < 50 ms)")
    print(f"   new, capacity None     {grow * 1e3:10.1f} ms")
    print(f"   old                    {old_one * USERS * 1e3:10.1f} ms   ({old_one * 1e3:.0f} ms for one, x {USERS})")

    size = 1_000_000
    print(f"\n2. ns per draw at {size:,} records, median of {args.rounds} alternating blocks of 20,000")
    print(f"   {'':36s} {'old':>8s} {'new':>8s} {'new/old':>8s}")
    for name, old, new_draw in draw_rows(size):
        old_ns, new_ns = paired(old, new_draw, args.rounds)
        print(f"   {name:36s} {old_ns:8.0f} {new_ns:8.0f} {new_ns / old_ns:8.2f}")

    print("\n3. top-100 share of 10,000 records, zipfian 0.99, 100,000 operations")
    weights = np.arange(1, 10_001, dtype=np.float64) ** -0.99
    print(f"   exact share of the 100 first ranks: {weights[:100].sum() / weights.sum():.1%}")
    for label, ratio in (("no inserts", 0.0), ("5% inserts", 0.05)):
        old_share = top100(lambda rng, _capacity: OldZipfian(rng), ratio)
        new_share = top100(lambda rng, capacity: Zipfian(rng, 0.99, capacity=capacity), ratio)
        print(f"   {label:12s} old {old_share:7.1%}   new {new_share:7.1%}")


if __name__ == "__main__":
    main()
