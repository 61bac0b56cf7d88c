"""The one timer's bookkeeping: every operation's outcome goes through `record`, `record_error` or `record_timeout`.

An operation belongs to the measurement window when its intended start (open loop) or its
start (closed loop) lies in it — whenever it ends: calls still running at the window's end are
drained and recorded, calls that outlast their timeout are timeouts, and in open loop intended
starts the users never reached are timeouts too (see harness.runner.worker). Operations anchored
in the warm-up go to a separate histogram that the summary excludes.

Latency is end − intended start in open loop (response time, coordinated-omission correct) and
end − actual start in closed loop; service time (end − actual start) and start lag (actual −
intended start) are kept separately in open loop. A timeout's latency (its elapsed time when it
was given up) is in the latency histogram too, so the histogram's total is count + timeouts.
Values above the histogram's ceiling are clamped to it and counted (`clamped`). Per-second rows
(by the second an operation ended) keep warm-up and measured operations apart, so the measured
rows' counts sum exactly to the measured count.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Sequence
from typing import Literal

from hdrh.histogram import HdrHistogram

from harness.metrics.histogram import HIGHEST_US, encode, new_histogram
from harness.redact import redact_text
from harness.runner.pacing import NS_PER_S
from harness.runner.protocol import OperationPart, SecondRow, StagePart, Tick, TickOperation, WorkerResult

ERROR_SAMPLES = 5
TALLY_FLUSH = 4096  # distinct values a tally holds before they go into their histogram
LAG_LIMIT_NS = NS_PER_S  # an operation started more than 1 s late counts as lagging


def first_line(message: str) -> str:
    """A message's first non-blank line (a driver's detail lines after it dropped), for one-line contexts."""
    return next((line.strip() for line in message.splitlines() if line.strip()), "")


PAUSE_EVERY = 16_384  # latencies turned into a histogram between two pauses (Recorder.pause)


def _no_pause() -> None:
    return None


class SecondBucket:
    """One operation's activity in one second of the run (warm-up or measured, never both)."""

    __slots__ = ("count", "errors", "latencies_us", "timeouts")

    def __init__(self) -> None:
        self.count = 0
        self.errors = 0
        self.timeouts = 0
        self.latencies_us: list[int] = []

    def histogram(self, highest_us: int, pause: Callable[[], None] = _no_pause) -> str:
        """The second's latencies as an encoded histogram ("" when there are none); `pause()` every PAUSE_EVERY
        values (a saturated open-loop second can hold millions: the process's heartbeats must go on)."""
        if not self.latencies_us:
            return ""
        histogram = new_histogram(highest_us)
        record = histogram.record_value
        for n, latency in enumerate(self.latencies_us, 1):
            record(latency)
            if not n % PAUSE_EVERY:
                pause()
        return encode(histogram)

    def row(self, second: int, op: str, phase: Literal["warmup", "measure"], highest_us: int,
            pause: Callable[[], None] = _no_pause) -> SecondRow:
        """The second as sent to the parent: counts and an encoded histogram (merged exactly)."""
        return SecondRow(t=second, op=op, phase=phase, count=self.count, errors=self.errors, timeouts=self.timeouts,
                         histogram=self.histogram(highest_us, pause))


class StageStats:
    """One operation within one stage of a load shape."""

    __slots__ = ("count", "errors", "histogram", "timeouts")

    def __init__(self, highest_us: int) -> None:
        self.count = 0
        self.errors = 0
        self.timeouts = 0
        self.histogram: HdrHistogram = new_histogram(highest_us)


