"""Two runs side by side, per operation: throughput and p50/p99/p99.9 with a verdict each.

Each metric knows whether higher is better. Runs of a different workload definition are
refused (their numbers mean different things); a different scale, engine, load profile or
engine settings is compared but loudly flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from harness.compare.stats import block_bootstrap_ci, bootstrap_percentile_ci, mann_whitney_p
from harness.errors import UserError
from harness.results.record import RunRecord

DEFAULT_THRESHOLD = 0.05  # minimum relative effect worth reporting (throughput and p50)
# Tails are noisier by nature: the minimum effect scales up for them.
TAIL_FACTOR = {"throughput": 1.0, "p50": 1.0, "p99": 2.0, "p999": 4.0}
ALPHA = 0.05


class Verdict(StrEnum):
    IMPROVED = "improved"
    REGRESSED = "regressed"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"
    NOT_AVAILABLE = "n/a"


@dataclass(frozen=True)
class MetricChange:
    operation: str
    metric: str  # throughput | p50 | p99 | p999
    higher_is_better: bool
    before: float | None
    after: float | None
    change: float | None  # relative, (after - before) / before
    evidence: str  # the statistic behind the verdict
    verdict: Verdict


@dataclass(frozen=True)
class Comparison:
    baseline: RunRecord
    candidate: RunRecord
    threshold: float
    changes: tuple[MetricChange, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        verdicts = {c.verdict for c in self.changes}
        for verdict in (Verdict.REGRESSED, Verdict.IMPROVED, Verdict.INCONCLUSIVE):
            if verdict in verdicts:
                return verdict
        return Verdict.UNCHANGED if verdicts - {Verdict.NOT_AVAILABLE} else Verdict.NOT_AVAILABLE

    @property
    def regressions(self) -> list[MetricChange]:
        return [c for c in self.changes if c.verdict is Verdict.REGRESSED]


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
        warnings.append(f"different load profiles: {a.load.model_dump()} vs {b.load.model_dump()}")
    settings_a, settings_b = a.manifest.get("engine_settings", {}), b.manifest.get("engine_settings", {})
    differing = sorted(k for k in set(settings_a) | set(settings_b) if settings_a.get(k) != settings_b.get(k))
    if differing:
        warnings.append(f"different engine settings: {', '.join(differing)}")
    for run in (a, b):
        if not run.valid:
            warnings.append(f"run {run.run_id} is INVALID: {'; '.join(run.invalid_reasons)}")
    return warnings


def _per_second_throughput(record: RunRecord, op: str) -> list[float]:
    """Measured per-second counts, without the last second (it may be cut short)."""
    counts = [float(p.count) for p in record.timeseries if p.op == op and p.phase == "measure"]
    return counts[:-1] if len(counts) > 3 else counts


def _per_second(record: RunRecord, op: str, metric: str) -> list[float]:
    """Per-second values of a latency percentile over the measured window."""
    values = [getattr(p, f"{metric}_us") for p in record.timeseries if p.op == op and p.phase == "measure"]
    return [float(v) for v in values if v is not None]


def _decide(change: float | None, significant: bool | None, higher_is_better: bool, threshold: float) -> Verdict:
    if change is None or significant is None:
        return Verdict.NOT_AVAILABLE
    if abs(change) < threshold:
        return Verdict.UNCHANGED
    if not significant:
        return Verdict.INCONCLUSIVE
    better = change > 0 if higher_is_better else change < 0
    return Verdict.IMPROVED if better else Verdict.REGRESSED


def compare(a: RunRecord, b: RunRecord, threshold: float = DEFAULT_THRESHOLD, force: bool = False) -> Comparison:
    """Compare candidate `b` against baseline `a`."""
    warnings = comparability(a, b, force)
    changes: list[MetricChange] = []
    shared = sorted(a.operations.keys() & b.operations.keys())
    # Bonferroni: every metric of every operation is a test; the family stays at ALPHA.
    alpha = ALPHA / max(1, 4 * len(shared))
    for name in shared:
        op_a, op_b = a.operations[name], b.operations[name]
        before, after = op_a.throughput_ops_s, op_b.throughput_ops_s
        p_value = mann_whitney_p(_per_second_throughput(a, name), _per_second_throughput(b, name))
        change = (after - before) / before if before else None
        changes.append(MetricChange(
            name, "throughput", True, before, after, change,
            f"Mann-Whitney U p={p_value:.3g} on per-second throughput" if p_value is not None else "too few seconds",
            _decide(change, None if p_value is None else p_value < alpha, True, threshold),
        ))
        for metric, percentile in (("p50", 50.0), ("p99", 99.0), ("p999", 99.9)):
            lat_a, lat_b = op_a.latency_us, op_b.latency_us
            if lat_a is None or lat_b is None:
                changes.append(MetricChange(name, metric, False, None, None, None, "no latency", Verdict.NOT_AVAILABLE))
                continue
            before_us, after_us = getattr(lat_a, metric), getattr(lat_b, metric)
            method = "block bootstrap over seconds"
            interval = block_bootstrap_ci(_per_second(a, name, metric), _per_second(b, name, metric), 1 - alpha)
            if interval is None:  # too short for per-second samples: resample operations
                method = "bootstrap over operations"
                interval = bootstrap_percentile_ci(op_a.histogram, op_b.histogram, percentile, confidence=1 - alpha)
            significant = None if interval is None else (interval[0] > 0 or interval[1] < 0)
            evidence = (f"{method}: {1 - alpha:.1%} CI of change [{interval[0]:+.1%}, {interval[1]:+.1%}]"
                        if interval else "too few samples")
            change = (after_us - before_us) / before_us if before_us else None
            changes.append(MetricChange(name, metric, False, before_us, after_us, change, evidence,
                                        _decide(change, significant, False, threshold * TAIL_FACTOR[metric])))
    changes.sort(key=lambda c: (c.operation, ["throughput", "p50", "p99", "p999"].index(c.metric)))
    return Comparison(a, b, threshold, tuple(changes), tuple(warnings))
