"""The one timer's bookkeeping: every operation's latency goes through `record`.

Latency is end − intended start in open loop (response time, coordinated-omission
correct) and end − actual start in closed loop; service time (end − actual start) is
kept separately in open loop. Operations ending during warm-up go to a separate
histogram that the summary excludes; per-second counts and percentiles form a time series.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from typing import Literal

from hdrh.histogram import HdrHistogram

from harness.metrics.histogram import encode, new_histogram
from harness.redact import redact_text
from harness.runner.pacing import NS_PER_S
from harness.runner.protocol import OperationPart, SecondRow, StagePart, Tick, TickOperation, WorkerResult

ERROR_SAMPLES = 5
LAG_LIMIT_NS = NS_PER_S  # an operation started more than 1 s late counts as lagging


@dataclass
class SecondBucket:
    """One operation's activity in one second of the run."""

    count: int = 0
    errors: int = 0
    latencies_us: list[int] = field(default_factory=list)

    def row(self, second: int, op: str, phase: Literal["warmup", "measure"]) -> SecondRow:
        """The second as sent to the parent: counts and an encoded histogram (merged exactly)."""
        histogram = new_histogram()
        for latency in self.latencies_us:
            histogram.record_value(latency)
        return SecondRow(t=second, op=op, phase=phase, count=self.count, errors=self.errors,
                         histogram=encode(histogram) if self.latencies_us else "")


class StageStats:
    """One operation within one stage of a load shape."""

    __slots__ = ("count", "errors", "histogram")

    def __init__(self) -> None:
        self.count = 0
        self.errors = 0
        self.histogram: HdrHistogram = new_histogram()


class OperationStats:
    """Everything one process measured for one operation."""

    __slots__ = (
        "count",
        "errors",
        "errors_sample",
        "lagging",
        "name",
        "response",
        "seconds",
        "service",
        "stages",
        "started",
        "warmup",
    )

    def __init__(self, name: str, stages: int = 0) -> None:
        self.name = name
        self.response: HdrHistogram = new_histogram()
        self.service: HdrHistogram = new_histogram()
        self.warmup: HdrHistogram = new_histogram()
        self.count = 0
        self.errors = 0
        self.errors_sample: list[str] = []
        self.seconds: dict[int, SecondBucket] = {}
        self.started = 0  # measured-phase starts in open loop
        self.lagging = 0  # of which more than a second late
        self.stages = [StageStats() for _ in range(stages)]

    def bucket(self, second: int) -> SecondBucket:
        bucket = self.seconds.get(second)
        if bucket is None:
            bucket = self.seconds[second] = SecondBucket()
        return bucket


