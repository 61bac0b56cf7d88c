"""A comparison as a table (harness/report/comparison.py): a percentile not compared for too few samples is marked."""

from __future__ import annotations

from harness.compare.compare import Verdict, compare
from harness.compare.samples import FEW_NOTE
from harness.report.comparison import change_cells, comparison_table
from tests.compare.records import synthetic_run


def test_a_percentile_from_too_few_samples_is_marked_on_the_side_that_had_too_few() -> None:
    base = synthetic_run(1000, seconds=4, per_second=500, run_id="a")  # ~2,000 calls: a p99, not a p99.9
    cand = synthetic_run(1100, seconds=4, per_second=200, run_id="b", seed=1)  # ~800 calls: neither
    assert base.operations["read"].count >= 1000 > cand.operations["read"].count
    comparison = compare(base, cand)
    changes = {c.metric: c for c in comparison.changes if c.operation == "read"}
    assert changes["p99"].verdict is Verdict.TOO_FEW and changes["p999"].verdict is Verdict.TOO_FEW
    _, before, after, _ = change_cells(changes["p99"])
    assert not before.endswith("*") and after.endswith("*")
    _, before, after, _ = change_cells(changes["p999"])
    assert before.endswith("*") and after.endswith("*")
    _, before, after, _ = change_cells(changes["p50"])
    assert not before.endswith("*") and not after.endswith("*")
    assert FEW_NOTE in comparison_table(comparison)
