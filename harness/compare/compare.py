"""Two runs side by side, per operation: throughput and p50/p99/p99.9 with a verdict each.

Each metric knows whether higher is better. Runs of a different workload definition are
refused (their numbers mean different things); a different scale, engine, load profile or
engine settings is compared but loudly flagged. An invalid run is flagged here; the commands
refuse it (`refuse_invalid`) unless forced.

Verdicts (asv's rule, made strict about "unchanged"): a metric is *unchanged* only when its
whole confidence interval lies inside the minimum effect; *improved* / *regressed* when the
change is significant and at least the minimum effect; otherwise *inconclusive*. A percentile
q is not compared when either side has fewer than 10/(1-q) samples (20 for p50, 1,000 for p99,
10,000 for p99.9): it is marked "too few samples". Throughput is compared on the run's whole
measured seconds (`whole_seconds`, the same for every operation), so for all operations or none.
A verdict from the weaker fallback (bootstrap over single operations, under 3 seconds a side) stays
in its row but is never the headline: alone it makes the comparison inconclusive.

Outcome shares are compared too, per operation, whenever either side has any: the error share and
the timeout share (of all calls: count + errors + timeouts) and, for a must-hit operation, the
not-found share (of its successful calls). Their `change` is the difference of the shares
(candidate − baseline), its interval the Agresti–Caffo interval for a difference of two
proportions (Agresti & Caffo 2000) at the family-wise level, and the same rule decides with a
minimum effect of max(0.1 percentage point, min_effect × the baseline's share): a share that rose
significantly and by at least that much is *regressed*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from scipy.stats import norm

from harness.compare.samples import QUANTILE, min_samples
from harness.compare.stats import (
    block_bootstrap_ci,
    bootstrap_percentile_ci,
    mann_whitney_min_p,
    mann_whitney_p,
    seconds_for_mann_whitney,
)
from harness.errors import InvalidRunRefused, UserError
from harness.results.points import measured_points, whole_seconds
from harness.results.record import RunRecord

DEFAULT_THRESHOLD = 0.05  # minimum relative effect worth reporting (throughput and p50)
# Tails are noisier by nature: the minimum effect scales up for them.
TAIL_FACTOR = {"throughput": 1.0, "p50": 1.0, "p99": 2.0, "p999": 4.0}
ALPHA = 0.05
PER_SECOND = "block bootstrap over seconds"
PER_OPERATION = "bootstrap over operations"  # the weaker fallback: blind to drift within a run
SHARE_METHOD = "Agresti-Caffo interval of the difference of shares"
SHARE_FLOOR = 0.001  # an outcome share must move by at least 0.1 percentage point to count
# Outcome shares, in display order: metric -> the record's field (the share's numerator).
SHARES = {"error share": "errors", "timeout share": "timeouts", "not-found share": "not_found"}
METRICS = ["throughput", "p50", "p99", "p999", *SHARES]


class Verdict(StrEnum):
    IMPROVED = "improved"
    REGRESSED = "regressed"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"
    TOO_FEW = "too few samples"  # a percentile from fewer than min_samples values: shown, not compared
    TOO_SHORT = "too few seconds"  # throughput over too few seconds for its test to reach the level: not judged
    NOT_AVAILABLE = "n/a"


@dataclass(frozen=True)
class MetricChange:
    operation: str
    metric: str  # throughput | p50 | p99 | p999 | error share | timeout share | not-found share
    higher_is_better: bool
    before: float | None
    after: float | None
    change: float | None  # relative, (after - before) / before; for a share (SHARES) the difference after - before
    evidence: str  # the statistic behind the verdict
    verdict: Verdict
    interval: tuple[float, float] | None = None  # CI of the relative change, at the family-wise level
    method: str | None = None  # the statistic's method (PER_SECOND, PER_OPERATION, Mann-Whitney U)
    samples: tuple[int, int] = (0, 0)  # operations behind the value, baseline and candidate

    @property
    def weak(self) -> bool:
        """Improved or regressed on the weaker fallback (a bootstrap over single operations, blind to drift)."""
        return self.method == PER_OPERATION and self.verdict in (Verdict.IMPROVED, Verdict.REGRESSED)


@dataclass(frozen=True)
class Comparison:
    baseline: RunRecord
    candidate: RunRecord
    threshold: float
    changes: tuple[MetricChange, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        """The headline: regressed or improved only on a figure of full strength; a direction seen only on the
        weaker fallback (`weak_changes`) makes it inconclusive, never improved or regressed."""
        verdicts = {c.verdict for c in self.changes if not c.weak}
        for verdict in (Verdict.REGRESSED, Verdict.IMPROVED):
            if verdict in verdicts:
                return verdict
        if Verdict.INCONCLUSIVE in verdicts or self.weak_changes:
            return Verdict.INCONCLUSIVE
        return Verdict.UNCHANGED if verdicts - {Verdict.NOT_AVAILABLE, Verdict.TOO_FEW} else Verdict.NOT_AVAILABLE

    @property
    def alpha(self) -> float:
        """The significance level of each metric's test: the family's ALPHA over the metrics (Bonferroni)."""
        return ALPHA / max(1, len(self.changes))

    @property
    def weak_changes(self) -> list[MetricChange]:
        """Figures improved or regressed on the weaker statistic only (PER_OPERATION): shown, never a headline."""
        return [c for c in self.changes if c.weak]

    @property
    def regressions(self) -> list[MetricChange]:
        """What fails `--fail-on regressed`: regressions of full strength (a weak one counts as inconclusive)."""
        return [c for c in self.changes if c.verdict is Verdict.REGRESSED and not c.weak]

    @property
    def inconclusive(self) -> list[MetricChange]:
        return [c for c in self.changes if c.verdict is Verdict.INCONCLUSIVE or c.weak]

    @property
    def invalid(self) -> tuple[str, ...]:
        """One line per invalid side ('baseline RUN is INVALID: reasons'); empty when both are valid."""
        return invalid_sides(self.baseline, self.candidate)


def invalid_sides(baseline: RunRecord, candidate: RunRecord) -> tuple[str, ...]:
    """'baseline|candidate RUN is INVALID: reasons' for each invalid side."""
    return tuple(f"{side} {run.run_id} is INVALID: {'; '.join(run.invalid_reasons) or 'no reason recorded'}"
                 for side, run in (("baseline", baseline), ("candidate", candidate)) if not run.valid)


def refuse_invalid(baseline: RunRecord, candidate: RunRecord, force: bool = False) -> None:
    """InvalidRunRefused (one line naming the run and its reasons) when either side is invalid, unless `force`."""
    sides = invalid_sides(baseline, candidate)
    if sides and not force:
        raise InvalidRunRefused(f"{'; '.join(sides)} — its numbers do not describe the engine's work; "
                                "not compared (--force compares anyway, marked INVALID)")


def comparability(a: RunRecord, b: RunRecord, force: bool = False) -> list[str]:
    """Warnings about what differs between two runs; raises when they must not be compared."""
    if a.workload_hash != b.workload_hash and not force:
        raise UserError(
            f"runs {a.run_id} and {b.run_id} used different workload definitions "
            f"({a.workload} {a.workload_hash} vs {b.workload} {b.workload_hash}); pass --force to compare anyway"
        )
    warnings = []
    if a.workload_hash != b.workload_hash:
        warnings.append("DIFFERENT WORKLOAD DEFINITIONS (compared with --force)")
    if a.scale != b.scale:
        warnings.append(f"different scale: {a.scale:g} vs {b.scale:g}")
    if a.engine != b.engine:
        warnings.append(f"different engines: {a.engine} vs {b.engine}")
    if a.load != b.load:
        warnings.append(f"different load profiles: {load_difference(a, b)}")
    warnings += _settings_warnings(a, b)
    warnings += invalid_sides(a, b)
    return warnings


def load_difference(a: RunRecord, b: RunRecord) -> str:
    """Only the load-profile fields that differ, `field A vs B` joined by '; ' (e.g. 'duration_s 2 vs 3')."""
    first, second = a.load.model_dump(), b.load.model_dump()
    return "; ".join(f"{key} {_plain(first.get(key))} vs {_plain(second.get(key))}"
                     for key in sorted(first.keys() | second.keys()) if first.get(key) != second.get(key))


def _plain(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _settings_warnings(a: RunRecord, b: RunRecord) -> list[str]:
    """'different engine settings: names' when both sides' settings were read; else which side's could not be."""
    settings_a, settings_b = a.manifest.get("engine_settings", {}), b.manifest.get("engine_settings", {})
    unread = [f"{side} {run.run_id} ({settings['unavailable']})"
              for side, run, settings in (("baseline", a, settings_a), ("candidate", b, settings_b))
              if isinstance(settings, dict) and "unavailable" in settings]
    if unread:
        return [f"engine settings could not be read for {' and '.join(unread)}: not compared"]
    differing = sorted(k for k in set(settings_a) | set(settings_b) if settings_a.get(k) != settings_b.get(k))
    return [f"different engine settings: {', '.join(differing)}"] if differing else []


def _per_second_throughput(record: RunRecord, op: str) -> list[float]:
    """The operation's count in each of the run's whole seconds (`whole_seconds`); 0 in one it made no call in."""
    counts = {p.t: p.count for p in measured_points(record, op)}
    return [float(counts.get(t, 0)) for t in whole_seconds(record)]


def _per_second(record: RunRecord, op: str, metric: str) -> list[float]:
    """Per-second values of a latency percentile over the run's whole seconds (`whole_seconds`)."""
    values = [getattr(p, f"{metric}_us") for p in measured_points(record, op, whole=True)]
    return [float(v) for v in values if v is not None]


