"""What a run's section of the report says about outcomes and validity, in report.md and report.html alike:
per operation count, errors, timeouts, not found (must-hit marked), clamped, lag p99 in open loop; the
invalid reasons with their causes in words; what ended the measurement."""

from __future__ import annotations

import re

from harness.metrics.histogram import Percentiles
from harness.report import html, markdown
from harness.report.blocks import Report, Table
from harness.report.build import CAUSES, Evidence, gather
from harness.results.record import OperationResult, RunRecord
from tests.compare.records import invalid, synthetic_run, with_outcomes

LAG = Percentiles(p50=40, p90=300, p99=2_500, p999=9_000, max=12_000, mean=120.0)


def _outcomes_run() -> RunRecord:
    """Open loop, 'read' must-hit with 12 misses, 3 errors, 7 timeouts, 4 clamped; 'scan' not must-hit;
    invalid for misses and a saturated generator; stopped by its operation count."""
    record = with_outcomes(synthetic_run(1000, seconds=4, per_second=200, run_id="r"), calls=800, errors=3,
                           timeouts=7, not_found=12)
    read = record.operations["read"].model_copy(update={"clamped": 4, "lag_us": LAG})
    scan = OperationResult(kind="scan", count=50, not_found=0, must_hit=False, throughput_ops_s=12.5,
                           latency_us=read.latency_us, lag_us=None)
    load = record.load.model_copy(update={"target_rate": 200.0, "operation_count": 850})
    record = record.model_copy(update={"operations": {"read": read, "scan": scan}, "load": load,
                                       "stopped_by": "operationcount", "measured_s": 4.2})
    return invalid(record, "1.5% of must-hit calls found nothing (limit 1%)",
                   "12.0% of operations started more than 1 s late", causes=("misses", "client"))


def _summary(report: Report) -> Table:
    return next(b for b in report.blocks if isinstance(b, Table) and b.header[:1] == ("operation",))


def test_the_summary_counts_every_outcome() -> None:
    report = gather([_outcomes_run()], Evidence())
    table = _summary(report)
    rows = {row[0]: dict(zip(table.header, row)) for row in table.rows}
    assert table.header == ("operation", "count", "errors", "timeouts", "not found (must hit)", "clamped", "ops/s",
                            "p50", "p90", "p99", "p99.9", "max", "svc p99", "lag p99")
    read, scan, total = rows["read"], rows["scan"], rows["total"]
    assert (read["count"], read["errors"], read["timeouts"], read["not found (must hit)"], read["clamped"]) == (
        "790", "3", "7", "12", "4")
    assert read["lag p99"] == "2.50 ms*" and scan["lag p99"] == "-"  # a p99 of 790 samples (< 1,000): marked
    assert scan["not found (must hit)"] == "-"  # not must-hit: a miss is a valid answer, not counted
    assert (total["count"], total["errors"], total["timeouts"], total["not found (must hit)"], total["clamped"]) == (
        "840", "3", "7", "12", "4")
    assert len(total) == len(table.header)


def test_both_formats_say_the_outcomes_the_causes_and_what_stopped_the_run() -> None:
    report = gather([_outcomes_run()], Evidence())
    md, page = markdown.render(report), html.render(report)
    assert re.search(r"\| \*\*read\*\* ⚠ \| 790 \| 3 \| 7 \| 12 \| 4 \| ", md), md
    assert "<td>read</td><td class=\"num\">790</td><td class=\"num\">3</td><td class=\"num\">7</td>" \
           "<td class=\"num\">12</td><td class=\"num\">4</td>" in page
    assert f"| {CAUSES['misses']} | 1.5% of must-hit calls found nothing (limit 1%) |" in md
    assert f"<td>{CAUSES['client']}</td><td>12.0% of operations started more than 1 s late</td>" in page
    for text in (md, page.replace("&#x27;", "'")):
        assert "must hit here: read" in text
        assert "4 latencies above the histogram's ceiling" in text
        assert CAUSES["client"] in text and "12.0% of operations started more than 1 s late" in text
        assert "after 850 operations (operationcount), 4.2 s measured" in text
        assert "lag = actual − intended start" in text


def test_a_clean_closed_loop_run_has_no_clamped_or_lag_column() -> None:
    record = synthetic_run(1000, seconds=3, run_id="clean")
    report = gather([record], Evidence())
    table = _summary(report)
    assert "clamped" not in table.header and "lag p99" not in table.header and "svc p99" not in table.header
    assert dict(zip(table.header, table.rows[0]))["not found (must hit)"] == "-"
    md = markdown.render(report)
    assert "at the end of its 3 s duration" in md and "INVALID" not in md and "no must-hit operation here" in md


