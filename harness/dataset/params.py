"""Per-call parameters of native operations, drawn from their declared distributions.

The counterpart of pgbench's `\\set name random(lb, ub)`, `random_zipfian(lb, ub, s)` and
`random_exponential(lb, ub, parameter)` (PostgreSQL docs, pgbench "Built-in functions"):
every value is an integer in [lb, ub], both included.

- uniform: each value equally likely.
- zipfian: lb the most popular, P(lb + r) proportional to (r + 1)^-zipf_constant, drawn by
  rejection-inversion (harness.dataset.zipf, Hörmann & Derflinger 1996): O(1) setup for any
  range and any exponent > 0 (pgbench accepts only exponents in [1.001, 1000]).
- exponential: pgbench's formula, P(lb + i) proportional to exp(-parameter * i / (ub - lb + 1)).

Bounds must already be integers: the workload is scaled (`Workload.scaled`) or evaluated at
scale 1 first (`resolved_bounds`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from harness.dataset.zipf import ZipfSampler
from harness.spec.expressions import evaluate
from harness.spec.models import ParamSpec

Draw = Callable[[], int]
DEFAULT_ZIPF_CONSTANT = 0.99  # as the operations' zipfian (YCSB's)


def resolved_bounds(spec: ParamSpec) -> tuple[int, int]:
    """[low, high] of `spec` as integers (expressions in `scale` taken at scale 1, the unscaled workload)."""
    low, high = spec.bounds
    return evaluate(low), evaluate(high)


def sampler(spec: ParamSpec, rng: random.Random) -> Draw:
    """A function drawing one value of `spec` per call from `rng`."""
    low, high = resolved_bounds(spec)
    span = high - low + 1
    uniform = rng.random
    if spec.distribution == "zipfian":
        ranks = ZipfSampler(span, spec.zipf_constant or DEFAULT_ZIPF_CONSTANT)
        return lambda: low + ranks.rank(uniform)
    if spec.distribution == "exponential":
        rate = float(spec.parameter or 1.0)
        cut = math.exp(-rate)

        def exponential() -> int:  # pgbench's getExponentialRand
            value = -math.log(cut + (1.0 - cut) * (1.0 - uniform()))
            return low + min(span - 1, int(span * value / rate))

        return exponential
    return lambda: low + int(uniform() * span)


def param_drawer(params: dict[str, ParamSpec], rng: random.Random) -> Callable[[], dict[str, int]]:
    """A function drawing every parameter once per call: name -> value."""
    draws = [(name, sampler(spec, rng)) for name, spec in params.items()]
    return lambda: {name: draw() for name, draw in draws}