def _decide(change: float | None, interval: tuple[float, float] | None, significant: bool | None,
            higher_is_better: bool, min_effect: float) -> Verdict:
    """Unchanged only when the whole interval lies inside ±min_effect; a verdict of direction needs
    significance and a change of at least min_effect; anything else is inconclusive."""
    if change is None or (interval is None and significant is None):
        return Verdict.NOT_AVAILABLE
    if interval is not None and -min_effect < interval[0] and interval[1] < min_effect:
        return Verdict.UNCHANGED
    if significant and abs(change) >= min_effect:
        better = change > 0 if higher_is_better else change < 0
        return Verdict.IMPROVED if better else Verdict.REGRESSED
    return Verdict.INCONCLUSIVE


def _interval_text(interval: tuple[float, float] | None, confidence: float) -> str:
    return f"{confidence:.1%} CI of change [{interval[0]:+.1%}, {interval[1]:+.1%}]" if interval else "no interval"


def _throughput(a: RunRecord, b: RunRecord, name: str, alpha: float, min_effect: float) -> MetricChange:
    op_a, op_b = a.operations[name], b.operations[name]
    before, after = op_a.throughput_ops_s, op_b.throughput_ops_s
    seconds_a, seconds_b = _per_second_throughput(a, name), _per_second_throughput(b, name)
    p_value = mann_whitney_p(seconds_a, seconds_b)
    interval = block_bootstrap_ci(seconds_a, seconds_b, 1 - alpha)
    change = (after - before) / before if before else None
    method = "Mann-Whitney U and block bootstrap over seconds"
    if p_value is None:
        return MetricChange(name, "throughput", True, before, after, change,
                            f"not compared: {len(seconds_a)} and {len(seconds_b)} whole measured seconds, needs 3 a side",
                            Verdict.NOT_AVAILABLE, None, method, (op_a.count, op_b.count))
    evidence = f"Mann-Whitney U p={p_value:.3g} on per-second throughput; {_interval_text(interval, 1 - alpha)}"
    if mann_whitney_min_p(len(seconds_a), len(seconds_b)) >= alpha:  # no change could reach the level
        return MetricChange(name, "throughput", True, before, after, change,
                            f"not judged: {len(seconds_a)} and {len(seconds_b)} whole seconds; at {alpha:.2%} a metric "
                            f"the test needs {seconds_for_mann_whitney(alpha)} a side ({evidence})",
                            Verdict.TOO_SHORT, interval, method, (op_a.count, op_b.count))
    return MetricChange(name, "throughput", True, before, after, change, evidence,
                        _decide(change, interval, p_value < alpha, True, min_effect),
                        interval, method, (op_a.count, op_b.count))


