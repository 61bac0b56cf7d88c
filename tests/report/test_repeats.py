"""A group of repeats in the report (harness/report/repeats.py): median, min–max and spread over its runs."""

from __future__ import annotations

import statistics

from harness.compare.samples import FEW_NOTE
from harness.report.blocks import Table, Text
from harness.report.repeats import group_blocks
from harness.results.record import RunRecord
from tests.compare.records import invalid, synthetic_run


def _group(per_second: int, seconds: int = 4) -> list[RunRecord]:
    return [synthetic_run(1000 * (1 + i / 10), seconds=seconds, per_second=per_second, seed=i, run_id=f"r{i}")
            .model_copy(update={"group": "g1", "repeat": i + 1, "repeats": 3}) for i in range(3)]


def _rows(blocks: list) -> dict[tuple[str, str], tuple[str, ...]]:  # type: ignore[type-arg]
    (table,) = [b for b in blocks if isinstance(b, Table)]
    return {(row[0], row[1]): row[2:] for row in table.rows}


def test_median_and_range_over_the_valid_runs() -> None:
    runs = _group(500)
    runs[1] = invalid(runs[1], "stalled")
    rows = _rows(group_blocks([*runs, synthetic_run(1000, run_id="alone")]))  # a run without a group: no table
    valid = [runs[0], runs[2]]
    p99s = sorted(float(r.operations["read"].latency_us.p99) for r in valid)  # type: ignore[union-attr]
    assert rows[("read", "p99 µs")] == (f"{statistics.median(p99s):,.0f}", f"{p99s[0]:,.0f}", f"{p99s[1]:,.0f}",
                                        f"{(p99s[1] - p99s[0]) / statistics.median(p99s):.0%}")
    texts = [b.text for b in group_blocks(runs) if isinstance(b, Text)]
    assert any("INVALID and left out: r1" in t for t in texts) and FEW_NOTE + "." not in " ".join(texts)
    assert group_blocks([synthetic_run(1000, run_id="alone")]) == []


def test_a_p99_from_too_few_samples_is_marked_with_its_legend() -> None:
    blocks = group_blocks(_group(100, seconds=2))  # 200 samples a run; a p99 needs 1,000
    rows = _rows(blocks)
    assert all(cell.endswith("*") for cell in rows[("read", "p99 µs")][:3])
    assert not any(cell.endswith("*") for cell in rows[("read", "ops/s")])
    assert any(isinstance(b, Text) and b.text.startswith(FEW_NOTE) for b in blocks)