class OperationStats:
    """Everything one process measured for one operation."""

    __slots__ = (
        "clamped",
        "count",
        "errors",
        "errors_sample",
        "lag",
        "lag_tally",
        "lagging",
        "must_hit",
        "name",
        "not_found",
        "response",
        "seconds",
        "service",
        "stages",
        "started",
        "timeouts",
        "warmup",
        "warmup_seconds",
    )

    def __init__(self, name: str, stages: int = 0, *, must_hit: bool = False, highest_us: int = HIGHEST_US) -> None:
        self.name = name
        self.must_hit = must_hit  # 0 rows is a miss (harness.runner.outcomes)
        self.response: HdrHistogram = new_histogram(highest_us)
        self.service: HdrHistogram = new_histogram(highest_us)
        self.lag: HdrHistogram = new_histogram(highest_us)
        # start lags (µs) -> how many, not yet in `lag`: a dict increment costs a tenth of an HDR record
        self.lag_tally: dict[int, int] = {}
        self.warmup: HdrHistogram = new_histogram(highest_us)
        self.count = 0  # measured calls that succeeded (not_found among them)
        self.errors = 0
        self.timeouts = 0
        self.not_found = 0
        self.clamped = 0
        self.errors_sample: list[str] = []
        self.seconds: dict[int, SecondBucket] = {}  # measured operations, by the second they ended
        self.warmup_seconds: dict[int, SecondBucket] = {}
        self.started = 0  # measured-phase starts in open loop
        self.lagging = 0  # of which more than a second late
        self.stages = [StageStats(highest_us) for _ in range(stages)]

    def flush_lag(self) -> HdrHistogram:
        """The lag histogram with every tallied lag in it."""
        for value, count in self.lag_tally.items():
            self.lag.record_value(value, count)
        self.lag_tally.clear()
        return self.lag

    def bucket(self, second: int, measured: bool) -> SecondBucket:
        seconds = self.seconds if measured else self.warmup_seconds
        bucket = seconds.get(second)
        if bucket is None:
            bucket = seconds[second] = SecondBucket()
        return bucket


