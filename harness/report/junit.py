"""The gate as JUnit XML, so CI systems (GitHub Actions reporters, GitLab, Jenkins) show it natively.

One <testsuite> per candidate run. Its testcases:

    classname ENGINE.WORKLOAD             name "valid"           failure type "invalid" / "errors"
    classname ENGINE.WORKLOAD.OPERATION   name METRIC            one per operation × metric compared
                                                                 (throughput, p50, p99, p999): failure
                                                                 type "regressed" (when the gate fails on
                                                                 regressions) or "inconclusive" (with
                                                                 fail_on inconclusive); <skipped> for n/a
                                                                 and too few samples
    classname ENGINE.WORKLOAD.OPERATION   name "threshold EXPR"  one per threshold as applied (an
              (or ENGINE.WORKLOAD.run)                           unscoped latency threshold once per
                                                                 operation): failure type "threshold"

The schema is the common Ant/Jenkins one (testsuites > testsuite > testcase > failure|skipped).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from harness.compare.compare import MetricChange, Verdict
from harness.compare.gate import Gate

__all__ = ["junit_xml"]


def _case(suite: ET.Element, classname: str, name: str, failure: tuple[str, str] | None = None,
          skipped: str | None = None, out: str | None = None) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
    if failure is not None:
        kind, message = failure
        ET.SubElement(case, "failure", type=kind, message=message).text = message
    elif skipped is not None:
        ET.SubElement(case, "skipped", message=skipped)
    if out:
        ET.SubElement(case, "system-out").text = out


def _change_case(suite: ET.Element, prefix: str, change: MetricChange, fail_on: str | None) -> None:
    message = (f"{change.verdict.value}: {change.metric} {change.before} -> {change.after}"
               + (f" ({change.change:+.1%})" if change.change is not None else "") + f"; {change.evidence}")
    failure = None
    if fail_on and change.verdict is Verdict.REGRESSED:
        failure = ("regressed", message)
    elif fail_on == "inconclusive" and change.verdict is Verdict.INCONCLUSIVE:
        failure = ("inconclusive", message)
    skipped = message if change.verdict in (Verdict.NOT_AVAILABLE, Verdict.TOO_FEW, Verdict.TOO_SHORT) else None
    _case(suite, f"{prefix}.{change.operation}", change.metric, failure, skipped, message)


def _suite(root: ET.Element, gate: Gate, fail_on: str | None) -> None:
    record = gate.candidate
    prefix = f"{record.engine}.{record.workload}" + (f".{record.preset}" if record.preset else "")
    suite = ET.SubElement(root, "testsuite", name=f"dbarena {record.run_id}")
    validity = None
    if gate.judge_validity and record.over_error_budget:
        validity = ("errors", f"run {record.run_id} exceeded its error budget: {'; '.join(record.invalid_reasons)}")
    elif gate.judge_validity and not record.valid:
        validity = ("invalid", f"run {record.run_id} is INVALID: {'; '.join(record.invalid_reasons)}")
    _case(suite, prefix, "valid", validity)
    if gate.not_compared is not None:
        failure = ("invalid", gate.not_compared) if gate.baseline_invalid and fail_on else None
        _case(suite, prefix, "baseline", failure, None if failure else gate.not_compared)
    if gate.comparison is not None:
        for change in gate.comparison.changes:
            _change_case(suite, prefix, change, fail_on)
    for check in gate.checks:
        _case(suite, f"{prefix}.{check.operation or 'run'}", f"threshold {check.name}",
              None if check.passed else ("threshold", check.detail), out=check.detail)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
    suite.set("errors", "0")


def junit_xml(gates: Sequence[Gate], fail_on: str | None) -> str:
    """The JUnit XML document for `gates` (one testsuite each), as text with its XML declaration."""
    root = ET.Element("testsuites", name="dbarena")
    for gate in gates:
        _suite(root, gate, fail_on)
    for key in ("tests", "failures", "skipped", "errors"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in root.findall("testsuite"))))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
