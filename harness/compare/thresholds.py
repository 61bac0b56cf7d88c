"""Absolute thresholds: a pass/fail gate on one run, no baseline needed (k6 thresholds, pgbench --latency-limit).

    EXPR       := [OPERATION "."] METRIC COMPARATOR VALUE
    METRIC     := p50 | p90 | p99 | p999 | max | mean   latency; VALUE a duration with its unit: 250us, 5ms, 1s
                | throughput                            ops/s; VALUE a number: 1000, 2.5k
                | errors                                failed calls (errors and timeouts) / all calls;
                                                        VALUE a share: 0.1% or 0.001
    COMPARATOR := < | <= | > | >=

Examples: `read.p99<5ms`, `p99<10ms` (every operation), `errors<0.1%` (the whole run),
`update.errors<=1%`, `throughput>=2000`, `read.throughput>500`. Latency is the record's
(response time from the intended start in open loop, service time in closed loop).

A percentile q computed from fewer than 10/(1-q) samples (p99: 1,000) cannot be checked:
the threshold then fails with that reason, never passes silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.compare.samples import min_samples
from harness.errors import UserError
from harness.results.record import RunRecord
from harness.spec.suite import parse_duration

__all__ = ["LATENCY", "Threshold", "ThresholdCheck", "check_thresholds", "parse_threshold", "parse_thresholds",
           "threshold_problems"]

LATENCY = ("p50", "p90", "p99", "p999", "max", "mean")
METRICS = (*LATENCY, "throughput", "errors")
_EXPR = re.compile(r"^\s*(?:(?P<op>[A-Za-z0-9_][A-Za-z0-9_.-]*)\.)?(?P<metric>[a-z0-9]+)\s*"
                   r"(?P<cmp><=|>=|<|>)\s*(?P<value>\S.*?)\s*$")
_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)\s*(k|m)?\s*(?:ops/s)?$", re.IGNORECASE)
_SHARE = re.compile(r"^(\d+(?:\.\d+)?)\s*(%)?$")
EXAMPLE = "e.g. 'read.p99<5ms', 'p99<10ms', 'errors<0.1%', 'throughput>=2000'"


@dataclass(frozen=True)
class Threshold:
    """One parsed expression; `limit` in µs (latency), ops/s (throughput) or a share 0..1 (errors)."""

    text: str
    operation: str | None  # None: every operation (latency), the whole run (throughput, errors)
    metric: str
    comparator: str
    limit: float

    def holds(self, value: float) -> bool:
        return {"<": value < self.limit, "<=": value <= self.limit, ">": value > self.limit,
                ">=": value >= self.limit}[self.comparator]


@dataclass(frozen=True)
class ThresholdCheck:
    """A threshold applied to one operation (or the whole run): the value seen and whether it held."""

    threshold: Threshold
    operation: str | None
    value: float | None  # None: could not be measured (too few samples, no latency)
    passed: bool
    detail: str  # 'read p99 4.2 ms < 5 ms' or why it could not be checked

    @property
    def name(self) -> str:
        """'read.p99<5ms': the threshold as applied (operation made explicit)."""
        text = self.threshold.text.strip()
        return text if self.threshold.operation or not self.operation else f"{self.operation}.{text}"


def _limit(metric: str, value: str) -> float:
    if metric in LATENCY:
        if not re.search(r"(us|µs|ms|s|m|h)\s*$", value):
            raise ValueError(f"{value!r} has no unit; give a duration such as 250us, 5ms or 1s")
        return parse_duration(value) * 1e6
    if metric == "throughput":
        found = _NUMBER.match(value)
        if found is None:
            raise ValueError(f"{value!r} is not a rate in ops/s such as 2000 or 2.5k")
        return float(found.group(1)) * {None: 1, "k": 1e3, "m": 1e6}[(found.group(2) or "").lower() or None]
    found = _SHARE.match(value)
    if found is None:
        raise ValueError(f"{value!r} is not a share such as 0.1% or 0.001")
    share = float(found.group(1)) / (100 if found.group(2) else 1)
    if share > 1:
        raise ValueError(f"{value!r} is more than 100%")
    return share


def parse_threshold(text: str) -> Threshold:
    """One expression -> Threshold; ValueError with what is wrong and an example otherwise."""
    found = _EXPR.match(text)
    if found is None:
        raise ValueError(f"not a threshold: expected [OPERATION.]METRIC<VALUE, {EXAMPLE}")
    metric = found.group("metric")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    return Threshold(text=text.strip(), operation=found.group("op"), metric=metric, comparator=found.group("cmp"),
                     limit=_limit(metric, found.group("value")))


def parse_thresholds(texts: Iterable[str], where: str = "--threshold") -> tuple[Threshold, ...]:
    """Every expression parsed; UserError naming `where` and the first bad one (one line)."""
    parsed = []
    for text in texts:
        try:
            parsed.append(parse_threshold(text))
        except ValueError as exc:
            raise UserError(f"{where} {text!r}: {exc}") from None
    return tuple(parsed)


def threshold_problems(thresholds: Sequence[Threshold], operations: Iterable[str], where: str) -> list[str]:
    """One line per threshold naming an operation the workload does not have."""
    known = sorted(operations)
    return [f"{where} {t.text!r}: no operation {t.operation!r} in this workload (operations: {', '.join(known)})"
            for t in thresholds if t.operation is not None and t.operation not in known]


def _fmt(metric: str, value: float) -> str:
    if metric in LATENCY:
        if value >= 1e6:
            return f"{value / 1e6:,.6g} s"
        return f"{value / 1000:.4g} ms" if value >= 1000 else f"{value:,.0f} µs"
    if metric == "throughput":
        return f"{value:,.0f} ops/s"
    return f"{value:.3%}"


def _failed_share(record: RunRecord, operation: str | None) -> float:
    ops = [record.operations[operation]] if operation else list(record.operations.values())
    failed = sum(op.errors + int(getattr(op, "timeouts", 0) or 0) for op in ops)
    total = sum(op.count for op in ops) + failed
    return failed / total if total else 0.0


def _value(record: RunRecord, threshold: Threshold, operation: str | None) -> tuple[float | None, str]:
    """(value, '' ) or (None, why it cannot be checked)."""
    if threshold.metric == "errors":
        return _failed_share(record, operation), ""
    if threshold.metric == "throughput":
        return (record.operations[operation].throughput_ops_s if operation else record.total_throughput_ops_s), ""
    assert operation is not None
    op = record.operations[operation]
    if op.latency_us is None:
        return None, "no latency measured (no call succeeded)"
    if threshold.metric in ("p50", "p90", "p99", "p999") and op.count < min_samples(threshold.metric):
        return None, (f"cannot check: {op.count:,} samples, {threshold.metric} needs {min_samples(threshold.metric):,} "
                      "(10/(1-q)); run longer")
    return float(getattr(op.latency_us, threshold.metric)), ""


def _targets(record: RunRecord, threshold: Threshold) -> list[str | None]:
    if threshold.operation is not None:
        if threshold.operation not in record.operations:
            raise UserError(f"threshold {threshold.text!r}: run {record.run_id} has no operation "
                            f"{threshold.operation!r} (operations: {', '.join(sorted(record.operations))})")
        return [threshold.operation]
    if threshold.metric in LATENCY:
        return list(sorted(record.operations))
    return [None]


def check_thresholds(record: RunRecord, thresholds: Sequence[Threshold]) -> tuple[ThresholdCheck, ...]:
    """Each threshold on `record`: one check per operation for an unscoped latency threshold, else one.

    Raises UserError when a threshold names an operation the run does not have.
    """
    checks = []
    for threshold in thresholds:
        for operation in _targets(record, threshold):
            value, why = _value(record, threshold, operation)
            subject = f"{operation} {threshold.metric}" if operation else f"run {threshold.metric}"
            if value is None:
                checks.append(ThresholdCheck(threshold, operation, None, False, f"{subject}: {why}"))
                continue
            passed = threshold.holds(value)
            limit = f"{threshold.comparator} {_fmt(threshold.metric, threshold.limit)}"
            detail = (f"{subject} {_fmt(threshold.metric, value)} {limit}" if passed else  # a true statement
                      f"{subject} {_fmt(threshold.metric, value)}, not {limit}: BREACHED")
            checks.append(ThresholdCheck(threshold, operation, value, passed, detail))
    return tuple(checks)
