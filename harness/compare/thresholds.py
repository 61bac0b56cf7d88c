"""Absolute thresholds: a pass/fail gate on one run, no baseline needed (k6 thresholds, pgbench --latency-limit).

    EXPR       := [OPERATION "."] METRIC COMPARATOR VALUE
    METRIC     := p50 | p90 | p99 | p999 | max | mean   latency; VALUE a duration with its unit: 250us, 5ms, 1s
                                                        (ns, us, µs, ms, s, min, h); p99.9 is p999
                | throughput                            ops/s; VALUE a number: 1000, 2.5k, 1e3, 1M ops/s
                | errors                                failed calls (errors and timeouts) / all calls;
                                                        VALUE a share: 0.1% or 0.001
                | timeouts                              timed-out calls / all calls; VALUE a share
                | not_found                             calls of must-hit operations that found nothing /
                                                        their successful calls; VALUE a share
    COMPARATOR := < | <= | > | >=
    NUMBER     := 1000 | 2.5 | .5 | 1e3 | 2.5E-1 | 1_000 | 1,000 (commas between groups of three digits)

Examples: `read.p99<5ms`, `p99<10ms` (every operation), `errors<0.1%` (the whole run),
`update.errors<=1%`, `throughput>=2000`, `read.throughput>500`. Latency is the record's
(response time from the intended start in open loop, service time in closed loop).

A percentile q computed from fewer than 10/(1-q) samples (p99: 1,000) cannot be checked:
the threshold then fails with that reason, never passes silently.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.compare.samples import min_samples
from harness.errors import UserError
from harness.results.record import RunRecord

__all__ = ["LATENCY", "Threshold", "ThresholdCheck", "check_group", "check_thresholds", "parse_number", "parse_threshold",
           "parse_thresholds", "threshold_problems"]

LATENCY = ("p50", "p90", "p99", "p999", "max", "mean")
SHARES = ("errors", "timeouts", "not_found")  # outcome shares, 0..1, of the operation or the whole run
METRICS = (*LATENCY, "throughput", *SHARES)
_EXPR = re.compile(r"^\s*(?:(?P<op>[A-Za-z0-9_][A-Za-z0-9_.-]*)\.)?(?P<metric>[A-Za-z0-9_-]+)\s*"
                   r"(?P<cmp><=|>=|<|>)\s*(?P<value>\S.*?)\s*$")
# a non-negative number: digits with optional `_` or thousands `,` separators, decimals, an exponent
_NUMBER = re.compile(r"^\s*(?P<number>(?:\d{1,3}(?:,\d{3})+|\d+(?:_\d+)*)(?:\.(?:\d+(?:_\d+)*)?)?"
                     r"|\.\d+(?:_\d+)*)(?P<exponent>[eE][+-]?\d+)?\s*(?P<unit>.*?)\s*$")
_MICROS = {"ns": 1e-3, "us": 1.0, "µs": 1.0, "μs": 1.0, "ms": 1e3, "s": 1e6, "sec": 1e6, "min": 6e7, "m": 6e7,
           "h": 3.6e9}  # µs per unit; µ: the micro sign (U+00B5) and the Greek mu (U+03BC)
_RATE = {"": 1.0, "k": 1e3, "m": 1e6}  # before an optional "ops/s" (or "op/s", "/s"); case-insensitive
_RATE_UNIT = re.compile(r"^(?P<prefix>[kKmM]?)\s*(?:ops?/s|/s)?$")
_SHARE = {"": 1.0, "%": 0.01}
_P999 = re.compile(r"(^|\.)\s*p99\.9(?=\s*[<>])", re.IGNORECASE)  # 'p99.9' and 'read.p99.9' name p999
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


def parse_number(value: str) -> tuple[float, str]:
    """'1e3 ops/s' -> (1000.0, 'ops/s'): a non-negative finite number in any usual form (NUMBER above) and the
    text after it; ValueError when `value` does not start with one."""
    found = _NUMBER.match(value)
    if found is None:
        raise ValueError("no number")
    number = float(found.group("number").replace(",", "").replace("_", "") + (found.group("exponent") or ""))
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number, found.group("unit")


def _latency(value: str) -> float:
    number, unit = parse_number(value)
    if not unit:
        raise ValueError("no unit")
    return number * _MICROS[unit.lower() if unit.lower() in _MICROS else unit]


def _rate(value: str) -> float:
    number, unit = parse_number(value)
    found = _RATE_UNIT.match(unit)
    if found is None:
        raise ValueError(f"unknown unit {unit!r}")
    return number * _RATE[found.group("prefix").lower()]


def _share(value: str) -> float:
    number, unit = parse_number(value)
    share = number * _SHARE[unit]
    if share > 1:
        raise OverflowError
    return share


_WRITE = {"latency": "a duration with its unit, such as 250us, 5ms, 1.5e3us or 1s (ns, us, µs, ms, s, min, h)",
          "throughput": "a rate in ops/s, such as 2000, 2.5k, 1e3, 1,000 or 1_000 ops/s",
          "errors": "a share such as 0.1%, 1e-3 or 0.001 (at most 100%)"}


def _limit(metric: str, value: str) -> float:
    """The limit `value` means for `metric`: µs (latency), ops/s (throughput) or a share 0..1 (errors)."""
    kind = "latency" if metric in LATENCY else "errors" if metric in SHARES else metric
    try:
        return {"latency": _latency, "throughput": _rate, "errors": _share}[kind](value)
    except OverflowError:
        raise ValueError(f"{value!r} is more than 100%; write {_WRITE[kind]}") from None
    except (ValueError, KeyError):
        problem = "has no unit" if kind == "latency" and _is_bare(value) else "is not understood"
        raise ValueError(f"{value!r} {problem}; write {_WRITE[kind]}") from None


def _is_bare(value: str) -> bool:
    try:
        return parse_number(value)[1] == ""
    except ValueError:
        return False


def parse_threshold(text: str) -> Threshold:
    """One expression -> Threshold; ValueError with what is wrong and an example otherwise."""
    found = _EXPR.match(_P999.sub(r"\1p999", text))
    if found is None:
        raise ValueError(f"not a threshold: expected [OPERATION.]METRIC<VALUE, {EXAMPLE}")
    metric = found.group("metric").lower().replace("-", "_")  # not-found is not_found
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


def _outcome_share(record: RunRecord, operation: str | None, metric: str) -> float:
    """errors: (errors + timeouts) / all calls; timeouts: timeouts / all calls; not_found: not found / successful
    calls (of the must-hit operations, for the whole run). 0 when there is no call."""
    ops = [record.operations[operation]] if operation else list(record.operations.values())
    if metric == "not_found":
        ops = ops if operation else [op for op in ops if op.must_hit]
        calls = sum(op.count for op in ops)
        return sum(op.not_found for op in ops) / calls if calls else 0.0
    timeouts = sum(int(getattr(op, "timeouts", 0) or 0) for op in ops)
    failed = sum(op.errors for op in ops) + timeouts
    total = sum(op.count for op in ops) + failed
    return (failed if metric == "errors" else timeouts) / total if total else 0.0


def _value(record: RunRecord, threshold: Threshold, operation: str | None) -> tuple[float | None, str]:
    """(value, '' ) or (None, why it cannot be checked)."""
    if threshold.metric in SHARES:
        return _outcome_share(record, operation, threshold.metric), ""
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


def check_group(records: Sequence[RunRecord], thresholds: Sequence[Threshold]) -> tuple[ThresholdCheck, ...]:
    """Each threshold on a group of repeats: per operation, the median over the group's valid runs (every run when
    none is valid) of each run's own value, held against the limit.

    A value that cannot be checked in some run (too few samples for its percentile, no latency)
    makes the group's check fail with that run's reason: a median never hides a run that could
    not be measured. Raises UserError as `check_thresholds` does.
    """
    runs = [record for record in records if record.valid] or list(records)
    applied: dict[tuple[int, str | None], list[ThresholdCheck]] = {}
    for record in runs:
        for index, threshold in enumerate(thresholds):
            for check in check_thresholds(record, [threshold]):
                applied.setdefault((index, check.operation), []).append(check)
    out = []
    for (index, operation), checks in applied.items():
        threshold = thresholds[index]
        unchecked = [c for c in checks if c.value is None]
        if unchecked:
            out.append(ThresholdCheck(threshold, operation, None, False,
                                      f"{unchecked[0].detail} (in {len(unchecked)} of {len(checks)} runs)"))
            continue
        value = statistics.median(c.value for c in checks if c.value is not None)
        passed = threshold.holds(value)
        subject = f"{operation} {threshold.metric}" if operation else f"run {threshold.metric}"
        shown = f"{subject} {_fmt(threshold.metric, value)} (median of {len(checks)} runs)"
        limit = f"{threshold.comparator} {_fmt(threshold.metric, threshold.limit)}"
        out.append(ThresholdCheck(threshold, operation, value, passed,
                                  f"{shown} {limit}" if passed else f"{shown}, not {limit}: BREACHED"))
    return tuple(out)
