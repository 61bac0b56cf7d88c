"""The gate as JUnit XML: it parses, one testcase per operation × metric and per threshold, failures where the gate fails."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.compare.compare import compare
from harness.compare.gate import Gate
from harness.compare.thresholds import check_thresholds, parse_thresholds
from harness.report.junit import junit_xml
from tests.compare.records import invalid, synthetic_run


def _failures(root: ET.Element) -> dict[tuple[str, str], str]:
    return {(case.get("classname", ""), case.get("name", "")): failure.get("type", "")
            for case in root.iter("testcase") if (failure := case.find("failure")) is not None}


def test_regressions_and_breaches_are_failures() -> None:
    base, slow = synthetic_run(1000, seed=1, run_id="a"), synthetic_run(1300, seed=2, run_id="b")
    comparison = compare(base, slow)
    checks = check_thresholds(slow, parse_thresholds(["p50<1ms", "errors<1%"]))
    root = ET.fromstring(junit_xml([Gate(slow, comparison, checks)], "regressed"))
    (suite,) = root.findall("testsuite")
    names = [(c.get("classname"), c.get("name")) for c in suite.iter("testcase")]
    metrics = [("fake.kv-cache.read", m) for m in ("throughput", "p50", "p99", "p999")]
    assert names == [("fake.kv-cache", "valid"), *metrics, ("fake.kv-cache.read", "threshold read.p50<1ms"),
                     ("fake.kv-cache.run", "threshold errors<1%")]
    regressed = {("fake.kv-cache.read", c.metric): "regressed" for c in comparison.regressions}
    assert {"p50", "p99"} <= {m for _, m in regressed}
    assert _failures(root) == {**regressed, ("fake.kv-cache.read", "threshold read.p50<1ms"): "threshold"}
    assert root.get("failures") == suite.get("failures") == str(len(regressed) + 1)
    assert root.get("tests") == str(len(names))


def test_without_a_gate_regressions_pass_and_an_invalid_run_fails() -> None:
    base, slow = synthetic_run(1000, seed=1, run_id="a"), synthetic_run(1300, seed=2, run_id="b")
    assert _failures(ET.fromstring(junit_xml([Gate(slow, compare(base, slow))], None))) == {}
    stalled = invalid(slow, "engine stalled for 3 s", causes=("engine",))
    root = ET.fromstring(junit_xml([Gate(stalled)], None))
    assert _failures(root) == {("fake.kv-cache", "valid"): "invalid"}
    message = next(root.iter("failure")).get("message", "")
    assert "engine stalled for 3 s" in message


def test_too_few_samples_are_skipped() -> None:
    a = synthetic_run(1000, seconds=4, per_second=100, seed=1, run_id="a")
    b = synthetic_run(1000, seconds=4, per_second=100, seed=2, run_id="b")
    root = ET.fromstring(junit_xml([Gate(b, compare(a, b))], "inconclusive"))
    skipped = {c.get("name") for c in root.iter("testcase") if c.find("skipped") is not None}
    assert skipped == {"p99", "p999", "throughput"}  # 400 samples; 4 s a side: too few for the test's level
