"""The gate's failures, worst first: errors, invalid, threshold, regressed, inconclusive."""

from __future__ import annotations

from harness.cli.exit_codes import ExitCode, for_failures
from harness.compare.compare import compare
from harness.compare.gate import Failure, Gate
from harness.compare.thresholds import check_thresholds, parse_thresholds
from tests.compare.records import all_failed, invalid, synthetic_run


def test_failures_in_order() -> None:
    base = synthetic_run(1000, seed=1, run_id="a")
    slow = synthetic_run(1300, seed=2, run_id="b")
    regressed = compare(base, slow)
    breached = check_thresholds(slow, parse_thresholds(["read.p50<1ms"]))
    assert Gate(slow, regressed).failures(None) == []  # no gate asked for: reported, not failed
    assert Gate(slow, regressed).failures("regressed") == [Failure.REGRESSED]
    assert Gate(slow, regressed, breached).failures("regressed") == [Failure.THRESHOLD, Failure.REGRESSED]
    stalled = invalid(slow, "engine stalled", causes=("engine",))
    assert Gate(stalled, regressed).failures(None) == [Failure.INVALID]
    assert Gate(stalled, regressed, judge_validity=False).failures(None) == []  # compare --force
    failed = all_failed(slow)
    assert Gate(failed).failures(None) == [Failure.ERRORS, Failure.INVALID]
    assert for_failures([f.value for f in Gate(failed).failures(None)]) == ExitCode.ERRORS
    assert Gate(slow, not_compared="baseline x is INVALID", baseline_invalid=True).failures("regressed") == [
        Failure.INVALID]
    assert Gate(slow, not_compared="baseline x is INVALID", baseline_invalid=True).failures(None) == []


def test_inconclusive_fails_only_when_asked() -> None:
    noisy = compare(synthetic_run(1000, seconds=6, per_second=40, seed=1, noise=0.9, run_id="a"),
                    synthetic_run(1000, seconds=6, per_second=40, seed=2, noise=0.9, run_id="b"))
    assert noisy.inconclusive and not noisy.regressions
    gate = Gate(noisy.candidate, noisy)
    assert gate.failures("regressed") == []
    assert gate.failures("inconclusive") == [Failure.INCONCLUSIVE]
    assert for_failures(["inconclusive"]) == ExitCode.INCONCLUSIVE
    assert for_failures(["inconclusive", "regressed", "threshold"]) == ExitCode.THRESHOLD
