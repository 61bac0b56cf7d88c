"""The gate through the CLI on stored records: invalid runs refused (exit 5), --fail-on, thresholds and `check`,
--json on stdout only, JUnit XML that parses with the right failures."""

from __future__ import annotations

import functools
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.exit_codes import ExitCode
from harness.results import store
from harness.results.baselines import FORCED_NOTE
from harness.results.record import RunRecord
from tests.compare.records import all_failed, invalid, synthetic_run

STALL = "engine stalled: no call succeeded in 3 of 8 measured seconds"


@functools.cache
def _records() -> dict[str, RunRecord]:
    fast = synthetic_run(1000, seconds=8, per_second=200, run_id="20260101T000000Z-fake-kv-cache-aaaa", seed=1)
    slow = synthetic_run(3000, seconds=8, per_second=200, run_id="20260101T000100Z-fake-kv-cache-bbbb", seed=2)
    noisy_a = synthetic_run(1000, seconds=6, per_second=40, seed=1, noise=0.9, run_id="20260101T000200Z-noisy-a")
    noisy_b = synthetic_run(1000, seconds=6, per_second=40, seed=2, noise=0.9, run_id="20260101T000300Z-noisy-b")
    stalled = invalid(synthetic_run(1000, seconds=8, per_second=200, seed=3, run_id="20260101T000400Z-stalled"),
                      STALL, causes=("engine",))
    failed = all_failed(synthetic_run(1000, seconds=8, per_second=200, seed=4, run_id="20260101T000500Z-failed"))
    return {"fast": fast, "slow": slow, "noisy_a": noisy_a, "noisy_b": noisy_b, "stalled": stalled, "failed": failed}


@pytest.fixture
def runs(results: Path) -> dict[str, RunRecord]:
    for record in _records().values():
        store.save(record)
    return _records()


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    return line