class Recorder:
    """Per-process recorder. Times are perf_counter_ns on this process's clock."""

    def __init__(self, op_names: list[str], t0_ns: int, warmup_s: float, duration_s: float, open_loop: bool,
                 stage_durations_s: tuple[float, ...] = ()) -> None:
        self.stats = [OperationStats(name, len(stage_durations_s)) for name in op_names]
        self.t0_ns = t0_ns
        self.measure_from_ns = t0_ns + int(warmup_s * NS_PER_S)
        self.measure_until_ns = self.measure_from_ns + int(duration_s * NS_PER_S)
        self.open_loop = open_loop
        # end of each stage of a load shape (ns); an operation belongs to the stage it ended in
        self.stage_ends_ns = list(itertools.accumulate(int(d * NS_PER_S) for d in stage_durations_s))
        self.stage_ends_ns = [self.measure_from_ns + end for end in self.stage_ends_ns]

    def _stage(self, stats: OperationStats, end_ns: int) -> StageStats | None:
        if not stats.stages:
            return None
        return stats.stages[min(len(stats.stages) - 1, bisect.bisect_right(self.stage_ends_ns, end_ns))]

    def record(self, stats: OperationStats, intended_ns: int, start_ns: int, end_ns: int) -> None:
        """Account one successful operation; `intended_ns` is 0 in closed loop."""
        if end_ns > self.measure_until_ns:
            return  # finished after the window: neither warm-up nor measured
        service_us = (end_ns - start_ns) // 1000 or 1
        # a closed-loop call (intended 0) in an open-loop run (scenarios, stages) has no intended start
        latency_us = ((end_ns - intended_ns) // 1000 or 1) if intended_ns else service_us
        bucket = stats.bucket((end_ns - self.t0_ns) // NS_PER_S)
        bucket.count += 1
        bucket.latencies_us.append(latency_us)
        if end_ns < self.measure_from_ns:
            stats.warmup.record_value(latency_us)
            return
        stats.count += 1
        stats.response.record_value(latency_us)
        stage = self._stage(stats, end_ns)
        if stage is not None:
            stage.count += 1
            stage.histogram.record_value(latency_us)
        if self.open_loop:
            stats.service.record_value(service_us)
        if intended_ns:
            stats.started += 1
            if start_ns - intended_ns > LAG_LIMIT_NS:
                stats.lagging += 1

    def record_error(self, stats: OperationStats, end_ns: int, error: BaseException) -> None:
        """Count a failed operation; keep a few messages as a sample."""
        if end_ns > self.measure_until_ns:
            return
        stats.bucket((end_ns - self.t0_ns) // NS_PER_S).errors += 1
        if end_ns >= self.measure_from_ns:
            stats.errors += 1
            stage = self._stage(stats, end_ns)
            if stage is not None:
                stage.errors += 1
        if len(stats.errors_sample) < ERROR_SAMPLES:
            # redacted before it is cut: a URL cut inside its password would no longer look like one
            stats.errors_sample.append(f"{type(error).__name__}: {redact_text(str(error))[:200]}")

    def phase_of(self, second: int) -> Literal["warmup", "measure"]:
        return "warmup" if self.t0_ns + (second + 1) * NS_PER_S <= self.measure_from_ns else "measure"

    def timeseries(self) -> list[SecondRow]:
        rows = []
        for stats in self.stats:
            for second, bucket in sorted(stats.seconds.items()):
                rows.append(bucket.row(second, stats.name, self.phase_of(second)))
        return rows

    def tick(self, now_ns: int) -> Tick:
        """The last complete second (all operations, and each with its own histogram)."""
        second = (now_ns - self.t0_ns) // NS_PER_S - 1
        ops = errors = 0
        latencies: list[int] = []
        operations: dict[str, TickOperation] = {}
        for stats in self.stats:
            bucket = stats.seconds.get(second)
            if bucket is None:
                continue
            ops += bucket.count
            errors += bucket.errors
            latencies.extend(bucket.latencies_us)
            histogram = new_histogram()
            for latency in bucket.latencies_us:
                histogram.record_value(latency)
            operations[stats.name] = TickOperation(count=bucket.count, errors=bucket.errors,
                                                   histogram=encode(histogram) if bucket.latencies_us else "")
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, (len(latencies) * 99) // 100)] if latencies else None
        return Tick(t=(now_ns - self.t0_ns) / NS_PER_S, ops=ops, errors=errors, p99_us=p99, operations=operations)

    def result(self, *, process: int, complete: bool, measured_s: float, cpu_fraction: float | None) -> WorkerResult:
        """What this process sends to the parent: encoded histograms and counters."""
        operations = {
            s.name: OperationPart(
                count=s.count, errors=s.errors, errors_sample=tuple(s.errors_sample),
                histogram=encode(s.response), service_histogram=encode(s.service) if self.open_loop else "",
                warmup_histogram=encode(s.warmup), started=s.started, lagging=s.lagging,
                stages=tuple(StagePart(count=st.count, errors=st.errors,
                                       histogram=encode(st.histogram) if st.count else "") for st in s.stages),
            )
            for s in self.stats
        }
        return WorkerResult(process=process, complete=complete, measured_s=measured_s, cpu_fraction=cpu_fraction,
                            operations=operations, timeseries=tuple(self.timeseries()))
