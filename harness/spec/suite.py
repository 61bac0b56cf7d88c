"""Frozen models of a benchmark suite (benchmarks/*.yaml): which runs to perform."""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.spec.hints import shown
from harness.spec.models import DEFAULT_OP_TIMEOUT_S, Frozen

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|h)?\s*$")
_UNIT_S = {"us": 1e-6, "µs": 1e-6, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
MAX_DURATION_S = 366 * 86_400.0  # no duration in a spec or a flag may exceed a year (run limits are lower)
MAX_SCALE = 1e9  # a scale factor above this overflows record counts long before any machine holds them


def parse_duration(value: str | float | int) -> float:
    """'30s', '2m', '500ms', or a bare number of seconds -> seconds; ValueError in words otherwise.

    Infinite and NaN durations are refused (a YAML `.inf`, a number with 400 digits), as are values
    that are neither text nor a number.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{shown(value)} is not a duration such as 30s, 2m or 500ms")
    if isinstance(value, str):
        found = _DURATION.match(value)
        if found is None:
            raise ValueError(f"{shown(value)} is not a duration such as 30s, 2m or 500ms")
        seconds = float(found.group(1)) * _UNIT_S[found.group(2)]
    else:
        try:
            seconds = float(value)
        except OverflowError:  # an integer with hundreds of digits
            seconds = math.inf
    if not math.isfinite(seconds):
        raise ValueError(f"{shown(value)} is not a finite duration; give e.g. 30s, 2m or 500ms")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{shown(value)} is longer than a year, the most any duration may be (a run is at most "
                         "24h unless --override-limits)")
    return seconds


class Stage(Frozen):
    """One step of a load shape: `users` users in closed loop, or open loop at `rate` ops/s.

    A ramp is a run of stages with growing users or rates; a spike one short stage between
    two calm ones. Each stage is summarised apart in the run record (`stages`).
    """

    duration_s: float = Field(gt=0, le=MAX_DURATION_S, alias="duration")
    users: int | None = Field(None, ge=1, le=10_000)  # active users (default: all of the run's)
    rate: float | None = Field(None, gt=0, allow_inf_nan=False)  # open-loop target over the active users (ops/s); None = closed loop

    @field_validator("duration_s", mode="before")
    @classmethod
    def _duration(cls, value: str | float | int) -> float:
        return parse_duration(value)


class Scenario(Frozen):
    """A group of the workload's operations with users and a rate of its own, running beside the others.

    As k6's scenarios and Rally's parallel tasks: e.g. ingest at 500 points/s while 4 users
    query in closed loop. Each operation belongs to at most one scenario.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    operations: tuple[str, ...] = Field(min_length=1)  # operation names of the workload (weights kept)
    users: int = Field(ge=1, le=10_000)
    rate: float | None = Field(None, gt=0, allow_inf_nan=False)  # ops/s over this scenario's users; None = closed loop
    think_time_s: float = Field(0.0, ge=0, le=3600, alias="think_time")  # closed loop: pause between operations

    @field_validator("think_time_s", mode="before")
    @classmethod
    def _duration(cls, value: str | float | int) -> float:
        return parse_duration(value)


class LoadProfile(Frozen):
    """How hard and how long to drive one engine.

    Plain: `users` in closed loop, or open loop at `target_rate` ops/s, for `duration` after
    `warmup`. `stages` change users or rate within the run (the duration is their sum);
    `scenarios` split the users into groups running their own operations at their own rates.
    """

    users: int = Field(8, ge=1, le=10_000)
    processes: int = Field(1, ge=1, le=64)
    duration_s: float = Field(10.0, gt=0, le=MAX_DURATION_S, alias="duration")
    warmup_s: float = Field(2.0, ge=0, le=MAX_DURATION_S, alias="warmup")
    target_rate: float | None = Field(None, gt=0, allow_inf_nan=False)  # ops/s over all users; None = closed loop
    schedule: Literal["deterministic", "poisson"] = "poisson"
    think_time_s: float = Field(0.0, ge=0, le=3600, alias="think_time")  # closed loop: pause between operations
    stages: tuple[Stage, ...] = ()
    scenarios: tuple[Scenario, ...] = ()
    max_error_rate: float = Field(0.01, ge=0, le=1)  # error budget: a larger share of failed calls invalidates the run
    op_timeout_s: float = Field(DEFAULT_OP_TIMEOUT_S, gt=0, le=3600, alias="op_timeout")  # s, per call
    # stop the measurement after this many operations (YCSB's operationcount), or at the duration if sooner
    operation_count: int | None = Field(None, ge=1, alias="operationcount")
    # load only records [insert_start, insert_start + insert_count) of the entity, and name only those
    # (YCSB's insertstart / insertcount, which split a load among clients); None: up to the last record
    insert_start: int = Field(0, ge=0, alias="insertstart")
    insert_count: int | None = Field(None, ge=1, alias="insertcount")

    @field_validator("duration_s", "warmup_s", "think_time_s", "op_timeout_s", mode="before")
    @classmethod
    def _duration(cls, value: str | float | int) -> float:
        return parse_duration(value)

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        """Stages set the duration (their sum) and at least their largest user count; scenarios the users.

        Stages or scenarios that are not a list of mappings are left to the field checks, which name them.
        """
        if not isinstance(data, dict):
            return data
        data = dict(data)
        stages, scenarios = _items(data.get("stages")), _items(data.get("scenarios"))
        if stages and scenarios:
            raise ValueError("give either stages or scenarios, not both (a scenario runs at one rate)")
        if stages and all(_get(stage, "duration", "duration_s") is not None for stage in stages):
            data["duration"] = sum(parse_duration(_get(stage, "duration", "duration_s")) for stage in stages)
            data.pop("duration_s", None)
            users = [_count(u) for stage in stages if (u := _get(stage, "users", "users")) is not None]
            if users and (most := max([*users, _count(data.get("users") or 0)])) >= 1:  # else the stage names it
                data["users"] = most
        if scenarios and all(_get(scenario, "users", "users") is not None for scenario in scenarios):
            data["users"] = sum(_count(_get(scenario, "users", "users")) for scenario in scenarios)
        return data

    @model_validator(mode="after")
    def _coherent(self) -> LoadProfile:
        if self.scenarios and self.target_rate is not None:
            raise ValueError("with scenarios, each scenario gives its own rate; remove target_rate (--rate)")
        if self.stages and self.target_rate is not None:
            raise ValueError("with stages, each stage gives its own rate; remove target_rate (--rate)")
        if self.think_time_s and self.target_rate is not None:
            raise ValueError("think_time applies to closed-loop users; an open-loop rate already spaces operations")
        names = [op for scenario in self.scenarios for op in scenario.operations]
        if len(names) != len(set(names)):
            raise ValueError("an operation belongs to at most one scenario")
        return self

    def insert_range(self, count: int) -> tuple[int, int]:
        """[start, stop) of the records of an entity of `count` records this run loads and names.

        ValueError when the range holds no record (insertstart at or past the last record).
        """
        start = self.insert_start
        stop = count if self.insert_count is None else min(count, start + self.insert_count)
        if start >= stop and (count or self.insert_start or self.insert_count):
            raise ValueError(f"insertstart {start:,} is past the {count:,} records of the dataset; "
                             "give an insertstart below the record count")
        return start, stop

    @property
    def open_loop(self) -> bool:
        """Whether any operation runs on an open-loop schedule (response time from intended starts)."""
        return (self.target_rate is not None or any(s.rate is not None for s in self.stages)
                or any(s.rate is not None for s in self.scenarios))


def _count(value: Any) -> int:
    """A user count given as a number or text; ValueError in words otherwise."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"users: {value!r} is not a whole number of users") from None


def _items(value: Any) -> tuple[Any, ...]:
    """Stages or scenarios as given, when they are a list of mappings or models; () otherwise."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, (dict, Stage, Scenario)) for item in value):
        return ()
    return tuple(value)


def _get(item: Any, alias: str, name: str) -> Any:
    """A field of a stage or scenario given as a mapping (by alias or name) or as a model."""
    if isinstance(item, dict):
        return item.get(alias, item.get(name))
    return getattr(item, name)


MAX_REPEAT = 50  # repeats of one suite run (each is a whole run)


class SuiteRun(Frozen):
    workload: str
    preset: str | None = None
    engines: tuple[str, ...] = Field(min_length=1)
    scale: float = Field(1.0, gt=0, le=MAX_SCALE, allow_inf_nan=False)
    load: LoadProfile = LoadProfile()
    # absolute limits each run must meet, k6-style ("read.p99<5ms", "errors<0.1%"; docs/output.md),
    # checked by `bench` (exit 7 when breached) and parsed by `validate`
    thresholds: tuple[str, ...] = ()
    # run this configuration N times as one group (median and spread; `compare` across repeats)
    repeat: int = Field(1, ge=1, le=MAX_REPEAT)


class Slo(Frozen):
    """Service-level objective: a latency percentile bound in milliseconds."""

    percentile: Literal["p50", "p90", "p99", "p999"] = "p99"
    max_ms: float = Field(gt=0, allow_inf_nan=False)


class Suite(Frozen):
    version: int
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    description: str = ""
    runs: tuple[SuiteRun, ...] = Field(min_length=1)
    slo: Slo | None = None


class CapacitySearch(Frozen):
    """How a capacity search steps its open-loop target rate."""

    start_rate: float = Field(100.0, gt=0, allow_inf_nan=False)
    max_rate: float = Field(100_000.0, gt=0, allow_inf_nan=False)
    refine: int = Field(2, ge=0, le=8)  # bisection steps after the first miss

    @model_validator(mode="after")
    def _ordered(self) -> CapacitySearch:
        if self.start_rate > self.max_rate:
            raise ValueError(f"start_rate {self.start_rate:g} is above max_rate {self.max_rate:g}; "
                             "give a start rate at or below the maximum")
        return self


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
    scale: float = Field(1.0, gt=0, le=MAX_SCALE, allow_inf_nan=False)