def test_an_invalid_run_is_never_promoted_silently(runs: dict[str, RunRecord], results: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    stalled = runs["stalled"]
    assert main(["baseline", "promote", stalled.run_id]) == ExitCode.INVALID
    line = _one_line(capsys.readouterr().err)
    assert line == (f"dbarena: run {stalled.run_id} is INVALID ({STALL}); not a baseline "
                    "(--force promotes it anyway, marked invalid)")
    assert not (results / "baselines").exists()
    assert main(["baseline", "promote", stalled.run_id, "--force"]) == ExitCode.OK
    baseline = store.load(results / "baselines" / "fake" / "kv-cache.json")
    assert not baseline.valid and baseline.invalid_reasons == (STALL,) and FORCED_NOTE in baseline.notes
    capsys.readouterr()
    assert main(["baseline", "list"]) == ExitCode.OK
    assert f"INVALID: {STALL}" in capsys.readouterr().out
    # a gate against the marked baseline refuses, unless forced
    assert main(["compare", runs["fast"].run_id, "--fail-on", "regressed"]) == ExitCode.INVALID
    assert f"baseline {stalled.run_id} is INVALID: {STALL}" in _one_line(capsys.readouterr().err)
    assert main(["compare", runs["fast"].run_id, "--force"]) == ExitCode.OK
    assert f"*** baseline {stalled.run_id} is INVALID: {STALL} ***" in capsys.readouterr().out


def test_compare_refuses_an_invalid_side_unless_forced(runs: dict[str, RunRecord],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    fast, stalled, failed = runs["fast"], runs["stalled"], runs["failed"]
    assert main(["compare", fast.run_id, stalled.run_id]) == ExitCode.INVALID
    line = _one_line(capsys.readouterr().err)
    assert f"candidate {stalled.run_id} is INVALID: {STALL}" in line and "--force" in line
    assert main(["compare", failed.run_id, fast.run_id]) == ExitCode.INVALID
    assert "100.0% of calls failed" in _one_line(capsys.readouterr().err)
    assert main(["compare", fast.run_id, stalled.run_id, "--force"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.splitlines()[2] == f"*** candidate {stalled.run_id} is INVALID: {STALL} ***"
    assert "(INVALID run compared)" in out
    # forced to show, but a gate never passes on an invalid side, candidate or baseline
    assert main(["compare", fast.run_id, stalled.run_id, "--force", "--fail-on", "regressed"]) == ExitCode.INVALID
    assert main(["compare", stalled.run_id, fast.run_id, "--force", "--fail-on", "regressed"]) == ExitCode.INVALID


def test_fail_on_inconclusive(runs: dict[str, RunRecord], capsys: pytest.CaptureFixture[str]) -> None:
    a, b = runs["noisy_a"].run_id, runs["noisy_b"].run_id
    assert main(["compare", a, b, "--force"]) == ExitCode.OK
    assert "verdict: INCONCLUSIVE" in capsys.readouterr().out
    assert main(["compare", a, b, "--force", "--fail-on", "regressed"]) == ExitCode.OK
    assert main(["compare", a, b, "--force", "--fail-on", "inconclusive"]) == ExitCode.INCONCLUSIVE
    fast, slow = runs["fast"].run_id, runs["slow"].run_id
    assert main(["compare", fast, slow, "--fail-on", "inconclusive"]) == ExitCode.REGRESSED
    assert main(["compare", fast, slow, "--fail-on-regression"]) == ExitCode.REGRESSED


def test_compare_json_is_the_only_thing_on_stdout(runs: dict[str, RunRecord], capsys: pytest.CaptureFixture[str]) -> None:
    fast, slow = runs["fast"], runs["slow"]
    assert main(["compare", fast.run_id, slow.run_id, "--json", "--fail-on", "regressed",
                 "--threshold", "read.p50<2ms"]) == ExitCode.THRESHOLD
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"run", "valid", "invalid_reasons", "invalid_causes", "comparison", "not_compared",
                         "thresholds", "gate"}
    comparison = data["comparison"]
    assert (comparison["baseline"], comparison["candidate"], comparison["verdict"]) == (fast.run_id, slow.run_id,
                                                                                      "regressed")
    p50 = next(c for c in comparison["changes"] if c["metric"] == "p50")
    assert p50["baseline"] == fast.operations["read"].latency_us.p50  # type: ignore[union-attr]
    assert p50["verdict"] == "regressed" and len(p50["interval"]) == 2 and p50["method"]
    (threshold,) = data["thresholds"]
    assert threshold["threshold"] == "read.p50<2ms" and threshold["passed"] is False
    assert threshold["value"] == slow.operations["read"].latency_us.p50  # type: ignore[union-attr]
    assert data["gate"] == {"fail_on": "regressed", "failures": ["threshold", "regressed"], "exit_code": 7}


def test_the_old_threshold_spelling_is_the_minimum_effect(runs: dict[str, RunRecord],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    fast, slow = runs["fast"].run_id, runs["slow"].run_id
    assert main(["compare", fast, slow, "--threshold", "0.10"]) == ExitCode.OK
    captured = capsys.readouterr()
    assert "minimum effect 10%" in captured.out
    assert "--threshold 0.10 read as --min-effect 0.10" in captured.err
    assert main(["compare", fast, slow, "--min-effect", "5"]) == ExitCode.OK  # a 500% effect: nothing counts
    assert "verdict: REGRESSED" not in capsys.readouterr().out


def test_check_gates_a_run_without_a_baseline(runs: dict[str, RunRecord], capsys: pytest.CaptureFixture[str]) -> None:
    fast = runs["fast"]
    p50 = fast.operations["read"].latency_us.p50  # type: ignore[union-attr]
    assert main(["check", fast.run_id, "--threshold", f"read.p50<{p50 + 1}us", "--threshold", "errors<0.1%"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert f"threshold read.p50<{p50 + 1}us: pass" in out and "thresholds: PASS" in out
    assert main(["check", fast.run_id, "--threshold", f"p50<{p50}us"]) == ExitCode.THRESHOLD
    assert "thresholds: FAIL (1 of 1 breached)" in capsys.readouterr().out
    assert main(["check", fast.run_id, "--threshold", "read.p99<5"]) == ExitCode.USER_ERROR
    assert _one_line(capsys.readouterr().err) == ("dbarena: --threshold 'read.p99<5': '5' has no unit; write a "
                                                  "duration with its unit, such as 250us, 5ms, 1.5e3us or 1s "
                                                  "(ns, us, µs, ms, s, min, h)")
    assert main(["check", fast.run_id, "--threshold", "read.throughput>1e3x"]) == ExitCode.USER_ERROR
    assert _one_line(capsys.readouterr().err) == ("dbarena: --threshold 'read.throughput>1e3x': '1e3x' is not "
                                                  "understood; write a rate in ops/s, such as 2000, 2.5k, 1e3, "
                                                  "1,000 or 1_000 ops/s")
    assert main(["check", fast.run_id, "--threshold", "read.throughput>1e0"]) == ExitCode.OK  # issue 14: was refused
    assert main(["check", fast.run_id, "--threshold", "read.p99<1h"]) == ExitCode.OK  # 1,600 samples: enough for p99
    out = capsys.readouterr().out
    assert "threshold read.p99<1h: pass (read p99 " in out and " ms < 3,600 s)" in out
    assert main(["check", fast.run_id, "--threshold", "read.p999<1h"]) == ExitCode.THRESHOLD
    assert "p999 needs 10,000 (10/(1-q)); run longer" in capsys.readouterr().out
    assert main(["check", runs["stalled"].run_id, "--threshold", "errors<1%"]) == ExitCode.INVALID
    # --force shows the figures, but a gate never passes on an invalid run (docs/output.md), as `compare` does
    assert main(["check", runs["failed"].run_id, "--threshold", "errors<1%", "--force", "--json"]) == ExitCode.ERRORS
    data = json.loads(capsys.readouterr().out)
    assert data["thresholds"][0]["value"] == 1.0 and data["gate"]["failures"] == ["errors", "invalid", "threshold"]


def test_check_force_on_an_invalid_run_shows_the_figures_but_fails_the_gate(
        runs: dict[str, RunRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stalled, fast = runs["stalled"], runs["fast"]
    junit = tmp_path / "cj.xml"
    argv = ["check", stalled.run_id, "--threshold", "read.p99<1s", "--force", "--json", "--junit", str(junit)]
    assert main(argv) == ExitCode.INVALID
    data = json.loads(capsys.readouterr().out)
    assert data["thresholds"][0]["passed"] and data["gate"]["failures"] == ["invalid"]
    assert data["gate"]["exit_code"] == ExitCode.INVALID
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["valid"].find("failure")
    assert failure is not None and failure.get("type") == "invalid"
    assert cases["threshold read.p99<1s"].find("failure") is None
    # the same run through compare --force --fail-on: the same gate outcome
    assert main(["compare", fast.run_id, stalled.run_id, "--force", "--fail-on", "regressed",
                 "--junit", str(junit)]) == ExitCode.INVALID


def test_junit_file_parses_with_the_right_failures(runs: dict[str, RunRecord], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    fast, slow = runs["fast"], runs["slow"]
    target = tmp_path / "gate.xml"
    assert main(["compare", fast.run_id, slow.run_id, "--fail-on", "regressed", "--junit", str(target)]) \
        == ExitCode.REGRESSED
    root = ET.parse(target).getroot()
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert set(cases) == {("fake.kv-cache", "valid"), *(("fake.kv-cache.read", m) for m in
                                                        ("throughput", "p50", "p99", "p999"))}
    failed = {name for (_, name), case in cases.items() if case.find("failure") is not None}
    assert {"p50", "p99"} <= failed and "valid" not in failed and "throughput" not in failed
    assert root.get("failures") == str(len(failed))
    assert main(["check", fast.run_id, "--threshold", "p50<1us", "--junit", str(target)]) == ExitCode.THRESHOLD
    (case,) = [c for c in ET.parse(target).getroot().iter("testcase") if c.get("name", "").startswith("threshold")]
    assert case.get("name") == "threshold read.p50<1us" and case.find("failure") is not None
    assert main(["check", fast.run_id, "--threshold", "p50<1us", "--junit", str(tmp_path / "no" / "x.xml")]) \
        == ExitCode.USER_ERROR
    assert "--junit" in _one_line(capsys.readouterr().err)


def test_show_json_is_the_record(runs: dict[str, RunRecord], capsys: pytest.CaptureFixture[str]) -> None:
    fast = runs["fast"]
    assert main(["show", fast.run_id, "--json"]) == ExitCode.OK
    assert RunRecord.model_validate(json.loads(capsys.readouterr().out)) == fast


def test_validate_names_a_bad_threshold_in_a_suite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "gated.yaml"
    suite.write_text("version: 1\nname: gated\nruns:\n  - workload: kv-cache\n    engines: [fake]\n"
                     "    thresholds: ['read.p99 < 5 parsecs', 'errors<1%']\n")
    assert main(["validate", str(suite)]) == ExitCode.PROBLEMS
    assert _one_line(capsys.readouterr().err).startswith(
        f"dbarena: {suite}: runs[0].thresholds: 'read.p99 < 5 parsecs': '5 parsecs' is not")


def test_show_marks_percentiles_from_too_few_samples(runs: dict[str, RunRecord],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from harness.runner.progress import fmt_us

    fast = runs["fast"]  # 1,600 reads: enough for p99, not for p99.9
    latency = fast.operations["read"].latency_us
    assert latency is not None and 1000 <= fast.operations["read"].count < 10_000
    assert main(["show", fast.run_id]) == ExitCode.OK
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.startswith("read ")]
    assert f" {fmt_us(latency.p99)} " in row and f" {fmt_us(latency.p999)}* " in row
    assert "* from fewer than 10/(1-q) samples" in out


def test_bench_takes_the_minimum_effect_it_judges_its_baseline_with(runs: dict[str, RunRecord]) -> None:
    """`bench --min-effect` reaches the comparison with the committed baseline (docs/output.md says it does)."""
    from harness.cli import build_parser
    from harness.cli.options import DEFAULT_MIN_EFFECT
    from harness.compare.compare import DEFAULT_THRESHOLD, Verdict
    from harness.results.baselines import promote
    from harness.studies.bench import versus_baseline

    assert DEFAULT_MIN_EFFECT == DEFAULT_THRESHOLD
    args = build_parser().parse_args(["bench", "--engine", "fake", "--min-effect", "5"])
    assert args.min_effect == 5.0
    assert build_parser().parse_args(["bench", "--engine", "fake"]).min_effect == DEFAULT_THRESHOLD
    promote(runs["fast"])
    slow = runs["slow"]  # 3x the latency of the baseline
    default, _, _ = versus_baseline(slow)
    assert default is not None and default.verdict is Verdict.REGRESSED
    lenient, _, _ = versus_baseline(slow, 5.0)  # +200% is inside a 500% minimum effect
    assert lenient is not None and lenient.verdict is not Verdict.REGRESSED and lenient.threshold == 5.0
