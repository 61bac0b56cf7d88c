"""The exit codes of `dbarena`, one name each (scripts and CI gates depend on them; docs/output.md).

    0    OK            the command did what was asked (and every gate asked for passed)
    1    PROBLEMS      `dbarena validate` found problems in a spec file (one line each on stderr), or
                       `dbarena verify` found engines whose answers differ (the cells that differ)
    2    USER_ERROR    something the user can fix: a bad flag, file, name, threshold expression or an
                       unreachable engine (one line on stderr, no traceback)
    3    REGRESSED     with --fail-on regressed|inconclusive (or --fail-on-regression): a metric is
                       worse than the baseline's
    4    ERRORS        a run's failed calls exceeded its error budget (--max-error-rate, default 1%), or
                       none succeeded: the record is saved, marked invalid with the reason
    5    INVALID       a run is invalid for any other reason (load generator saturated, engine stalled,
                       must-hit misses, a lost worker ...: the record's `invalid_reasons`); or a stored
                       invalid run was refused by `baseline promote`, `compare` or `check` (--force
                       overrides; `baseline promote` refuses an incomplete run even so); or the gate's
                       baseline is itself invalid
    6    INCONCLUSIVE  with --fail-on inconclusive: no regression, but a verdict is inconclusive (its
                       interval reaches past the minimum effect)
    7    THRESHOLD     an absolute threshold (--threshold, a suite's `thresholds`) was breached, or could
                       not be checked (too few samples for its percentile)
    130  INTERRUPTED   stopped by Ctrl-C (SIGINT), SIGTERM or SIGHUP; what was measured is saved

When several apply, the first in this order wins: 130, 4, 5, 7, 3, 6. A run with 100% errors
never exits 0. A harness bug is an uncaught exception: Python prints its traceback and exits 1.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode", "for_failures"]


class ExitCode(IntEnum):
    OK = 0
    PROBLEMS = 1
    USER_ERROR = 2
    REGRESSED = 3
    ERRORS = 4
    INVALID = 5
    INCONCLUSIVE = 6
    THRESHOLD = 7
    INTERRUPTED = 130


_BY_FAILURE = {"errors": ExitCode.ERRORS, "invalid": ExitCode.INVALID, "threshold": ExitCode.THRESHOLD,
               "regressed": ExitCode.REGRESSED, "inconclusive": ExitCode.INCONCLUSIVE}
_ORDER = (ExitCode.ERRORS, ExitCode.INVALID, ExitCode.THRESHOLD, ExitCode.REGRESSED, ExitCode.INCONCLUSIVE)


def for_failures(failures: list[str]) -> ExitCode:
    """The exit code of the worst of a gate's failures (`harness.compare.gate.Failure` values); OK when none."""
    codes = {_BY_FAILURE[f] for f in failures}
    return next((code for code in _ORDER if code in codes), ExitCode.OK)
