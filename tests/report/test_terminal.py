"""The end-of-run text (harness/report/terminal.py): a run stopped before measuring says so, no table of zeros."""

from __future__ import annotations

from harness.metrics.models import LoadPhase
from harness.report.terminal import run_summary
from harness.results.record import OperationResult
from tests.compare.records import synthetic_run

NOTE = ("interrupted by the user (Ctrl-C) — SIGINT during load (loading usertable [#####     ] "
        "12,000/100,000 records · 3,000/s · ETA 26s)")


def _stopped_while_loading(**update: object) -> str:
    record = synthetic_run(1000, seconds=2, run_id="r")
    empty = {name: OperationResult(kind=op.kind, count=0, throughput_ops_s=0.0) for name, op in record.operations.items()}
    return run_summary(record.model_copy(update={"phase": "load", "complete": False, "interrupted": True,
                                                 "valid": False, "operations": empty, "load_phase": None,
                                                 "notes": (NOTE,), **update}))


def test_a_run_interrupted_while_loading_says_how_far_it_got_and_prints_no_table() -> None:
    text = _stopped_while_loading()
    assert text.splitlines()[1] == ("interrupted while loading the dataset (last progress: loading usertable "
                                    "[#####     ] 12,000/100,000 records · 3,000/s · ETA 26s); nothing was measured")
    assert "ops/s" not in text and "p99" not in text and "operation" not in text
    loaded = _stopped_while_loading(load_phase=LoadPhase(records=12_000, seconds=4.0, records_per_s=3_000))
    assert "(12,000 records loaded); nothing was measured" in loaded


def test_a_measured_run_still_prints_its_table() -> None:
    text = run_summary(synthetic_run(1000, seconds=2, run_id="r"))
    assert "operation" in text.splitlines()[1] and "total " in text


def test_the_summary_says_what_data_was_measured_and_how_fast_it_loaded() -> None:
    """`show` and `bench` print the load phase the record keeps (records, seconds, records/s), or its absence."""
    record = synthetic_run(1000, seconds=2, run_id="r").model_copy(update={"scale": 3.0})
    loaded = record.model_copy(update={"load_phase": LoadPhase(records=300_000, seconds=5.269, records_per_s=56_933.7)})
    assert "data: scale 3 · 300,000 records loaded in 5.3 s (56,934 records/s)" in run_summary(loaded).splitlines()
    assert "data: scale 3 · not loaded by this run" in run_summary(record).splitlines()
