"""Results of a capacity search and of a technology selection (stored as JSON beside runs)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from harness.models import Frozen
from harness.results.store import OnSkip, Unreadable, ignore, read_object

M = TypeVar("M", bound=Frozen)


def load_stored(directory: Path, model: type[M], on_skip: OnSkip = ignore) -> list[M]:
    """Every readable `model` JSON file in `directory`, oldest first; each unreadable one goes to `on_skip`, as runs do."""
    out = []
    for path in sorted(directory.glob("*.json")):
        try:
            out.append(model.model_validate(read_object(path)))
        except Unreadable as problem:
            on_skip(problem)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "result"
            on_skip(Unreadable(path, f"{where}: {first['msg']} (not a dbarena {model.__name__}?)"))
    return sorted(out, key=lambda item: str(getattr(item, "started_at", "")))


def capacity_words(value: float | None, below: float | None) -> str:
    """'1,200 ops/s', or 'below 200 ops/s' for a capacity never found (the SLO missed at the lowest rate tried)."""
    if value:
        return f"{value:,.0f} ops/s"
    return f"below {below:,.0f} ops/s" if below else "none"


class CurvePoint(Frozen):
    """One open-loop step of a capacity search."""

    target_rate: float
    achieved_ops_s: float
    p50_us: int | None
    p99_us: int | None
    p999_us: int | None
    slo_met: bool  # False for an invalid step: it counts as missed
    valid: bool
    run_id: str
    invalid_reasons: tuple[str, ...] = ()  # the step's record's reasons, when invalid
    client_bound: bool = False  # invalid because the load generator saturated (record cause "client")


class CapacityResult(Frozen):
    """The highest open-loop rate whose latency meets the SLO, and the latency-throughput curve."""

    capacity_id: str
    engine: str
    workload: str
    preset: str | None = None
    slo: str  # e.g. "p99<=5ms"
    capacity_ops_s: float | None  # None: even the lowest rate missed the SLO
    curve: tuple[CurvePoint, ...]
    started_at: str
    # The first failing rate above the capacity was client-bound: capacity_ops_s is the load generator's
    # limit (a lower bound of the engine's capacity), not the engine's.
    client_bound: bool = False


class Trait(Frozen):
    """A qualitative property of an engine, kept as data and shown apart from measurements."""

    transactions: str
    schema_flexibility: str
    query_power: str
    operational_burden: str


class Ranked(Frozen):
    rank: int
    engine: str
    capacity_ops_s: float | None
    throughput_ops_s: float | None  # closed-loop reference run
    p99_us: int | None
    reasons: tuple[str, ...]
    unsupported: str | None = None  # why the engine cannot run the use case
    capacity_id: str | None = None
    client_bound: bool = False  # the capacity is the load generator's limit, a lower bound of the engine's
    invalid_reasons: tuple[str, ...] = ()  # the closed-loop reference run is invalid: its figures are not ranked
    # capacity_ops_s is the median over the rounds (a round that missed at the lowest rate counts as 0);
    # each round's capacity (None: missed at the lowest rate) and the range over the rounds
    capacity_rounds: tuple[float | None, ...] = ()
    capacity_low: float | None = None
    capacity_high: float | None = None
    capacity_ids: tuple[str, ...] = ()  # every round's capacity search
    # a round missed the SLO even at this lowest rate tried (ops/s): its capacity is below it, not 0; when the
    # median is such a round capacity_ops_s is None, when the lowest round is capacity_low is None
    capacity_below_ops_s: float | None = None
    reference_ids: tuple[str, ...] = ()  # every round's closed-loop reference run


class SelectionResult(Frozen):
    selection_id: str
    use_case: str
    workload: str
    slo: str
    ranking: tuple[Ranked, ...]
    traits: dict[str, Trait]
    started_at: str
    repeats: int = 1  # rounds: each engine's reference run and capacity search, engines interleaved per round
    # "A > B with probability p" or "A ≈ B (within noise, ...)" for each neighbour pair of the ranking
    order: tuple[str, ...] = ()
    host_busy: bool = False  # the host was loaded by something else before or during the study
    host_reasons: tuple[str, ...] = ()  # when and how it was seen busy (harness/studies/host.py)
    # why the study stopped before its last round (a refused or failed step, Ctrl-C): the result holds what
    # was measured until then; None for a complete study
    stopped: str | None = None
