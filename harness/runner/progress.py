"""Live progress lines on stderr: one line rewritten in place on a terminal, plain lines in CI.

Every line is redacted (`harness.redact.redact_text`): a line quoting a URL never shows its password.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from harness.redact import redact_text


class Progress:
    def __init__(self, stream: TextIO | None = None, min_interval_s: float = 1.0) -> None:
        self.stream = stream if stream is not None else sys.stderr  # the stream of now, not of import time
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._open = False

    def update(self, line: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval_s:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\033[K" + redact_text(line))
            self._open = True
        else:
            self.stream.write(redact_text(line) + "\n")
        self.stream.flush()

    def done(self, line: str | None = None) -> None:
        if self._open:
            self.stream.write("\r\033[K")
            self._open = False
        if line:
            self.stream.write(redact_text(line) + "\n")
        self.stream.flush()

    def say(self, line: str) -> None:
        self.done()
        self.stream.write(redact_text(line) + "\n")
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


def phase_clock(t: float, warmup_s: float, duration_s: float) -> tuple[str, float, float]:
    """(phase, seconds into that phase, the phase's planned length) at `t` seconds from the start of warm-up.

    The warm-up and the measurement each have their own clock: 9 s into a 2 s warm-up and 8 s
    measurement is ("measure", 7.0, 8.0), shown `[measure 00:07/00:08]`, never 00:09/00:10.
    """
    if t < warmup_s:
        return "warm-up", max(0.0, t), warmup_s
    return "measure", t - warmup_s, duration_s


def tick_clock(t: float, warmup_s: float, duration_s: float) -> tuple[str, float, float]:
    """`phase_clock` of the second a Tick covers: [t - 1, t) (a Tick's `t` is its second's end).

    A tick is shown after its second ends, so it is labelled by that second's start, not by the moment it is
    shown: with a 1 s warm-up the tick t=1 is `[warm-up 00:00/00:01]` and t=2 is `[measure 00:00/...]`.
    """
    return phase_clock(max(0.0, t - 1.0), warmup_s, duration_s)


BAR_WIDTH = 20


def load_line(label: str, done: int, total: int, elapsed_s: float, detail: str = "") -> str:
    """The bulk load's progress line: what is loading, a bar, records loaded of `total`, records/s, time left.

    e.g. "loading usertable [########------------] 40,000/100,000 records (40%)  20,000 records/s  ETA 00:03".
    The rate is the mean since the load began (`done` / `elapsed_s`); ETA is the rest at that rate ("--:--"
    before the first record).
    """
    total = max(total, 0)
    share = min(1.0, done / total) if total else 1.0
    filled = round(share * BAR_WIDTH)
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    eta = fmt_clock((total - done) / rate) if rate > 0 else "--:--"
    line = (f"loading {label} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done:,}/{total:,} records ({share:.0%})  "
            f"{rate:,.0f} records/s  ETA {eta}")
    return f"{line}  {detail}" if detail else line
