"""A group of repeats (`bench --repeat N`) in the report: median and spread over its runs, one table per group.

The same figures as `dbarena show GROUP` (harness/results/groups.py): per operation the
throughput and p99 over the group's valid runs (one run = one sample): median, lowest, highest
and the spread (highest − lowest) / median. A p99 measured from fewer than 1,000 samples in
some run carries FEW (harness/metrics/samples.py) with its legend under the table.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.compare.samples import FEW, FEW_NOTE
from harness.report.blocks import Block, Heading, Table, Text
from harness.results.groups import GroupStat, group_stats
from harness.results.record import RunRecord

__all__ = ["group_blocks"]


def _cells(stat: GroupStat) -> tuple[str, ...]:
    mark = FEW if stat.few else ""
    return (stat.operation, stat.figure, f"{stat.median:,.0f}{mark}", f"{stat.low:,.0f}{mark}",
            f"{stat.high:,.0f}{mark}", f"{stat.spread:.0%}")


def _group(group_id: str, runs: Sequence[RunRecord]) -> list[Block]:
    first = runs[0]
    invalid = [r.run_id for r in runs if not r.valid]
    head = (f"{first.engine} · {first.workload}{':' + first.preset if first.preset else ''}: {len(runs)} of "
            f"{first.repeats or len(runs)} runs" + (f"; INVALID and left out: {', '.join(invalid)}" if invalid else ""))
    blocks: list[Block] = [Heading(3, f"Group {group_id}"), Text(head)]
    stats = group_stats(list(runs))
    if not stats:
        return [*blocks, Text("No valid run in the group: no figures.", "bad")]
    blocks += [Table(("operation", "figure", "median", "min", "max", "spread"), tuple(_cells(s) for s in stats)),
               Text("Each valid run is one sample: median and lowest–highest over the runs; spread = (max − min) / "
                    "median. ops/s = throughput, p99 µs = each run's p99 latency.", "note")]
    if any(s.few for s in stats):
        blocks.append(Text(FEW_NOTE + " (in at least one run of the group).", "note"))
    return blocks


def group_blocks(records: Sequence[RunRecord]) -> list[Block]:
    """One section per group of repeats among `records` (runs without a group are left out); [] when none."""
    groups: dict[str, list[RunRecord]] = {}
    for record in records:
        if record.group:
            groups.setdefault(record.group, []).append(record)
    if not groups:
        return []
    blocks: list[Block] = [Heading(2, "Groups of repeats")]
    for group_id, runs in groups.items():
        blocks += _group(group_id, sorted(runs, key=lambda r: (r.repeat or 0, r.started_at)))
    return blocks
