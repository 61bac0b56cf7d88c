"""Waiting for an intended start, precisely, inside gevent (open-loop pacing).

`gevent.sleep` wakes late by up to a millisecond and a bit (about 0.5 ms at the median): gevent's
libev loop waits in `epoll_wait`, whose timeout is whole milliseconds, rounded up (libev's
`EV_TS_TO_MSEC`, and at least its 1 ms `backend_mintime`). In open loop that delay is counted in
every response time, as if the engine had taken it.

A Linux timerfd (timerfd_create(2)) armed with an absolute deadline (`TFD_TIMER_ABSTIME`) on
`CLOCK_MONOTONIC` — the clock `time.perf_counter_ns` reads on Linux (`clock_gettime(CLOCK_MONOTONIC)`)
— fires from a kernel hrtimer with no slack; it makes its descriptor readable, which wakes the
loop's `epoll_wait` at once, so the waiting greenlet resumes tens of µs after its deadline. The
kernel guarantees the clock has reached the deadline when the descriptor turns readable.

Even so, waking a sleeping process costs tens of µs on a virtual machine (25-45 µs measured here
for a bare blocking read, about 10 µs more through gevent's loop). So the timer is armed a margin
before the deadline and the last stretch is spent yielding (`gevent.sleep(0)`: other greenlets'
I/O is served meanwhile) until the clock reaches the deadline; the margin follows the wake-up
delay the process sees (`Margin`: its 75th percentile, at most `MARGIN_MAX_NS`), so three waits
in four end within a loop turn of their deadline, and the yielding costs about a wake-up delay of
CPU per wait. A wait never ends before its deadline on `time.perf_counter_ns`.

Python 3.11 has no `os.timerfd_*` (3.13 does) and no maintained PyPI package wraps it, so the two
calls go through ctypes. Where timerfd is missing (not Linux), `SleepWaiter` loops on
`gevent.sleep`, which is never early either but millisecond-coarse. `DBARENA_WAIT=gevent-sleep`
selects it everywhere: benchmarks/pacing.py uses it to measure both side by side in one run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
from typing import Any, Protocol

import gevent

WAIT_ENV = "DBARENA_WAIT"  # "gevent-sleep": the millisecond-coarse wait (benchmarks/pacing.py compares both)
CLOCK_MONOTONIC = 1  # <linux/time.h>; what time.perf_counter_ns reads on Linux
TFD_TIMER_ABSTIME = 1  # <sys/timerfd.h>: the deadline is an absolute time on the timer's clock
NS_PER_S = 1_000_000_000
MARGIN_START_NS = 40_000  # the first waits' margin: about a wake-up delay on an idle virtual machine
MARGIN_MAX_NS = 100_000  # the most a wait yields in a loop before its deadline (bounds the CPU it spends)
MARGIN_UP_NS, MARGIN_DOWN_NS = 1_500, 500  # late wake: widen; early: narrow (settles where 1 wake in 4 is late)


class Waiter(Protocol):
    def until(self, deadline_ns: int) -> None:
        """Return once `time.perf_counter_ns()` ≥ `deadline_ns`, letting other greenlets run meanwhile."""

    def close(self) -> None:
        """Release what the waiter holds (its descriptor); it is not used afterwards."""


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> Any:
    """libc with timerfd_create/timerfd_settime, or None where there is no timerfd (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        create, settime = libc.timerfd_create, libc.timerfd_settime
    except (OSError, AttributeError):
        return None
    create.argtypes, create.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settime.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Itimerspec), ctypes.c_void_p]
    settime.restype = ctypes.c_int
    return libc


_LIBC = _libc()


class Margin:
    """How early to arm the timer before a deadline (ns): an online estimate of the wake-up delay's 75th percentile.

    Each observed wake moves it by a fixed step: up `MARGIN_UP_NS` when the timer woke the greenlet
    later than the margin allowed, down `MARGIN_DOWN_NS` otherwise, so it settles where one wake in
    four is late (the stochastic-approximation quantile estimate), within [0, `MARGIN_MAX_NS`].
    """

    def __init__(self, start_ns: int = MARGIN_START_NS) -> None:
        self.ns = start_ns

    def observe(self, delay_ns: int) -> None:
        """One wake-up `delay_ns` after the time the timer was armed for."""
        if delay_ns > self.ns:
            self.ns = min(MARGIN_MAX_NS, self.ns + MARGIN_UP_NS)
        else:
            self.ns = max(0, self.ns - MARGIN_DOWN_NS)


PROCESS_MARGIN = Margin()  # shared by the process's users: they all wake through the same loop


class TimerfdWaiter:
    """One timerfd (non-blocking, close-on-exec) and its gevent read watcher, reused for every wait.

    Raises OSError when the kernel refuses a descriptor (e.g. EMFILE).
    """

    def __init__(self, margin: Margin = PROCESS_MARGIN) -> None:
        self.margin = margin
        fd = _LIBC.timerfd_create(CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"timerfd_create: {os.strerror(errno)}")
        self.fd = fd
        self._spec = _Itimerspec()
        self._pointer = ctypes.pointer(self._spec)
        self._hub = gevent.get_hub()
        self._watcher = self._hub.loop.io(fd, 1)  # 1: readable (libev EV_READ)

    def until(self, deadline_ns: int) -> None:
        clock = time.perf_counter_ns
        armed = deadline_ns - self.margin.ns
        if clock() < armed:
            self._sleep(armed)
            self.margin.observe(clock() - armed)
        while clock() < deadline_ns:
            gevent.sleep(0)  # the last µs: a loop turn at a time, the other greenlets' I/O served meanwhile

    def _sleep(self, armed_ns: int) -> None:
        """Park the greenlet until the timer fires at `armed_ns` (the kernel's CLOCK_MONOTONIC, absolute)."""
        value = self._spec.it_value
        value.tv_sec, value.tv_nsec = divmod(armed_ns, NS_PER_S)
        if _LIBC.timerfd_settime(self.fd, TFD_TIMER_ABSTIME, self._pointer, None) < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"timerfd_settime: {os.strerror(errno)}")
        self._hub.wait(self._watcher)
        try:
            os.read(self.fd, 8)  # the expiry count: reading it makes the descriptor unreadable again
        except BlockingIOError:
            pass  # woken without an expiry (never seen): `until` checks the clock anyway

    def close(self) -> None:
        if self.fd >= 0:
            self._watcher.close()
            os.close(self.fd)
            self.fd = -1


class SleepWaiter:
    """gevent.sleep until the deadline: never early, late by up to a millisecond and a bit."""

    def until(self, deadline_ns: int) -> None:
        clock = time.perf_counter_ns
        while (now := clock()) < deadline_ns:
            gevent.sleep((deadline_ns - now) / NS_PER_S)

    def close(self) -> None:
        pass


def new_waiter() -> Waiter:
    """A timerfd waiter on Linux, else (or with DBARENA_WAIT=gevent-sleep, or out of descriptors) a gevent.sleep one.

    The start lag is recorded either way (`lag_us` in the run record), so a coarse wait shows there.
    """
    if _LIBC is None or os.environ.get(WAIT_ENV) == "gevent-sleep":
        return SleepWaiter()
    try:
        return TimerfdWaiter()
    except OSError:  # EMFILE/ENFILE: a user that waits coarsely beats a user that is gone
        return SleepWaiter()
