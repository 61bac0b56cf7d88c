"""Live progress lines on stderr: one line rewritten in place on a terminal, plain lines in CI."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, stream=sys.stderr, min_interval_s: float = 1.0) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._open = False

    def update(self, line: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval_s:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\033[K" + line)
            self._open = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self, line: str | None = None) -> None:
        if self._open:
            self.stream.write("\r\033[K")
            self._open = False
        if line:
            self.stream.write(line + "\n")
        self.stream.flush()

    def say(self, line: str) -> None:
        self.done()
        self.stream.write(line + "\n")
        self.stream.flush()


def fmt_us(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1000:
        return f"{value:.0f} µs"
    if value < 1_000_000:
        return f"{value / 1000:.2f} ms"
    return f"{value / 1_000_000:.2f} s"


def fmt_clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"
