"""Parse and check a latency SLO such as `p99=5ms`."""

from __future__ import annotations

import re

from harness.errors import UserError
from harness.results.record import RunRecord
from harness.spec.suite import Slo, parse_duration

_SLO = re.compile(r"^\s*(p50|p90|p99|p999)\s*(?:<=|=|<)\s*(.+)$")


def parse_slo(text: str) -> Slo:
    found = _SLO.match(text)
    if found is None:
        raise UserError(f"--slo: {text!r} is not an SLO such as p99=5ms (percentiles: p50, p90, p99, p999)")
    try:
        seconds = parse_duration(found.group(2).strip())
    except ValueError as exc:
        raise UserError(f"--slo: {exc}") from None
    return Slo(percentile=found.group(1), max_ms=seconds * 1000)  # type: ignore[arg-type]


def describe(slo: Slo) -> str:
    return f"{slo.percentile}<={slo.max_ms:g}ms"


def worst_percentile_us(record: RunRecord, slo: Slo) -> int | None:
    """The SLO percentile of the slowest operation (every operation must meet the SLO)."""
    values = [getattr(op.latency_us, slo.percentile) for op in record.operations.values() if op.latency_us]
    return max(values) if values else None


def meets(record: RunRecord, slo: Slo) -> bool:
    worst = worst_percentile_us(record, slo)
    return worst is not None and worst <= slo.max_ms * 1000
