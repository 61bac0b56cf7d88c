"""Frozen models of a benchmark suite (benchmarks/*.yaml): which runs to perform."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from harness.spec.models import Frozen

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|h)?\s*$")
_UNIT_S = {"us": 1e-6, "µs": 1e-6, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: str | float | int) -> float:
    """'30s', '2m', '500ms', or a bare number of seconds -> seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    found = _DURATION.match(value)
    if found is None:
        raise ValueError(f"{value!r} is not a duration such as 30s, 2m or 500ms")
    return float(found.group(1)) * _UNIT_S[found.group(2)]


class LoadProfile(Frozen):
    """How hard and how long to drive one engine."""

    users: int = Field(8, ge=1, le=10_000)
    processes: int = Field(1, ge=1, le=64)
    duration_s: float = Field(10.0, gt=0, alias="duration")
    warmup_s: float = Field(2.0, ge=0, alias="warmup")
    target_rate: float | None = Field(None, gt=0)  # ops/s over all users; None = closed loop
    schedule: Literal["deterministic", "poisson"] = "poisson"

    @field_validator("duration_s", "warmup_s", mode="before")
    @classmethod
    def _duration(cls, value: str | float | int) -> float:
        return parse_duration(value)


class SuiteRun(Frozen):
    workload: str
    preset: str | None = None
    engines: tuple[str, ...] = Field(min_length=1)
    scale: float = Field(1.0, gt=0)
    load: LoadProfile = LoadProfile()


class Slo(Frozen):
    """Service-level objective: a latency percentile bound in milliseconds."""

    percentile: Literal["p50", "p90", "p99", "p999"] = "p99"
    max_ms: float = Field(gt=0)


class Suite(Frozen):
    version: int
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    description: str = ""
    runs: tuple[SuiteRun, ...] = Field(min_length=1)
    slo: Slo | None = None


class CapacitySearch(Frozen):
    """How a capacity search steps its open-loop target rate."""

    start_rate: float = Field(100.0, gt=0)
    max_rate: float = Field(100_000.0, gt=0)
    refine: int = Field(2, ge=0, le=8)  # bisection steps after the first miss


class Selection(Frozen):
    """A technology-selection study: one use case on every engine that can serve it."""

    version: int
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    use_case: str
    workload: str
    preset: str | None = None
    engines: tuple[str, ...] = Field(min_length=1)
    slo: Slo
    load: LoadProfile = LoadProfile()
    capacity: CapacitySearch = CapacitySearch()
    scale: float = Field(1.0, gt=0)
