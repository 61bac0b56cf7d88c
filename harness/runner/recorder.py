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

from harness.metrics.histogram import HIGHEST_US, decode, encode, merge, new_histogram, record_many
from harness.redact import redact_text
from harness.runner.pacing import NS_PER_S
from harness.runner.protocol import OperationPart, SecondRow, StagePart, Tick, TickOperation, WorkerResult

ERROR_SAMPLES = 5
LAG_LIMIT_NS = NS_PER_S  # an operation started more than 1 s late counts as lagging


def first_line(message: str) -> str:
    """A message's first non-blank line (a driver's detail lines after it dropped), for one-line contexts."""
    return next((line.strip() for line in message.splitlines() if line.strip()), "")


PAUSE_EVERY = 262_144  # values put into a histogram between two pauses (Recorder.pause)


def _no_pause() -> None:
    return None


def record_counts(histogram: HdrHistogram, values: list[int], pause: Callable[[], None] = _no_pause,
                  *also: HdrHistogram) -> None:
    """Put `values` (µs) into `histogram` (and each of `also`) in bulk, then empty the list.

    The per-operation cost is a list append, not an HDR record (about a microsecond in Python):
    `record_many` records them vectorised, PAUSE_EVERY values at a time with `pause()` between
    (a saturated open-loop second can hold millions: the process's heartbeats must go on).
    """
    for begin in range(0, len(values), PAUSE_EVERY):
        if begin:
            pause()
        chunk = values[begin:begin + PAUSE_EVERY]
        record_many(histogram, chunk)
        for other in also:
            record_many(other, chunk)
    values.clear()


class Tally:
    """Values (µs) appended per operation and put into an HDR histogram in bulk (`flush`)."""

    __slots__ = ("_histogram", "values")

    def __init__(self, highest_us: int) -> None:
        self._histogram = new_histogram(highest_us)
        self.values: list[int] = []  # callers append to it directly: the cheapest per-operation step

    def flush(self, pause: Callable[[], None] = _no_pause) -> HdrHistogram:
        """The histogram with every appended value in it."""
        record_counts(self._histogram, self.values, pause)
        return self._histogram


class SecondBucket:
    """One operation's activity in one second of the run (warm-up or measured, never both).

    Latencies are appended per operation and sealed into the second's encoded histogram (and the
    operation's whole-phase histogram) once the second is over (`seal`); a value appended after
    that (a late record) is merged into it at the next seal.
    """

    __slots__ = ("count", "encoded", "errors", "latencies_us", "timeouts")

    def __init__(self) -> None:
        self.count = 0
        self.errors = 0
        self.timeouts = 0
        self.latencies_us: list[int] = []  # not yet sealed
        self.encoded = ""  # the sealed latencies' histogram ("" when none)

    def seal(self, highest_us: int, total: HdrHistogram, pause: Callable[[], None] = _no_pause) -> str:
        """Seal the pending latencies into the second's histogram and into `total`; the encoded histogram."""
        if self.latencies_us:
            histogram = decode(self.encoded) if self.encoded else new_histogram(highest_us)
            record_counts(histogram, self.latencies_us, pause, total)
            self.encoded = encode(histogram)
        return self.encoded

    def row(self, second: int, op: str, phase: Literal["warmup", "measure"]) -> SecondRow:
        """The second as sent to the parent (sealed first): counts and an encoded histogram (merged exactly)."""
        return SecondRow(t=second, op=op, phase=phase, count=self.count, errors=self.errors, timeouts=self.timeouts,
                         histogram=self.encoded)


class StageStats:
    """One operation within one stage of a load shape."""

    __slots__ = ("count", "errors", "latency", "timeouts")

    def __init__(self, highest_us: int) -> None:
        self.count = 0
        self.errors = 0
        self.timeouts = 0
        self.latency = Tally(highest_us)

    @property
    def histogram(self) -> HdrHistogram:
        return self.latency.flush()


