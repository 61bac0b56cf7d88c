"""The exit codes of `dbarena`, one name each (scripts and CI gates depend on them).

    0    OK            the command did what was asked
    1    PROBLEMS      `dbarena validate` found problems in a spec file (one line each on stderr)
    2    USER_ERROR    something the user can fix: a bad flag, file, name or an unreachable engine
                       (one line on stderr, no traceback)
    3    REGRESSED     with --fail-on-regression: a run is worse than its baseline
    4    ERRORS        a run's failed calls exceeded its error budget (--max-error-rate, default 1%), or
                       none succeeded: the record is saved, marked invalid with the reason
    130  INTERRUPTED   stopped by Ctrl-C (SIGINT), SIGTERM or SIGHUP; what was measured is saved

A harness bug is an uncaught exception: Python prints its traceback and exits 1.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    OK = 0
    PROBLEMS = 1
    USER_ERROR = 2
    REGRESSED = 3
    ERRORS = 4
    INTERRUPTED = 130
