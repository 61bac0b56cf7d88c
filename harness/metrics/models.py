"""What was measured, per operation and per second: the parts a run record is made of.

Frozen models shared by the runner (which merges workers' histograms into them) and the
results layer (which stores them in the run record), so neither imports the other's code.
"""

from __future__ import annotations

from harness.metrics.histogram import Percentiles
from harness.models import Frozen


class OperationResult(Frozen):
    """One operation of the mix over the measurement window, all processes merged exactly."""

    kind: str
    count: int = 0  # calls that succeeded in the window (not_found among them)
    errors: int = 0
    timeouts: int = 0  # calls given up after their timeout (or never issued before the drain ended)
    not_found: int = 0  # successful calls of a must-hit operation that found nothing (harness.runner.outcomes)
    must_hit: bool = False  # whether the generator guarantees this operation a match
    clamped: int = 0  # latencies above the histogram's ceiling, recorded as the ceiling
    throughput_ops_s: float = 0.0
    latency_us: Percentiles | None = None  # of successes and timeouts: response time in open loop, service in closed
    service_us: Percentiles | None = None  # open loop only
    lag_us: Percentiles | None = None  # open loop only: start lag, actual − intended start
    warmup_count: int = 0
    histogram: str = ""  # encoded HDR (µs) of latency_us
    service_histogram: str = ""
    lag_histogram: str = ""  # encoded HDR (µs) of lag_us
    errors_sample: tuple[str, ...] = ()
    unsupported: str | None = None  # why the engine cannot run it: shown as n/a


class TimePoint(Frozen):
    """One operation in one second of the run (all processes merged)."""

    t: int  # second since the start of warm-up
    op: str
    phase: str  # warmup | measure: the phase of the operations counted (one row per phase)
    count: int
    errors: int
    timeouts: int = 0
    p50_us: int | None = None
    p99_us: int | None = None
    p999_us: int | None = None
    max_us: int | None = None


class LoadPhase(Frozen):
    """The bulk-load phase before measuring. `complete` False: the load was cut short (interrupted, or a worker or
    the engine failed) and `records` is what the workers reported loaded by then (records/s over `seconds` so far)."""

    records: int
    seconds: float
    records_per_s: float
    complete: bool = True


class StageResult(Frozen):
    """One stage of a load shape (`load.stages`), all processes merged."""

    index: int
    start_s: float  # from the start of the measurement window
    duration_s: float
    users: int  # active users
    target_rate: float | None  # ops/s; None = closed loop
    operations: dict[str, OperationResult]
    total_throughput_ops_s: float


class ScenarioResult(Frozen):
    """One scenario (`load.scenarios`): its operations measured together over the window."""

    name: str
    users: int
    target_rate: float | None  # ops/s; None = closed loop
    think_time_s: float
    operations: tuple[str, ...]
    count: int
    errors: int
    timeouts: int = 0
    throughput_ops_s: float
