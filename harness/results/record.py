"""The run record (results/runs/*.json): one versioned, self-describing JSON per run.

Field names are a stable contract (see DESIGN.md); readers migrate older versions via
`harness.results.migrate` so results from old runs stay comparable. A record never holds a
secret: whether built from a measurement or read from a file, every string in it is redacted
(`harness.redact.redact_data`: URL passwords and tokens, DSN passwords, in the manifest, notes,
error samples, telemetry, reasons) as it is validated.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from harness.metrics.histogram import Percentiles
from harness.metrics.models import LoadPhase, OperationResult, ScenarioResult, StageResult, TimePoint
from harness.metrics.outages import Outage
from harness.models import Frozen
from harness.redact import redact_data
from harness.runner.protocol import WorkerInfo
from harness.spec.suite import Scenario, Stage

SCHEMA_VERSION = 4

__all__ = ["LoadPhase", "LoadSettings", "OperationResult", "Percentiles", "RunRecord", "ScenarioResult", "StageResult",
           "TimePoint", "WorkerInfo"]


class LoadSettings(Frozen):
    users: int
    processes: int
    duration_s: float
    warmup_s: float
    target_rate: float | None
    schedule: str
    think_time_s: float = 0.0
    max_error_rate: float = 0.01
    op_timeout_s: float | None = None  # the load's default operation timeout (s); None in records before version 4
    operation_count: int | None = None  # stop after this many measured operations (YCSB operationcount)
    stages: tuple[Stage, ...] = ()
    scenarios: tuple[Scenario, ...] = ()


class RunRecord(Frozen):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    started_at: str  # ISO 8601, UTC
    complete: bool
    interrupted: bool = False  # stopped by the user or a signal (SIGINT, SIGTERM, SIGHUP)
    phase: str = "done"  # where the run ended: done, or prepare | load | warmup | measure | telemetry when cut short
    failure: str | None = None  # why the engine or the workers failed, when they did (the attempt is kept)
    engine: str
    engine_version: str
    workload: str
    preset: str | None = None
    workload_hash: str
    suite: str | None = None
    group: str | None = None  # repeats of one configuration (`bench --repeat N`) share this id
    repeat: int | None = None  # which repeat of the group this run is, 1..repeats
    repeats: int | None = None  # how many runs the group was planned with
    seed: int
    scale: float
    load: LoadSettings
    manifest: dict[str, Any]
    valid: bool
    invalid_reasons: tuple[str, ...] = ()
    # one per reason: client | engine | errors | misses | interrupted | workers | other
    invalid_causes: tuple[str, ...] = ()
    outages: tuple[Outage, ...] = ()  # measured seconds in which nothing succeeded, each with its recovery time
    load_phase: LoadPhase | None = None
    operations: dict[str, OperationResult]
    total_throughput_ops_s: float = 0.0
    measured_s: float = 0.0
    stopped_by: str = "duration"  # what ended the measurement: duration | operationcount | interrupted | failure
    timeseries: tuple[TimePoint, ...] = ()
    stages: tuple[StageResult, ...] = ()  # per stage of a load shape (load.stages)
    scenarios: tuple[ScenarioResult, ...] = ()  # per scenario (load.scenarios)
    workers: tuple[WorkerInfo, ...] = ()  # the load workers: host, pid, user slots, clock offset to the master
    telemetry: dict[str, Any] = Field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def open_loop(self) -> bool:
        """Whether any operation ran on an open-loop schedule (latency = response time from intended starts)."""
        load = self.load
        return (load.target_rate is not None or any(s.rate for s in load.stages)
                or any(s.rate for s in load.scenarios))

    def describe_load(self) -> str:
        """The load in words: closed loop, open loop at a rate, stages or scenarios."""
        load = self.load
        if load.stages:
            return "stages: " + ", ".join(f"{s.duration_s:g}s " + (f"at {s.rate:,.0f} ops/s" if s.rate else
                                                                    f"{s.users or load.users} users closed loop")
                                          for s in load.stages)
        if load.scenarios:
            return "scenarios: " + ", ".join(f"{s.name} ({s.users} users, " + (f"{s.rate:,.0f} ops/s)" if s.rate
                                                                              else "closed loop)") for s in load.scenarios)
        if load.target_rate is not None:
            return f"open loop at {load.target_rate:,.0f} ops/s ({load.schedule} arrivals)"
        return "closed loop" + (f", think time {load.think_time_s * 1000:g} ms" if load.think_time_s else "")

    @property
    def error_share(self) -> float:
        """Failed and timed-out calls / all calls in the measurement window (0 when there were none)."""
        ok = sum(op.count for op in self.operations.values())
        failed = sum(op.errors + op.timeouts for op in self.operations.values())
        return failed / (ok + failed) if ok + failed else 0.0

    @property
    def over_error_budget(self) -> bool:
        """More calls failed than the run's budget allows, or nothing at all succeeded."""
        return self.error_share > self.load.max_error_rate or not any(op.count for op in self.operations.values())

    @model_validator(mode="before")
    @classmethod
    def _without_secrets(cls, data: Any) -> Any:
        """Every string redacted before validation: no secret ever lives in a record, in memory or on disk."""
        return redact_data(data)