def _latency(a: RunRecord, b: RunRecord, name: str, metric: str, alpha: float, min_effect: float) -> MetricChange:
    op_a, op_b = a.operations[name], b.operations[name]
    lat_a, lat_b = op_a.latency_us, op_b.latency_us
    samples = (op_a.count, op_b.count)
    if lat_a is None or lat_b is None:
        return MetricChange(name, metric, False, None, None, None, "no latency", Verdict.NOT_AVAILABLE,
                            samples=samples)
    before_us, after_us = getattr(lat_a, metric), getattr(lat_b, metric)
    change = (after_us - before_us) / before_us if before_us else None
    need = min_samples(metric)
    if min(samples) < need:
        return MetricChange(name, metric, False, before_us, after_us, change,
                            f"not compared: {_few_sides(samples, need)}, {metric} needs {need:,} (10/(1-q))",
                            Verdict.TOO_FEW, samples=samples)
    method = PER_SECOND
    interval = block_bootstrap_ci(_per_second(a, name, metric), _per_second(b, name, metric), 1 - alpha)
    if interval is None:  # too short for per-second samples: resample operations
        method = PER_OPERATION
        interval = bootstrap_percentile_ci(op_a.histogram, op_b.histogram, 100 * QUANTILE[metric],
                                           confidence=1 - alpha)
    significant = None if interval is None else (interval[0] > 0 or interval[1] < 0)
    evidence = f"{method}: {_interval_text(interval, 1 - alpha)}" if interval else "too few samples"
    return MetricChange(name, metric, False, before_us, after_us, change, evidence,
                        _decide(change, interval, significant, False, min_effect * TAIL_FACTOR[metric]),
                        interval, method if interval else None, samples)


