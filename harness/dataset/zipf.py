"""Zipf ranks in O(1) setup for any exponent > 0, and a fixed scramble of ranks to positions.

`ZipfSampler` draws rank r in [0, n) with probability (r + 1)^-q / H(n, q) by
rejection-inversion: W. Hörmann and G. Derflinger, "Rejection-inversion to generate
variates from monotone discrete distributions", ACM TOMACS 6(3), 1996, with the hat
integral H(x) = (x^(1-q) - 1) / (1 - q) (limit log x at q = 1) that Apache Commons RNG's
`RejectionInversionZipfSampler` uses so that every q > 0, including exactly 1, works.
Setup is a few logarithms whatever n is (no harmonic sum); a sampler is immutable, so one
may be shared (the generator caches them). A draw costs one uniform and one exp/log1p
pair, with a rare second try (acceptance > 90%).

`Scramble` is a fixed pseudo-random bijection of [0, n): ranks become positions spread
over the item space (YCSB's ScrambledZipfianGenerator hashes ranks for the same reason,
but a hash modulo n leaves ~37% of positions without any rank; a bijection leaves none).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

_MASK64 = (1 << 64) - 1
_TO_UNIT = 1.0 / (1 << 53)
_M1 = 0xBF58476D1CE4E5B9  # splitmix64's multipliers (odd, so x -> x*M mod 2^k is a bijection)
_M2 = 0x94D049BB133111EB


def _remix(h: int) -> int:
    """splitmix64 step: the next 64-bit hash of a hash-driven draw's stream."""
    h = (h + 0x9E3779B97F4A7C15) & _MASK64
    h = ((h ^ (h >> 30)) * _M1) & _MASK64
    h = ((h ^ (h >> 27)) * _M2) & _MASK64
    return h ^ (h >> 31)


class ZipfSampler:
    """Rank r in [0, n) with P(r) = (r + 1)^-exponent / sum_{k=1..n} k^-exponent.

    `n` >= 1 records, `exponent` > 0 (YCSB's zipfian constant theta). Raises ValueError
    otherwise. Source: Hörmann & Derflinger 1996 (Algorithm ZRI with H(x) as in Apache
    Commons RNG's RejectionInversionZipfSampler; ranks there are 1-based, here 0-based).
    """

    __slots__ = ("_h_n", "_h_x1", "_omq", "_s", "exponent", "n")

    def __init__(self, n: int, exponent: float) -> None:
        if n < 1:
            raise ValueError(f"a zipf sampler needs at least one item, got n={n}")
        if not exponent > 0 or math.isinf(exponent):
            raise ValueError(f"the zipf exponent must be a finite number > 0, got {exponent}")
        self.exponent = float(exponent)
        self._omq = 1.0 - self.exponent
        self._h_x1 = self._h_integral(1.5) - 1.0
        self._s = 2.0 - self._h_integral_inverse(self._h_integral(2.5) - 2.0 ** -self.exponent)
        self.n = n
        self._h_n = self._h_integral(n + 0.5)  # the only term that depends on n

    def _h_integral(self, x: float) -> float:
        """H(x) = (x^(1-q) - 1) / (1 - q), log x at q = 1: the integral of the hat x^-q."""
        log_x = math.log(x)
        omq = self._omq
        return math.expm1(omq * log_x) / omq if omq else log_x

    def _h_integral_inverse(self, y: float) -> float:
        """H^-1(y) = (1 + (1 - q) y)^(1 / (1 - q)), exp(y) at q = 1 (as in `_one`)."""
        omq = self._omq
        if not omq:
            return math.exp(y)
        t = y * omq  # > -1 but for rounding at the far end of a huge n with q > 1
        return math.exp(math.log1p(t if t > -1.0 else -1.0 + 2.0 ** -52) / omq)

    def _one(self, unit: float) -> int:
        """One rejection-inversion proposal from a uniform in [0, 1): its rank, or -1 if rejected."""
        omq, h_n = self._omq, self._h_n
        u = h_n + unit * (self._h_x1 - h_n)
        if omq:
            t = u * omq
            x = math.exp(math.log1p(t if t > -1.0 else -1.0 + 2.0 ** -52) / omq)
        else:
            x = math.exp(u)
        k = int(x + 0.5)
        if k < 1:
            k = 1
        elif k > self.n:
            k = self.n
        if k - x <= self._s or u >= self._h_integral(k + 0.5) - k ** -self.exponent:
            return k - 1
        return -1

    def rank(self, random: Callable[[], float]) -> int:
        """A rank in [0, n) (0 the most popular), from a stream of uniforms in [0, 1)."""
        rank = self._one(random())
        while rank < 0:
            rank = self._one(random())
        return rank

    def ranks(self, gen: np.random.Generator, count: int) -> np.ndarray:
        """Up to `count` i.i.d. ranks (int64) at once: the accepted ones of `count` proposals.

        Dropping rejected proposals leaves exact draws (each accepted one is a full
        rejection-inversion variate); about 90-99% are accepted.
        """
        omq, h_n, n = self._omq, self._h_n, self.n
        u = h_n + gen.random(count) * (self._h_x1 - h_n)
        if omq:
            x = np.exp(np.log1p(np.maximum(u * omq, -1.0 + 2.0 ** -52)) / omq)
        else:
            x = np.exp(u)
        k = np.clip(np.floor(x + 0.5), 1.0, float(n))
        with np.errstate(over="ignore"):
            log_k = np.log(k + 0.5)
            h_k = np.expm1(omq * log_k) / omq if omq else log_k
            ok = (k - x <= self._s) | (u >= h_k - k ** -self.exponent)
        return k[ok].astype(np.int64) - 1

    def rank_of_hash(self, h: int) -> int:
        """A rank in [0, n) as a pure function of a 64-bit hash (deterministic data generation).

        The first try uses the hash's top 53 bits; a rejected try rehashes (splitmix64).
        """
        rank = self._one((h >> 11) * _TO_UNIT)
        while rank < 0:
            h = _remix(h)
            rank = self._one((h >> 11) * _TO_UNIT)
        return rank


