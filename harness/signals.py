"""Signals a run must survive: SIGINT (Ctrl-C), SIGTERM (`timeout`, CI cancellation), SIGHUP (a closed terminal).

`stop_signals_raise()` (the CLI wraps every command in it) makes the first stop signal raise `Interrupted` (a KeyboardInterrupt,
like Ctrl-C), so every `finally` runs: native engines started by dbarena are stopped by PID,
workers are told to stop, and what was measured is saved. `deferred_signals()` holds those
signals back while a record is being written, then delivers them, so a second Ctrl-C can
never leave a measurement unsaved.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; `signal_name` says which (SIGINT, SIGTERM, SIGHUP)."""

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


def interruption_name(exc: BaseException) -> str:
    """'SIGTERM' for an Interrupted from SIGTERM; Ctrl-C (a plain KeyboardInterrupt) is SIGINT."""
    return exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Within the block, the first SIGINT, SIGTERM or SIGHUP raises Interrupted in the main thread.

    Later ones only say that the run is already stopping: the first one's handling (stop the
    workers, collect and save what they measured, stop the engines) must not be cut short.
    """
    raised: list[str] = []

    def handle(signum: int, _: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if raised:
            print(f"dbarena: {name}: already stopping after {raised[0]}; saving what was measured", file=sys.stderr)
            return
        raised.append(name)
        raise Interrupted(name)

    previous = {signum: signal.signal(signum, handle) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Stop signals wait until the block ends (writing a record), then arrive as usual."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
