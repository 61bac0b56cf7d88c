"""Results of a capacity search and of a technology selection (stored as JSON beside runs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CurvePoint(Model):
    """One open-loop step of a capacity search."""

    target_rate: float
    achieved_ops_s: float
    p50_us: int | None
    p99_us: int | None
    p999_us: int | None
    slo_met: bool
    valid: bool
    run_id: str


class CapacityResult(Model):
    """The highest open-loop rate whose latency meets the SLO, and the latency-throughput curve."""

    capacity_id: str
    engine: str
    workload: str
    preset: str | None = None
    slo: str  # e.g. "p99<=5ms"
    capacity_ops_s: float | None  # None: even the lowest rate missed the SLO
    curve: tuple[CurvePoint, ...]
    started_at: str


class Trait(Model):
    """A qualitative property of an engine, kept as data and shown apart from measurements."""

    transactions: str
    schema_flexibility: str
    query_power: str
    operational_burden: str


class Ranked(Model):
    rank: int
    engine: str
    capacity_ops_s: float | None
    throughput_ops_s: float | None  # closed-loop reference run
    p99_us: int | None
    reasons: tuple[str, ...]
    unsupported: str | None = None  # why the engine cannot run the use case
    capacity_id: str | None = None


class SelectionResult(Model):
    selection_id: str
    use_case: str
    workload: str
    slo: str
    ranking: tuple[Ranked, ...]
    traits: dict[str, Trait]
    started_at: str