def _few_sides(samples: tuple[int, int], need: int) -> str:
    """Which side(s) had too few samples: "baseline 4,398 samples" or "both sides (120 and 124 samples)"."""
    short = [f"{side} {n:,} samples" for side, n in zip(("baseline", "candidate"), samples) if n < need]
    return short[0] if len(short) == 1 else f"both sides ({samples[0]:,} and {samples[1]:,} samples)"


def _share_of(record: RunRecord, name: str, metric: str) -> tuple[int, int]:
    """(outcomes, calls) behind one share: not found of the successful calls, errors or timeouts of all calls."""
    op = record.operations[name]
    if metric == "not-found share":
        return op.not_found, op.count
    return getattr(op, SHARES[metric]), op.count + op.errors + op.timeouts


def _has_share(a: RunRecord, b: RunRecord, name: str, metric: str) -> bool:
    """Whether a share is worth a row: either side has such outcomes (not found: a must-hit operation)."""
    if metric == "not-found share" and not (a.operations[name].must_hit or b.operations[name].must_hit):
        return False
    return bool(_share_of(a, name, metric)[0] or _share_of(b, name, metric)[0])


def agresti_caffo(x_a: int, n_a: int, x_b: int, n_b: int, confidence: float) -> tuple[float, float]:
    """Two-sided CI of p_b - p_a for proportions x_a/n_a and x_b/n_b (Agresti & Caffo 2000: one success and
    one failure added to each sample, then the Wald interval; good coverage even at zero counts)."""
    p_a, p_b = (x_a + 1) / (n_a + 2), (x_b + 1) / (n_b + 2)
    se = (p_a * (1 - p_a) / (n_a + 2) + p_b * (1 - p_b) / (n_b + 2)) ** 0.5
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    return p_b - p_a - z * se, p_b - p_a + z * se