class Recorder:
    """Per-process recorder. Times are perf_counter_ns on this process's clock.

    `must_hit[i]`: operation i's 0-row answers are misses; `highest_us`: the histograms' ceiling
    (harness.metrics.histogram.ceiling_us of the run's length).
    """

    def __init__(self, op_names: list[str], t0_ns: int, warmup_s: float, duration_s: float, open_loop: bool,
                 stage_durations_s: tuple[float, ...] = (), *, must_hit: Sequence[bool] = (),
                 highest_us: int = HIGHEST_US, pause: Callable[[], None] = _no_pause) -> None:
        hits = list(must_hit) or [False] * len(op_names)
        self.highest_us = highest_us
        self.pause = pause  # lets the process's other work run while long per-second lists become histograms
        self.stats = [OperationStats(name, len(stage_durations_s), must_hit=hit, highest_us=highest_us)
                      for name, hit in zip(op_names, hits, strict=True)]
        self.t0_ns = t0_ns
        self.measure_from_ns = t0_ns + int(warmup_s * NS_PER_S)
        self.measure_until_ns = self.measure_from_ns + int(duration_s * NS_PER_S)
        self.open_loop = open_loop
        self.late_service_ns = 0  # see `late`
        self.late_gap_ns = 0
        # who held the schedule up (harness.runner.run tells the generator's fault from the engine's by them):
        # calls ending once the window opened, whatever their anchor (a warm-up backlog's calls too)
        self.quick = 0  # successful calls that took less than LAG_LIMIT_NS
        self.quick_ns = 0  # their service time
        self.stalled_ns = 0  # time in calls that took LAG_LIMIT_NS or more, or timed out once issued
        self.unissued = 0  # measured intended starts never issued (given up at the drain's end)
        self.disconnects = 0  # measured errors that meant the connection was gone
        self.last_end_ns = 0  # when the last measured operation ended (operationcount: the window's true end)
        # end of each stage of a load shape (ns); an operation belongs to the stage it is anchored in
        self.stage_ends_ns = list(itertools.accumulate(int(d * NS_PER_S) for d in stage_durations_s))
        self.stage_ends_ns = [self.measure_from_ns + end for end in self.stage_ends_ns]

    def _stage(self, stats: OperationStats, anchor_ns: int) -> StageStats | None:
        if not stats.stages:
            return None
        return stats.stages[min(len(stats.stages) - 1, bisect.bisect_right(self.stage_ends_ns, anchor_ns))]

    def in_window(self, anchor_ns: int) -> bool:
        """Whether an operation intended (open loop) or started (closed loop) at `anchor_ns` is measured."""
        return self.measure_from_ns <= anchor_ns < self.measure_until_ns

    def _clamp(self, stats: OperationStats) -> int:
        stats.clamped += 1
        return self.highest_us

    def record(self, stats: OperationStats, intended_ns: int, start_ns: int, end_ns: int, rows: int = 1) -> None:
        """Account one successful call that returned or touched `rows` records; `intended_ns` is 0 in closed loop."""
        anchor = intended_ns or start_ns
        if anchor >= self.measure_until_ns:
            return  # never happens from the worker's loop: nothing starts after the window
        self._served(start_ns, end_ns)
        service_us = (end_ns - start_ns) // 1000 or 1
        # a closed-loop call (intended 0) in an open-loop run (scenarios, stages) has no intended start
        latency_us = ((end_ns - intended_ns) // 1000 or 1) if intended_ns else service_us
        if latency_us > self.highest_us:
            latency_us = self._clamp(stats)
            service_us = min(service_us, latency_us)
        if anchor < self.measure_from_ns:
            bucket = stats.bucket((end_ns - self.t0_ns) // NS_PER_S, False)
            bucket.count += 1
            bucket.latencies_us.append(latency_us)
            stats.warmup.record_value(latency_us)
            return
        self.last_end_ns = max(self.last_end_ns, end_ns)
        second = (end_ns - self.t0_ns) // NS_PER_S
        bucket = stats.seconds.get(second) or stats.bucket(second, True)
        bucket.count += 1
        bucket.latencies_us.append(latency_us)
        stats.count += 1
        stats.response.record_value(latency_us)
        if not rows and stats.must_hit:
            stats.not_found += 1
        if stats.stages:
            stage = self._stage(stats, anchor)
            if stage is not None:
                stage.count += 1
                stage.histogram.record_value(latency_us)
        if intended_ns:
            stats.service.record_value(service_us)
            stats.started += 1
            lag_ns = start_ns - intended_ns
            lag_us = min(lag_ns // 1000, latency_us) if lag_ns > 0 else 0
            tally = stats.lag_tally
            tally[lag_us] = tally.get(lag_us, 0) + 1
            if len(tally) > TALLY_FLUSH:
                stats.flush_lag()
            if lag_ns > LAG_LIMIT_NS:
                stats.lagging += 1
        elif self.open_loop:
            stats.service.record_value(service_us)

    def _served(self, start_ns: int, end_ns: int) -> None:
        """A successful call: quick or stalled, when it ended once the window opened."""
        if end_ns < self.measure_from_ns:
            return
        if end_ns - start_ns < LAG_LIMIT_NS:
            self.quick += 1
            self.quick_ns += end_ns - start_ns
        else:
            self.stalled_ns += end_ns - start_ns

    def late(self, gap_ns: int, service_ns: int) -> None:
        """A call started more than 1 s late: `service_ns` in it, `gap_ns` outside calls since the user's previous one."""
        self.late_gap_ns += gap_ns
        self.late_service_ns += service_ns

    def record_error(self, stats: OperationStats, intended_ns: int, start_ns: int, end_ns: int,
                     error: BaseException, *, disconnect: bool = False) -> None:
        """Count a failed call (`disconnect`: the error meant the connection was gone); keep a few messages as a
        sample, each one line (a driver's multi-line message, e.g. PostgreSQL's "LINE 1: ... ^", by its first)."""
        anchor = intended_ns or start_ns
        if anchor >= self.measure_until_ns:
            return
        measured = anchor >= self.measure_from_ns
        stats.bucket((end_ns - self.t0_ns) // NS_PER_S, measured).errors += 1
        if measured:
            self.last_end_ns = max(self.last_end_ns, end_ns)
            self.disconnects += disconnect
            stats.errors += 1
            stage = self._stage(stats, anchor)
            if stage is not None:
                stage.errors += 1
        if len(stats.errors_sample) < ERROR_SAMPLES:
            # redacted before it is cut: a URL cut inside its password would no longer look like one
            stats.errors_sample.append(f"{type(error).__name__}: {first_line(redact_text(str(error)))[:200]}")

    def record_timeout(self, stats: OperationStats, intended_ns: int, start_ns: int, end_ns: int) -> None:
        """Count a call given up at `end_ns` (it outlasted its timeout, or was never issued: `start_ns` 0).

        Its latency (end − intended start in open loop, end − start in closed loop) is recorded: a
        lower bound of the response time it would have had.
        """
        anchor = intended_ns or start_ns
        if anchor >= self.measure_until_ns:
            return
        latency_us = (end_ns - anchor) // 1000 or 1
        if latency_us > self.highest_us:
            latency_us = self._clamp(stats)
        measured = anchor >= self.measure_from_ns
        if start_ns and end_ns >= self.measure_from_ns:
            self.stalled_ns += end_ns - start_ns
        bucket = stats.bucket((end_ns - self.t0_ns) // NS_PER_S, measured)
        bucket.timeouts += 1
        bucket.latencies_us.append(latency_us)
        if not measured:
            stats.warmup.record_value(latency_us)
            return
        stats.timeouts += 1
        self.unissued += not start_ns
        self.last_end_ns = max(self.last_end_ns, end_ns)
        stats.response.record_value(latency_us)
        stage = self._stage(stats, anchor)
        if stage is not None:
            stage.timeouts += 1
            stage.histogram.record_value(latency_us)

    def timeseries(self) -> list[SecondRow]:
        rows = []
        for stats in self.stats:
            for phase, seconds in (("warmup", stats.warmup_seconds), ("measure", stats.seconds)):
                rows += [bucket.row(second, stats.name, phase, self.highest_us, self.pause)  # type: ignore[arg-type]
                         for second, bucket in sorted(seconds.items())]
        return rows

    def tick(self, now_ns: int) -> Tick:
        """The last complete second (all operations, and each with its own histogram); timeouts count as errors."""
        second = (now_ns - self.t0_ns) // NS_PER_S - 1
        ops = errors = 0
        latencies: list[int] = []
        operations: dict[str, TickOperation] = {}
        for stats in self.stats:
            buckets = [b for b in (stats.warmup_seconds.get(second), stats.seconds.get(second)) if b is not None]
            if not buckets:
                continue
            merged = SecondBucket()
            for bucket in buckets:
                merged.count += bucket.count
                merged.errors += bucket.errors + bucket.timeouts
                merged.latencies_us += bucket.latencies_us
            ops += merged.count
            errors += merged.errors
            latencies.extend(merged.latencies_us)
            operations[stats.name] = TickOperation(count=merged.count, errors=merged.errors,
                                                   histogram=merged.histogram(self.highest_us, self.pause))
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, (len(latencies) * 99) // 100)] if latencies else None
        return Tick(t=(now_ns - self.t0_ns) / NS_PER_S, ops=ops, errors=errors, p99_us=p99, operations=operations)

    def result(self, *, process: int, complete: bool, measured_s: float, cpu_fraction: float | None,
               quota_reached: bool = False) -> WorkerResult:
        """What this process sends to the parent: encoded histograms and counters."""
        operations = {
            s.name: OperationPart(
                count=s.count, errors=s.errors, timeouts=s.timeouts, not_found=s.not_found, clamped=s.clamped,
                must_hit=s.must_hit, errors_sample=tuple(s.errors_sample),
                histogram=encode(s.response), service_histogram=encode(s.service) if self.open_loop else "",
                lag_histogram=encode(s.flush_lag()) if s.started else "",
                warmup_histogram=encode(s.warmup), started=s.started, lagging=s.lagging,
                stages=tuple(StagePart(count=st.count, errors=st.errors, timeouts=st.timeouts,
                                       histogram=encode(st.histogram) if st.count + st.timeouts else "")
                             for st in s.stages),
            )
            for s in self.stats
        }
        return WorkerResult(process=process, complete=complete, measured_s=measured_s, cpu_fraction=cpu_fraction,
                            quota_reached=quota_reached, late_service_s=self.late_service_ns / NS_PER_S,
                            late_gap_s=self.late_gap_ns / NS_PER_S, quick=self.quick,
                            quick_s=self.quick_ns / NS_PER_S, stalled_s=self.stalled_ns / NS_PER_S,
                            unissued=self.unissued, disconnects=self.disconnects, operations=operations,
                            timeseries=tuple(self.timeseries()))
