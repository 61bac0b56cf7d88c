"""Groups of repeated runs (`bench --repeat N`): the runs sharing a record's `group` id, and their spread.

A group is N run records of one configuration (same engine, workload, preset, scale and load)
measured one after another; each carries `group`, `repeat` (1..N) and `repeats` (N). What a
group says is the median over its runs and their spread (min–max), per operation, for
throughput and the p99 latency: one run is one sample, never the answer.
"""

from __future__ import annotations

import secrets
import statistics
from datetime import datetime, timezone
from pathlib import Path

from harness.metrics.samples import FEW, FEW_NOTE, few
from harness.models import Frozen
from harness.results import store
from harness.results.record import RunRecord

__all__ = ["GroupStat", "find_group", "group_stats", "group_text", "new_group_id"]


def new_group_id(engine: str, workload: str) -> str:
    """A fresh group id: `<UTC time>-<engine>-<workload>-g<hex>` (the `g` tells it from a run id)."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{engine}-{workload}-g{secrets.token_hex(2)}"


def find_group(group_id: str, directory: Path | None = None,
               on_skip: store.OnSkip = store.ignore) -> list[RunRecord]:
    """The stored runs of group `group_id`, in repeat order ([] when there is no such group)."""
    runs = [record for _path, record in store.all_runs(directory, on_skip) if record.group == group_id]
    return sorted(runs, key=lambda record: (record.repeat or 0, record.started_at))


class GroupStat(Frozen):
    """One figure of one operation across a group's runs: median and range over the runs (not over seconds)."""

    operation: str  # an operation name, or "total"
    figure: str  # "ops/s" or "p99 µs"
    median: float
    low: float
    high: float
    samples: tuple[float, ...]  # one per run, in repeat order
    few: bool = False  # a percentile from fewer samples than it needs in at least one run (metrics/samples.py)

    @property
    def spread(self) -> float:
        """(high − low) / median: the relative range of the runs (0 when the median is 0)."""
        return (self.high - self.low) / self.median if self.median else 0.0


def _stat(operation: str, figure: str, samples: list[float], few: bool = False) -> GroupStat:
    return GroupStat(operation=operation, figure=figure, median=statistics.median(samples), low=min(samples),
                     high=max(samples), samples=tuple(samples), few=few)


def group_stats(records: list[RunRecord]) -> list[GroupStat]:
    """Median and min–max over `records` of the total throughput and, per operation, throughput and p99.

    Only valid runs are samples; an operation missing from a run (or without latencies) is left
    out of that figure. A p99 is `few` when a run had fewer than 1,000 samples of it (10/(1-q)).
    [] when no run is valid.
    """
    valid = [record for record in records if record.valid]
    if not valid:
        return []
    stats = [_stat("total", "ops/s", [record.total_throughput_ops_s for record in valid])]
    names = sorted({name for record in valid for name in record.operations})
    for name in names:
        ops = [record.operations[name] for record in valid if name in record.operations]
        stats.append(_stat(name, "ops/s", [op.throughput_ops_s for op in ops]))
        timed = [op for op in ops if op.latency_us is not None]
        if timed:
            stats.append(_stat(name, "p99 µs", [float(op.latency_us.p99) for op in timed if op.latency_us],
                               few=any(few(op.count, "p99") for op in timed)))
    return stats


def group_text(records: list[RunRecord]) -> str:
    """The group in words: its id, runs (invalid ones named) and a median / min–max table per figure."""
    first = records[0]
    invalid = [record.run_id for record in records if not record.valid]
    lines = [f"group {first.group}: {first.engine} · {first.workload}{':' + first.preset if first.preset else ''} · "
             f"{len(records)} of {first.repeats or len(records)} runs"
             + (f", {len(invalid)} INVALID and left out ({', '.join(invalid)})" if invalid else "")]
    stats = group_stats(records)
    if not stats:
        lines.append("no valid run in the group: no figures")
        return "\n".join(lines)
    lines.append(f"{'operation':<16} {'figure':<7} {'median':>13} {'min':>13} {'max':>13} {'spread':>7}")
    for stat in stats:
        mark = FEW if stat.few else ""
        lines.append(f"{stat.operation:<16} {stat.figure:<7} {stat.median:>12,.0f}{mark:1} {stat.low:>12,.0f}{mark:1} "
                     f"{stat.high:>12,.0f}{mark:1} {stat.spread:>6.0%}")
    lines.append("runs: " + ", ".join(record.run_id for record in records))
    if any(stat.few for stat in stats):
        lines.append(FEW_NOTE + " (in at least one run of the group)")
    return "\n".join(lines)