def test_the_comparison_shows_outcome_shares_side_by_side() -> None:
    base = with_outcomes(synthetic_run(1000, seed=1, run_id="base"), calls=10_000, timeouts=10)
    worse = with_outcomes(synthetic_run(1000, seed=2, run_id="worse"), calls=10_000, timeouts=60)
    md = markdown.render(gather([worse], Evidence(baselines={("fake", "kv-cache", None): base})))
    assert "| **read** ⚠ | timeout share ↓ | 0.10% | 0.60% | +0.50 pp | regressed |" in md
    assert "Verdict: REGRESSED" in md and "Shares: errors and timeouts of all calls" in md


def test_a_stored_selection_joins_a_report_only_when_it_ranked_one_of_the_reported_engines() -> None:
    from harness.report.build import _newest_per
    from harness.studies.models import Ranked, SelectionResult

    def selection(engine: str, when: str) -> SelectionResult:
        ranked = Ranked(rank=1, engine=engine, capacity_ops_s=1000, throughput_ops_s=900, p99_us=800, reasons=())
        return SelectionResult(selection_id=f"{when}-{engine}", use_case="login", workload="kv-cache", slo="p99<=5ms",
                               ranking=(ranked,), traits={}, started_at=when)

    stored = [selection("redis", "1"), selection("fake", "2")]  # oldest first
    assert [s.selection_id for s in _newest_per(stored, {"kv-cache"}, {"postgres", "redis"})] == ["1-redis"]
    assert _newest_per(stored, {"kv-cache"}, {"postgres"}) == []
    assert _newest_per(stored, {"audit-log"}, {"redis"}) == []


def test_a_percentile_from_too_few_samples_is_marked_in_both_formats() -> None:
    """About 800 samples: p50 (needs 20) and p90 (100) are figures, p99 (1,000) and p99.9 (10,000) are marked (10/(1-q)),
    max never; the legend is said under the table in report.md and report.html alike."""
    record = synthetic_run(1000, seconds=4, per_second=200, run_id="r")
    assert 100 <= record.operations["read"].count < 1000
    report = gather([record], Evidence())
    (read,) = [dict(zip(_summary(report).header, row)) for row in _summary(report).rows if row[0] == "read"]
    assert [read[p].endswith("*") for p in ("p50", "p90", "p99", "p99.9", "max")] == [False, False, True, True, False]
    md, page = markdown.render(report), html.render(report)
    assert f"| {read['p99'].replace('*', chr(92) + '*')} |" in md
    assert f'<td class="num">{read["p99"]}</td>' in page  # still a number, right-aligned
    assert "\\* from fewer than 10/(1-q) samples (p50: 20, p90: 100, p99: 1,000, p99.9: 10,000)" in md
    assert "* from fewer than 10/(1-q) samples (p50: 20, p90: 100, p99: 1,000, p99.9: 10,000)" in page


def test_enough_samples_carry_no_mark() -> None:
    record = synthetic_run(1000, seconds=2, per_second=6_000, run_id="r")  # ~12,000 samples: even p99.9
    report = gather([record], Evidence())
    md = markdown.render(report)
    assert "*" not in "".join(cell for row in _summary(report).rows for cell in row)
    assert "from fewer than 10/(1-q)" not in md


def test_a_capacity_steps_percentile_from_too_few_samples_is_marked() -> None:
    """A capacity step's p99 and p99.9 are its slowest operation's; the step's record says how many samples."""
    from harness.studies.models import CapacityResult, CurvePoint

    step = synthetic_run(1000, seconds=2, per_second=300, run_id="step")  # ~600 calls: p50 yes, p99 and p99.9 no
    latency = step.operations["read"].latency_us
    assert latency is not None and 100 <= step.operations["read"].count < 1000
    point = CurvePoint(target_rate=300, achieved_ops_s=300, p50_us=latency.p50, p99_us=latency.p99,
                       p999_us=latency.p999, slo_met=True, valid=True, run_id="step")
    capacity = CapacityResult(capacity_id="cap", engine=step.engine, workload=step.workload, slo="p99<=5ms",
                              capacity_ops_s=300, curve=(point,), started_at=step.started_at)
    report = gather([step], Evidence(runs=(step,), capacity=(capacity,)))
    table = next(b for b in report.blocks if isinstance(b, Table) and b.header[:1] == ("target ops/s",))
    (row,) = table.rows
    assert [cell.endswith("*") for cell in row[2:5]] == [False, True, True]
    assert "of the step's slowest operation" in markdown.render(report)