class OperationStats:
    """Everything one process measured for one operation.

    `response` and `warmup` are the measured and warm-up seconds' latencies together (sealed from
    the per-second buckets); `service` and `lag` are tallies. Reading one of the four histograms
    brings it up to date.
    """

    __slots__ = (
        "_lag",
        "_response",
        "_service",
        "_warmup",
        "clamped",
        "count",
        "errors",
        "errors_sample",
        "highest_us",
        "lagging",
        "must_hit",
        "name",
        "not_found",
        "seconds",
        "stages",
        "started",
        "timeouts",
        "warmup_seconds",
    )

    def __init__(self, name: str, stages: int = 0, *, must_hit: bool = False, highest_us: int = HIGHEST_US) -> None:
        self.name = name
        self.must_hit = must_hit  # 0 rows is a miss (harness.runner.outcomes)
        self.highest_us = highest_us
        self._response: HdrHistogram = new_histogram(highest_us)
        self._warmup: HdrHistogram = new_histogram(highest_us)
        self._service = Tally(highest_us)
        self._lag = Tally(highest_us)
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

    def seal(self, pause: Callable[[], None] = _no_pause, second: int | None = None) -> None:
        """Seal the buckets of `second` (None: every second) into the per-second and whole-phase histograms."""
        for seconds, total in ((self.seconds, self._response), (self.warmup_seconds, self._warmup)):
            buckets = seconds.values() if second is None else filter(None, (seconds.get(second),))
            for bucket in buckets:
                bucket.seal(self.highest_us, total, pause)

    @property
    def response(self) -> HdrHistogram:
        self.seal()
        return self._response

    @property
    def warmup(self) -> HdrHistogram:
        self.seal()
        return self._warmup

    @property
    def service(self) -> HdrHistogram:
        return self._service.flush()

    @property
    def lag(self) -> HdrHistogram:
        return self._lag.flush()

    def flush_lag(self) -> HdrHistogram:
        """The lag histogram with every value in it."""
        return self.lag

    def flush(self, pause: Callable[[], None] = _no_pause) -> None:
        """Put every pending tally into its histogram (bounded memory on long runs)."""
        self._service.flush(pause)
        self._lag.flush(pause)
        for stage in self.stages:
            stage.latency.flush(pause)

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
        self.stalled_ns = 0  # time in calls that took LAG_LIMIT_NS or more (done or failed), or timed out once issued
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
        """Account one successful call that returned or touched `rows` records; `intended_ns` is 0 in closed loop.

        The per-operation hot path: counters and list appends only (histograms are filled in bulk, `seal`).
        """
        anchor = intended_ns or start_ns
        if anchor >= self.measure_until_ns:
            return  # never happens from the worker's loop: nothing starts after the window
        service_ns = end_ns - start_ns
        if end_ns >= self.measure_from_ns:  # who held the schedule up (see `quick`, `stalled_ns`)
            if service_ns < LAG_LIMIT_NS:
                self.quick += 1
                self.quick_ns += service_ns
            else:
                self.stalled_ns += service_ns
        service_us = service_ns // 1000 or 1
        # a closed-loop call (intended 0) in an open-loop run (scenarios, stages) has no intended start
        latency_us = ((end_ns - intended_ns) // 1000 or 1) if intended_ns else service_us
        if latency_us > self.highest_us:
            latency_us = self._clamp(stats)
            service_us = min(service_us, latency_us)
        second = (end_ns - self.t0_ns) // NS_PER_S
        if anchor < self.measure_from_ns:
            bucket = stats.warmup_seconds.get(second) or stats.bucket(second, False)
            bucket.count += 1
            bucket.latencies_us.append(latency_us)
            return
        if end_ns > self.last_end_ns:
            self.last_end_ns = end_ns
        bucket = stats.seconds.get(second) or stats.bucket(second, True)
        bucket.count += 1
        bucket.latencies_us.append(latency_us)
        stats.count += 1
        if not rows and stats.must_hit:
            stats.not_found += 1
        if stats.stages:
            self._stage_success(stats, anchor, latency_us)
        if intended_ns:
            stats._service.values.append(service_us)
            stats.started += 1
            lag_ns = start_ns - intended_ns
            stats._lag.values.append(min(lag_ns // 1000, latency_us) if lag_ns > 0 else 0)
            if lag_ns > LAG_LIMIT_NS:
                stats.lagging += 1
        elif self.open_loop:
            stats._service.values.append(service_us)

    def _stage_success(self, stats: OperationStats, anchor_ns: int, latency_us: int) -> None:
        stage = self._stage(stats, anchor_ns)
        if stage is not None:
            stage.count += 1
            stage.latency.values.append(latency_us)

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
        if end_ns >= self.measure_from_ns and end_ns - start_ns >= LAG_LIMIT_NS:
            self.stalled_ns += end_ns - start_ns  # a call held 1 s or more before it failed held its user too
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
            return
        stats.timeouts += 1
        self.unissued += not start_ns
        self.last_end_ns = max(self.last_end_ns, end_ns)
        stage = self._stage(stats, anchor)
        if stage is not None:
            stage.timeouts += 1
            stage.latency.values.append(latency_us)

    def timeseries(self) -> list[SecondRow]:
        rows = []
        for stats in self.stats:
            stats.seal(self.pause)
            for phase, seconds in (("warmup", stats.warmup_seconds), ("measure", stats.seconds)):
                rows += [bucket.row(second, stats.name, phase)  # type: ignore[arg-type]
                         for second, bucket in sorted(seconds.items())]
        return rows

    def tick(self, now_ns: int) -> Tick:
        """The last complete second (all operations, and each with its own histogram); timeouts count as errors.

        The Tick's `t` is that second's end (seconds since the start of warm-up): it covers [t - 1, t), so
        its phase is the phase of second `t - 1` (`progress.tick_clock`), not of the moment it is shown.
        Seals that second's buckets and flushes the tallies, so pending values stay bounded by a second's worth.
        """
        second = (now_ns - self.t0_ns) // NS_PER_S - 1
        ops = errors = 0
        encoded: list[str] = []
        operations: dict[str, TickOperation] = {}
        for stats in self.stats:
            stats.seal(self.pause, second)
            stats.flush(self.pause)
            buckets = [b for b in (stats.warmup_seconds.get(second), stats.seconds.get(second)) if b is not None]
            if not buckets:
                continue
            count = sum(b.count for b in buckets)
            failed = sum(b.errors + b.timeouts for b in buckets)
            parts = [b.encoded for b in buckets if b.encoded]
            histogram = parts[0] if len(parts) == 1 else (encode(merge(parts)) if parts else "")
            ops += count
            errors += failed
            encoded += parts
            operations[stats.name] = TickOperation(count=count, errors=failed, histogram=histogram)
        p99 = merge(encoded).get_value_at_percentile(99) if encoded else None
        return Tick(t=float(second + 1), ops=ops, errors=errors, p99_us=p99, operations=operations)

    def result(self, *, process: int, complete: bool, measured_s: float, cpu_fraction: float | None,
               quota_reached: bool = False) -> WorkerResult:
        """What this process sends to the parent: encoded histograms and counters."""
        for stats in self.stats:  # bulk work first, pausing for the process's heartbeats (`pause`)
            stats.seal(self.pause)
            stats.flush(self.pause)
        operations = {
            s.name: OperationPart(
                count=s.count, errors=s.errors, timeouts=s.timeouts, not_found=s.not_found, clamped=s.clamped,
                must_hit=s.must_hit, errors_sample=tuple(s.errors_sample),
                histogram=encode(s.response), service_histogram=encode(s.service) if self.open_loop else "",
                lag_histogram=encode(s.lag) if s.started else "",
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
