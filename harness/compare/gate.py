"""The CI gate on one candidate run: its validity, its verdict against a baseline, its absolute thresholds.

`Gate.failures(fail_on)` lists what fails the gate, worst first; the CLI turns the first into
its exit code and the JUnit writer into failed testcases:

    errors        the run's failed calls exceeded its error budget, or none succeeded
    invalid       the run (or its baseline) is invalid for another reason (`invalid_reasons`)
    threshold     an absolute threshold was breached or could not be checked
    regressed     a metric regressed against the baseline (with fail_on regressed or inconclusive)
    inconclusive  a verdict is inconclusive (with fail_on inconclusive)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from harness.compare.compare import Comparison
from harness.compare.thresholds import ThresholdCheck
from harness.results.record import RunRecord

__all__ = ["Failure", "Gate"]


class Failure(StrEnum):
    ERRORS = "errors"
    INVALID = "invalid"
    THRESHOLD = "threshold"
    REGRESSED = "regressed"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Gate:
    """What the gate knows about one candidate run.

    `judge_validity`: whether the candidate's (and baseline's) validity is part of the gate; off for
    `compare --force`, where the user asked to compare invalid runs anyway.
    """

    candidate: RunRecord
    comparison: Comparison | None = None
    checks: tuple[ThresholdCheck, ...] = ()
    not_compared: str | None = None  # why a baseline exists but was not compared
    baseline_invalid: bool = False  # the baseline is invalid (forced promotion): nothing to gate against
    judge_validity: bool = True

    @property
    def breached(self) -> list[ThresholdCheck]:
        return [c for c in self.checks if not c.passed]

    def failures(self, fail_on: str | None) -> list[Failure]:
        """What fails the gate, worst first (empty: the gate passes)."""
        out: list[Failure] = []
        record = self.candidate
        if self.judge_validity:
            if record.over_error_budget:
                out.append(Failure.ERRORS)
            if not record.valid or (self.baseline_invalid and fail_on):
                out.append(Failure.INVALID)
        if self.breached:
            out.append(Failure.THRESHOLD)
        if self.comparison is not None and fail_on:
            if self.comparison.regressions:
                out.append(Failure.REGRESSED)
            if fail_on == "inconclusive" and self.comparison.inconclusive:
                out.append(Failure.INCONCLUSIVE)
        return out
