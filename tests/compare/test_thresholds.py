"""Absolute thresholds: parsed k6-style, checked against the record's own values, one clear line when wrong."""

from __future__ import annotations

import pytest

from harness.compare.thresholds import check_thresholds, parse_threshold, parse_thresholds, threshold_problems
from harness.errors import UserError
from tests.compare.records import all_failed, synthetic_run


def test_expressions_parse_to_units() -> None:
    read = parse_threshold("read.p99<5ms")
    assert (read.operation, read.metric, read.comparator, read.limit) == ("read", "p99", "<", 5000.0)
    assert parse_threshold("read-latest.p999 <= 250us").operation == "read-latest"
    assert parse_threshold("p99<1s").operation is None and parse_threshold("p99<1s").limit == 1e6
    assert parse_threshold("errors<0.1%").limit == pytest.approx(0.001)
    assert parse_threshold("errors<=0.02").limit == pytest.approx(0.02)
    assert parse_threshold("throughput>=2.5k").limit == 2500
    assert parse_threshold("update.throughput>100").comparator == ">"


@pytest.mark.parametrize(("text", "problem"), [
    ("read.p99<5", "'5' has no unit; give a duration such as 250us, 5ms or 1s"),
    ("read.p98<5ms", "unknown metric 'p98'"),
    ("fast please", "not a threshold: expected [OPERATION.]METRIC<VALUE"),
    ("errors<150%", "more than 100%"),
    ("throughput>lots", "is not a rate in ops/s"),
])
def test_a_bad_expression_is_one_line(text: str, problem: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_thresholds([text])
    message = str(caught.value)
    assert message.startswith(f"--threshold {text!r}: ") and problem in message and "\n" not in message


def test_checks_use_the_records_values() -> None:
    record = synthetic_run(1000, seconds=4, per_second=500, run_id="r")
    latency = record.operations["read"].latency_us
    assert latency is not None and record.operations["read"].count >= 1000
    p99_ms = latency.p99 / 1000
    passing, failing = parse_thresholds([f"read.p99<{p99_ms + 0.01}ms", f"p99<{p99_ms - 0.01}ms"])
    first, second = check_thresholds(record, [passing, failing])
    assert first.passed and first.value == latency.p99
    assert not second.passed and second.operation == "read" and second.name == f"read.p99<{p99_ms - 0.01}ms"
    assert "BREACHED" in second.detail
    throughput = record.total_throughput_ops_s
    (above,) = check_thresholds(record, parse_thresholds([f"throughput>={throughput + 1:.0f}"]))
    assert not above.passed and above.value == throughput
    (errors,) = check_thresholds(record, parse_thresholds(["errors<0.1%"]))
    assert errors.passed and errors.value == 0.0


def test_every_call_failed_breaches_an_error_threshold() -> None:
    record = all_failed(synthetic_run(1000, seconds=4, run_id="r"))
    (errors,) = check_thresholds(record, parse_thresholds(["errors<1%"]))
    assert errors.value == 1.0 and not errors.passed
    (p99,) = check_thresholds(record, parse_thresholds(["read.p99<1s"]))
    assert not p99.passed and "no latency measured" in p99.detail


def test_too_few_samples_cannot_pass() -> None:
    record = synthetic_run(1000, seconds=2, per_second=100, run_id="r")
    (check,) = check_thresholds(record, parse_thresholds(["read.p99<1h"]))
    count = record.operations["read"].count
    assert not check.passed and check.value is None
    assert f"cannot check: {count:,} samples, p99 needs 1,000" in check.detail
    (median,) = check_thresholds(record, parse_thresholds(["read.p50<1h"]))
    assert median.passed


def test_an_unknown_operation_is_named() -> None:
    record = synthetic_run(1000, seconds=2, run_id="r")
    with pytest.raises(UserError, match="run r has no operation 'raed' \\(operations: read\\)"):
        check_thresholds(record, parse_thresholds(["raed.p99<5ms"]))
    assert threshold_problems(parse_thresholds(["raed.p99<5ms", "p99<5ms"]), ["read"], "--threshold") == [
        "--threshold 'raed.p99<5ms': no operation 'raed' in this workload (operations: read)"]
