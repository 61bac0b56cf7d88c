"""The run record (results/runs/*.json): one versioned, self-describing JSON per run.

Field names are a stable contract (see DESIGN.md); readers migrate older versions via
`harness.results.migrate` so results from old runs stay comparable.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Percentiles(Model):
    """Latency percentiles in microseconds."""

    p50: int
    p90: int
    p99: int
    p999: int
    max: int
    mean: float


class OperationResult(Model):
    kind: str
    count: int = 0
    errors: int = 0
    throughput_ops_s: float = 0.0
    latency_us: Percentiles | None = None  # response time in open loop, service time in closed
    service_us: Percentiles | None = None  # open loop only
    warmup_count: int = 0
    histogram: str = ""  # encoded HDR (µs) of latency_us
    service_histogram: str = ""
    errors_sample: tuple[str, ...] = ()
    unsupported: str | None = None  # why the engine cannot run it: shown as n/a


class LoadSettings(Model):
    users: int
    processes: int
    duration_s: float
    warmup_s: float
    target_rate: float | None
    schedule: str


class LoadPhase(Model):
    """The bulk-load phase before measuring."""

    records: int
    seconds: float
    records_per_s: float


class TimePoint(Model):
    t: int  # second since the start of warm-up
    op: str
    phase: str  # warmup | measure
    count: int
    errors: int
    p50_us: int | None = None
    p99_us: int | None = None
    p999_us: int | None = None
    max_us: int | None = None


class RunRecord(Model):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    started_at: str  # ISO 8601, UTC
    complete: bool
    engine: str
    engine_version: str
    workload: str
    preset: str | None = None
    workload_hash: str
    suite: str | None = None
    seed: int
    scale: float
    load: LoadSettings
    manifest: dict[str, Any]
    valid: bool
    invalid_reasons: tuple[str, ...] = ()
    load_phase: LoadPhase | None = None
    operations: dict[str, OperationResult]
    total_throughput_ops_s: float = 0.0
    measured_s: float = 0.0
    timeseries: tuple[TimePoint, ...] = ()
    telemetry: dict[str, Any] = Field(default_factory=dict)
    notes: tuple[str, ...] = ()
