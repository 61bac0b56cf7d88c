"""Absolute thresholds: parsed k6-style, checked against the record's own values, one clear line when wrong."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    ("read.p99<5", "'5' has no unit; write a duration with its unit, such as 250us, 5ms"),
    ("read.p98<5ms", "unknown metric 'p98'"),
    ("fast please", "not a threshold: expected [OPERATION.]METRIC<VALUE"),
    ("errors<150%", "more than 100%"),
    ("throughput>lots", "'lots' is not understood; write a rate in ops/s, such as 2000, 2.5k, 1e3"),
    ("throughput>1e3x", "'1e3x' is not understood; write a rate in ops/s"),
    ("throughput>12,34", "'12,34' is not understood"),
    ("throughput>-5", "'-5' is not understood"),
    ("throughput>1e999", "'1e999' is not understood"),
    ("read.p99<5parsecs", "'5parsecs' is not understood; write a duration"),
    ("errors<2", "'2' is more than 100%; write a share such as 0.1%"),
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


@pytest.mark.parametrize(("text", "metric", "limit"), [
    ("read.throughput>1e3", "throughput", 1000.0),  # issue 14: scientific notation was refused
    ("throughput>1,000", "throughput", 1000.0),
    ("throughput>1_000 ops/s", "throughput", 1000.0),
    ("throughput>=2.5k ops/s", "throughput", 2500.0),
    ("throughput>1M", "throughput", 1e6),
    ("throughput>.5k", "throughput", 500.0),
    ("throughput>1.2E4/s", "throughput", 12000.0),
    ("read.p99<1.5e3us", "p99", 1500.0),
    ("read.p99<250µs", "p99", 250.0),
    ("read.p99<250\u03bcs", "p99", 250.0),  # the Greek mu, not the micro sign
    ("p99.9<5ms", "p999", 5000.0),
    ("read.p99.9 <= 2 ms", "p999", 2000.0),
    ("max<1s", "max", 1e6),
    ("mean<2min", "mean", 120e6),
    ("p50<100ns", "p50", 0.1),
    ("p90<0.5 ms", "p90", 500.0),
    ("errors<1e-3", "errors", 0.001),
    ("errors<0.1 %", "errors", 0.001),
    ("errors<=5%", "errors", 0.05),
])
def test_every_usual_number_form_and_unit(text: str, metric: str, limit: float) -> None:
    threshold = parse_threshold(text)
    assert threshold.metric == metric and threshold.limit == pytest.approx(limit)


def _grouped(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


@given(integer=st.integers(min_value=0, max_value=10**12), fraction=st.one_of(st.none(), st.integers(0, 999_999)),
       exponent=st.one_of(st.none(), st.integers(-6, 6)), sep=st.sampled_from(["", ",", "_"]))
def test_numbers_in_every_form_read_as_python_reads_them(integer: int, fraction: int | None, exponent: int | None,
                                                          sep: str) -> None:
    plain = str(integer) + ("" if fraction is None else f".{fraction}") + ("" if exponent is None else f"e{exponent}")
    written = (_grouped(integer, sep) if sep else str(integer)) + plain[len(str(integer)):]
    expected = float(plain)
    (throughput,) = parse_thresholds([f"throughput>={written}"])
    assert throughput.limit == expected
    assert parse_threshold(f"read.throughput>{written}k ops/s").limit == pytest.approx(expected * 1000)
    assert parse_threshold(f"p99<{written}ms").limit == pytest.approx(expected * 1000)
    if expected <= 1:
        assert parse_threshold(f"errors<{written}").limit == expected
    if expected <= 100:
        assert parse_threshold(f"errors<{written}%").limit == pytest.approx(expected / 100)


@given(st.floats(min_value=0, max_value=1e15, allow_nan=False, allow_infinity=False))
def test_any_float_repr_is_a_rate(value: float) -> None:
    assert parse_threshold(f"throughput>{value!r}").limit == value
    assert parse_threshold(f"p99<{value!r}us").limit == value
    assert math.isclose(parse_threshold(f"p99<{value!r}ms").limit, value * 1000, rel_tol=1e-12)


def test_timeouts_and_not_found_are_shares_of_the_records_outcomes() -> None:
    from tests.compare.records import with_outcomes

    record = with_outcomes(synthetic_run(1000, seconds=4, per_second=200, run_id="r"), calls=800, errors=3,
                           timeouts=7, not_found=12)
    read = record.operations["read"]
    assert read.must_hit and (read.errors, read.timeouts, read.not_found) == (3, 7, 12)
    calls = read.count + read.errors + read.timeouts
    (timeouts, not_found, errors) = check_thresholds(record, parse_thresholds(
        ["timeouts<1%", "read.not-found<=1.5%", "errors<1e-2"]))
    assert timeouts.value == pytest.approx(7 / calls) and timeouts.passed
    assert not_found.value == pytest.approx(12 / read.count) and not_found.passed == (12 / read.count <= 0.015)
    assert errors.value == pytest.approx(10 / calls)
    assert parse_threshold("not_found<1%").metric == parse_threshold("read.not-found<1%").metric == "not_found"