def _share(a: RunRecord, b: RunRecord, name: str, metric: str, alpha: float, min_effect: float) -> MetricChange:
    """One outcome share side by side; regressed when it rose significantly by at least its minimum effect."""
    (x_a, n_a), (x_b, n_b) = _share_of(a, name, metric), _share_of(b, name, metric)
    if not n_a or not n_b:
        return MetricChange(name, metric, False, x_a / n_a if n_a else None, x_b / n_b if n_b else None, None,
                            "no calls on one side", Verdict.NOT_AVAILABLE, samples=(n_a, n_b))
    before, after = x_a / n_a, x_b / n_b
    interval = agresti_caffo(x_a, n_a, x_b, n_b, 1 - alpha)
    effect = max(SHARE_FLOOR, min_effect * before)
    evidence = (f"{x_a:,} of {n_a:,} vs {x_b:,} of {n_b:,}; {1 - alpha:.1%} CI of the difference "
                f"[{100 * interval[0]:+.2f}, {100 * interval[1]:+.2f}] pp; minimum effect {100 * effect:.2f} pp")
    significant = interval[0] > 0 or interval[1] < 0
    return MetricChange(name, metric, False, before, after, after - before, evidence,
                        _decide(after - before, interval, significant, False, effect), interval, SHARE_METHOD,
                        (n_a, n_b))


def _fallback_warning(changes: list[MetricChange]) -> list[str]:
    weaker = [f"{c.operation} {c.metric}" for c in changes if c.method == PER_OPERATION]
    if not weaker:
        return []
    return [f"weaker statistics for {len(weaker)} metric(s) ({', '.join(weaker)}): fewer than 3 measured seconds, "
            f"so the interval resamples single operations and ignores drift within a run — "
            f"run longer for a per-second interval"]


def compare(a: RunRecord, b: RunRecord, threshold: float = DEFAULT_THRESHOLD, force: bool = False) -> Comparison:
    """Compare candidate `b` against baseline `a`; `threshold` is the minimum relative effect (0.05 = 5%)."""
    warnings = comparability(a, b, force)
    changes: list[MetricChange] = []
    shared = sorted(a.operations.keys() & b.operations.keys())
    shares = [(name, metric) for name in shared for metric in SHARES if _has_share(a, b, name, metric)]
    # Bonferroni: every metric of every operation is a test; the family stays at ALPHA.
    alpha = ALPHA / max(1, 4 * len(shared) + len(shares))
    for name in shared:
        changes.append(_throughput(a, b, name, alpha, threshold))
        changes += [_latency(a, b, name, metric, alpha, threshold) for metric in ("p50", "p99", "p999")]
    changes += [_share(a, b, name, metric, alpha, threshold) for name, metric in shares]
    changes.sort(key=lambda c: (c.operation, METRICS.index(c.metric)))
    warnings += _fallback_warning(changes) + _short_warning(changes, alpha)
    if a.run_id == b.run_id:
        warnings.append("both sides are the same run: the intervals show only the resampling's spread")
    return Comparison(a, b, threshold, tuple(changes), tuple(warnings))


def _short_warning(changes: list[MetricChange], alpha: float) -> list[str]:
    short = [c.operation for c in changes if c.verdict is Verdict.TOO_SHORT]
    if not short:
        return []
    return [f"throughput not judged ({', '.join(short)}): too few whole measured seconds for Mann-Whitney U to reach "
            f"{alpha:.2%} a metric, however large the change; measure at least {seconds_for_mann_whitney(alpha)} s"]