class Scramble:
    """A fixed pseudo-random bijection of [0, n) (`key` selects one of many).

    On the smallest power-of-two domain holding n: xor the key, then twice multiply by an
    odd constant and xorshift (each step a bijection there, splitmix64's finaliser cut to
    the domain), then cycle-walking back into [0, n) (Black & Rogaway, "Ciphers with
    arbitrary finite domains", 2002): the expected number of rounds is below 2 since the
    domain is less than 2n. Depends on n only, never on how many items exist yet.
    """

    __slots__ = ("_key", "_mask", "_shift", "n")

    def __init__(self, n: int, key: int = 0x5DEECE66D) -> None:
        if n < 1:
            raise ValueError(f"a scramble needs at least one item, got n={n}")
        bits = max(1, (n - 1).bit_length())
        self.n = n
        self._mask = (1 << bits) - 1
        self._shift = max(1, (bits + 1) // 2)
        self._key = key & self._mask

    def __call__(self, x: int) -> int:
        n, mask, shift, key = self.n, self._mask, self._shift, self._key
        while True:
            x = ((x ^ key) * _M1) & mask
            x ^= x >> shift
            x = (x * _M2) & mask
            x ^= x >> shift
            if x < n:
                return x

    def array(self, values: np.ndarray) -> np.ndarray:
        """The same bijection over an integer array (the choosers' batches, tests' tables)."""
        y = self._round_array(np.asarray(values, dtype=np.uint64))
        n = np.uint64(self.n)
        todo = y >= n
        while todo.any():  # cycle-walk: whole-array rounds while many walk, then only those
            if np.count_nonzero(todo) * 4 > todo.size:
                y = np.where(todo, self._round_array(y), y)
                todo = y >= n
            else:
                walking = np.flatnonzero(todo)
                z = self._round_array(y[walking])
                y[walking] = z
                todo[walking] = z >= n
        return y.astype(np.int64)

    def _round_array(self, x: np.ndarray) -> np.ndarray:
        mask, shift = np.uint64(self._mask), np.uint64(self._shift)
        with np.errstate(over="ignore"):
            x = ((x ^ np.uint64(self._key)) * np.uint64(_M1)) & mask
            x ^= x >> shift
            x = (x * np.uint64(_M2)) & mask
            x ^= x >> shift
        return x
