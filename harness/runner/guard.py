"""The harness-side operation timeout: the last resort behind each driver's own timeout.

One loop timer per worker process looks at every user's call in flight every GUARD_PERIOD_S and
throws `CallTimedOut` into a user whose call is past its deadline (the operation's timeout plus
GUARD_GRACE_S, harness.runner.outcomes). The check runs in gevent's hub while the user is parked
inside that very call (a user only yields to the hub in a call or in a sleep, and clears its
`call` before sleeping), so the exception can only land in the overdue call. Cost on the hot
path: the user sets one attribute per call — no timer is armed per call (arming a gevent.Timeout
costs ~2 µs, as much as recording the operation).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

import gevent
from greenlet import greenlet

from harness.runner.outcomes import GUARD_PERIOD_S


class CallTimedOut(BaseException):
    """Thrown into a call that outlasted its deadline (never raised by a driver)."""


class Watched(Protocol):
    op_greenlet: greenlet | None  # the user's greenlet while it runs operations
    call: tuple[int, int, int] | None  # (operation index, intended start, start) of the call in flight


class Guard:
    """Watches users' calls in flight; started once per process for the run, stopped at its end.

    `limits_ns[i]`: how long a call of operation i may take (its timeout + GUARD_GRACE_S); no call
    runs past `drain_end_ns`, the end of the window's drain.
    """

    def __init__(self, users: Sequence[Watched], limits_ns: Sequence[int], drain_end_ns: int,
                 period_s: float = GUARD_PERIOD_S) -> None:
        self.users = users  # the process's list: users that connect later are watched too
        self.limits_ns = limits_ns
        self.drain_end_ns = drain_end_ns
        self.fired = 0
        self._timer: Any = gevent.get_hub().loop.timer(period_s, period_s)
        self._timer.start(self._check)

    def _check(self) -> None:
        now = time.perf_counter_ns()
        for user in self.users:
            call, glet = user.call, user.op_greenlet
            if call is None or glet is None or glet.dead:
                continue
            deadline = min(call[2] + self.limits_ns[call[0]], self.drain_end_ns)
            if now > deadline:
                user.call = None
                self.fired += 1
                try:
                    glet.throw(CallTimedOut(f"call outlasted its deadline by {(now - deadline) / 1e6:.0f} ms"))
                except Exception:
                    pass

    def stop(self) -> None:
        self._timer.stop()
        self._timer.close()
