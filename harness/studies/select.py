"""Technology selection: run one use case on every engine that can serve it, rank them.

Ranking: capacity under the SLO (the median over `repeats` rounds, highest first), then
closed-loop throughput, then tail latency. Engines are interleaved (every engine once per round,
A B C A B C …), a missed capacity step is confirmed by a second run before it counts, and each
pair of neighbours in the ranking is said as "A > B with probability p" (bootstrap over the
rounds, p >= 0.95) or "A ≈ B (within noise)" — never "the best" on one sample. The host is
watched before and during the study (harness/studies/host.py); a busy host is said in the result.
Engines that cannot express the workload rank last with the reason. Qualitative
traits come from traits.yaml beside this module and are reported apart from measurements.
A run stopped by the user (Ctrl-C) is saved and ends the selection. An invalid reference run
is marked (its reasons in words) and its figures are not used to rank; an invalid capacity step
counts as missed; a client-bound capacity is said as such ("client-bound at N ops/s"), never as
the engine's capacity.
"""

from __future__ import annotations

import itertools
import secrets
import statistics
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml

from harness.engines.matrix import support
from harness.paths import results_dir
from harness.provision.endpoint import choose_mode, provisioned
from harness.results import store
from harness.results.build import run_and_record
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.models import Workload
from harness.spec.suite import Selection, SuiteRun
from harness.studies.capacity import client_bound_text, save_capacity, search_capacity
from harness.studies.host import HostWatch
from harness.studies.limits import check_load, check_room, footprint
from harness.studies.models import CapacityResult, Ranked, SelectionResult, Trait, load_stored
from harness.studies.runs import Placement, RunFn, execute, prepared_workload, request_for, stop_if_interrupted
from harness.studies.slo import describe, worst_percentile_us

TRAITS = Path(__file__).with_name("traits.yaml")
DEFAULT_REPEATS = 3  # rounds of every engine's reference run and capacity search
BOOTSTRAP_ROUNDS = 2000
CONFIDENT = 0.95  # P(A > B) from which the ranking says "A > B"; below it "A ≈ B"


def load_traits(path: Path = TRAITS) -> dict[str, Trait]:
    if not path.exists():
        return {}
    return {name: Trait(**data) for name, data in (yaml.safe_load(path.read_text()) or {}).items()}


@dataclass(frozen=True)
class Measured:
    """What a selection measured of one engine: a reference run and a capacity search per round."""

    references: tuple[RunRecord, ...] = ()
    capacities: tuple[CapacityResult, ...] = ()
    unsupported: str | None = None  # why the engine cannot run the use case (nothing measured)


@dataclass(frozen=True)
class _Figures:
    engine: str
    capacities: tuple[float, ...]  # per round, 0 for a round that missed at the lowest rate
    capacity: float | None  # median over the rounds; None when nothing was searched
    throughput: float | None  # median closed-loop throughput of the valid reference runs
    worst_us: int | None  # median of their worst SLO percentile
    unsupported: str | None


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _figures(engine: str, measured: Measured, selection: Selection) -> _Figures:
    """Medians over the rounds; invalid reference runs are left out of the figures."""
    caps = tuple(c.capacity_ops_s or 0.0 for c in measured.capacities)
    valid = [r for r in measured.references if r.valid]
    worst = [w for r in valid if (w := worst_percentile_us(r, selection.slo)) is not None]
    middle = _median([float(w) for w in worst])
    return _Figures(engine, caps, _median(list(caps)), _median([r.total_throughput_ops_s for r in valid]),
                    int(middle) if middle is not None else None, measured.unsupported)


def _sort_key(f: _Figures) -> tuple[int, float, float, float]:
    return (1 if f.unsupported else 0, -(f.capacity or 0.0), -(f.throughput or 0.0), float(f.worst_us or 1e18))


def probability_greater(a: tuple[float, ...], b: tuple[float, ...], rounds: int = BOOTSTRAP_ROUNDS,
                        seed: int = 0) -> float:
    """P(median of A > median of B) by bootstrap over the rounds (each side resampled with replacement; a tie
    counts half). Efron & Tibshirani, An Introduction to the Bootstrap, ch. 16."""
    rng = np.random.default_rng(seed)
    medians_a = np.median(rng.choice(np.asarray(a, dtype=float), size=(rounds, len(a))), axis=1)
    medians_b = np.median(rng.choice(np.asarray(b, dtype=float), size=(rounds, len(b))), axis=1)
    return float(np.mean(medians_a > medians_b) + 0.5 * np.mean(medians_a == medians_b))


def order_text(first: _Figures, second: _Figures) -> str:
    """'A > B with probability p' when p >= CONFIDENT, else 'A ≈ B (within noise ...)'; one round says it has none."""
    a, b = first.engine, second.engine
    if len(first.capacities) < 2 or len(second.capacities) < 2:
        return f"{a} ≥ {b} on one round only: no probability (use --repeats 3 or more)"
    p = probability_greater(first.capacities, second.capacities)
    if p >= CONFIDENT:
        return f"{a} > {b} with probability {p:.2f} (bootstrap over {len(first.capacities)} rounds)"
    return f"{a} ≈ {b} (within noise: P({a} > {b}) = {p:.2f} over {len(first.capacities)} rounds)"


def _capacity_reason(f: _Figures, measured: Measured, selection: Selection) -> str:
    bound = [c for c in measured.capacities if c.client_bound]
    if bound:  # the round nearest the median speaks for the engine
        nearest = min(bound, key=lambda c: abs((c.capacity_ops_s or 0.0) - (f.capacity or 0.0)))
        return client_bound_text(nearest) or "client-bound"
    slo_text, n = describe(selection.slo), len(f.capacities)
    missed = sum(1 for c in f.capacities if not c)
    if not f.capacity:
        return f"missed {slo_text} even at {selection.capacity.start_rate:,.0f} ops/s in {missed} of {n} rounds"
    spread = (f" (median of {n} rounds, range {min(f.capacities):,.0f}–{max(f.capacities):,.0f}"
              + (f"; {missed} missed at the lowest rate" if missed else "") + ")") if n > 1 else " (one round)"
    return f"sustains {f.capacity:,.0f} ops/s within {slo_text}{spread}"


def _reasons(f: _Figures, measured: Measured, selection: Selection) -> list[str]:
    if f.unsupported:
        return [f"cannot run this use case: {f.unsupported}"]
    reasons = [_capacity_reason(f, measured, selection)]
    for reference in measured.references:
        if not reference.valid:
            reasons.append(f"closed-loop reference run {reference.run_id} INVALID "
                           f"({'; '.join(reference.invalid_reasons)}): its throughput and latency are not ranked")
    if f.throughput is not None:
        reasons.append(f"closed loop: {f.throughput:,.0f} ops/s with {selection.slo.percentile} "
                       f"{f.worst_us / 1000 if f.worst_us else float('nan'):.2f} ms ({selection.load.users} users"
                       f"{', median of the valid rounds' if len(measured.references) > 1 else ''})")
    return reasons


def _ranked(position: int, f: _Figures, measured: Measured, selection: Selection) -> Ranked:
    invalid = [r for r in measured.references if not r.valid]
    return Ranked(rank=position, engine=f.engine, capacity_ops_s=f.capacity, throughput_ops_s=f.throughput,
                  p99_us=f.worst_us, reasons=tuple(_reasons(f, measured, selection)), unsupported=f.unsupported,
                  capacity_id=measured.capacities[0].capacity_id if measured.capacities else None,
                  client_bound=any(c.client_bound for c in measured.capacities),
                  invalid_reasons=tuple(reason for r in invalid for reason in r.invalid_reasons),
                  capacity_rounds=tuple(c.capacity_ops_s for c in measured.capacities),
                  capacity_low=min(f.capacities) if f.capacities else None,
                  capacity_high=max(f.capacities) if f.capacities else None,
                  capacity_ids=tuple(c.capacity_id for c in measured.capacities))


def rank(selection: Selection, measured: dict[str, Measured], traits: dict[str, Trait],
         host_reasons: Sequence[str] = ()) -> SelectionResult:
    """Order by median capacity over the rounds (then closed-loop throughput, then tail latency), unsupported
    last; each neighbour pair of measured engines gets a probability or "≈" (`order_text`)."""
    figures = sorted((_figures(engine, m, selection) for engine, m in measured.items()), key=_sort_key)
    ranking = tuple(_ranked(i, f, measured[f.engine], selection) for i, f in enumerate(figures, start=1))
    searched = [f for f in figures if not f.unsupported and f.capacities]
    started = datetime.now(timezone.utc)
    return SelectionResult(
        selection_id=f"{started:%Y%m%dT%H%M%SZ}-{selection.name}-{secrets.token_hex(2)}",
        use_case=selection.use_case, workload=selection.workload, slo=describe(selection.slo),
        ranking=ranking, traits={e: t for e, t in traits.items() if e in measured},
        started_at=started.isoformat(timespec="seconds"),
        repeats=max((len(m.capacities) for m in measured.values()), default=1),
        order=tuple(order_text(a, b) for a, b in itertools.pairwise(searched)),
        host_busy=bool(host_reasons), host_reasons=tuple(host_reasons),
    )


def selections_dir() -> Path:
    """`<results>/selections`: one JSON file per selection study."""
    return results_dir() / "selections"


def stored_selections(on_skip: store.OnSkip = store.ignore) -> list[SelectionResult]:
    """Every readable selection result, oldest first (for reports); unreadable files go to `on_skip`."""
    return load_stored(selections_dir(), SelectionResult, on_skip)


def _watched(run: RunFn, watch: HostWatch, own: int) -> RunFn:
    """`run`, with the host sampled after each capacity step."""
    def measured(request: RunRequest, progress: Progress) -> RunRecord:
        record = run(request, progress)
        watch.after(record, own, client=False)
        return record
    return measured


def _supported(selection: Selection, workload: Workload, progress: Progress) -> dict[str, Measured]:
    """An empty `Measured` per engine that can run the use case; the others with the reason (said once)."""
    measured: dict[str, Measured] = {}
    for engine in selection.engines:
        ok, reasons = support(workload, engine)
        if not ok:
            progress.say(f"== {engine}: n/a ({'; '.join(reasons)})")
        measured[engine] = Measured() if ok else Measured(unsupported="; ".join(reasons))
    return measured


def run_selection(selection: Selection, provision: str = "auto", progress: Progress | None = None,
                  run: RunFn = run_and_record, placement: Placement | None = None,
                  override_limits: bool = False, repeats: int = DEFAULT_REPEATS) -> SelectionResult:
    """Measure every engine of `selection` in `repeats` rounds, rank them, save the result.

    Every engine is provisioned for the whole study; each round runs every engine in turn (A B C
    A B C …: a slow minute of the host falls on all of them): a closed-loop reference run, then a
    capacity search whose missed steps are confirmed by a second run. The host is sampled before
    and after every run (harness/studies/host.py). The safety limits (harness/studies/limits.py)
    are checked for every engine before the first starts.
    """
    progress = progress or Progress()
    planned = SuiteRun(workload=selection.workload, preset=selection.preset, engines=selection.engines,
                       scale=selection.scale, load=selection.load.model_copy(update={"target_rate": None}))
    workload = prepared_workload(planned)
    check_load(planned.load, override_limits)
    size = footprint(workload)
    for engine in selection.engines:
        check_room(size, engine, choose_mode(engine, provision, None), override_limits)
    watch = HostWatch()
    watch.before()
    measured = _supported(selection, workload, progress)
    engines = [engine for engine, m in measured.items() if m.unsupported is None]
    own = planned.load.processes + 1  # the run's load processes and the engine
    with ExitStack() as stack:
        bases = {}
        for engine in engines:
            progress.say(size.line())
            endpoint = stack.enter_context(provisioned(engine, provision, progress=progress.say))
            bases[engine] = request_for(planned, engine, endpoint, suite=f"select:{selection.name}", placement=placement)
        for round_ in range(1, repeats + 1):
            for engine in engines:
                progress.say(f"== round {round_}/{repeats} · {engine}: closed-loop reference run, then capacity "
                             f"search under {describe(selection.slo)}")
                base = replace(bases[engine], skip_load=round_ > 1)
                reference = execute(base, progress, run).record
                stop_if_interrupted(reference)
                watch.after(reference, own)
                capacity = search_capacity(replace(base, skip_load=True), selection.slo, selection.capacity,
                                           progress, _watched(run, watch, own), confirm=True)
                save_capacity(capacity)
                done = measured[engine]
                measured[engine] = replace(done, references=(*done.references, reference),
                                           capacities=(*done.capacities, capacity))
    if watch.busy:
        progress.say("host busy: " + "; ".join(watch.reasons))
    result = rank(selection, measured, load_traits(), watch.reasons)
    path = selections_dir() / f"{result.selection_id}.json"
    store.write_atomic(path, result.model_dump_json(indent=1))
    return result


def ranking_text(result: SelectionResult) -> str:
    lines = [f"use case: {result.use_case} (workload {result.workload}, SLO {result.slo}, "
             f"{result.repeats} round{'s' if result.repeats != 1 else ''}, engines interleaved)"]
    if result.host_busy:
        lines.append("HOST BUSY: the host was loaded by something else, so the figures are suspect — "
                     + "; ".join(result.host_reasons))
    lines.append("")
    for entry in result.ranking:
        lines.append(f"{entry.rank}. {entry.engine}")
        lines += [f"     - {reason}" for reason in entry.reasons]
    if result.order:
        lines += ["", "ranking (capacity under the SLO):"] + [f"  {line}" for line in result.order]
    if result.traits:
        lines += ["", "qualitative traits (judgement, not measured):"]
        for engine, trait in result.traits.items():
            lines.append(f"  {engine}: transactions: {trait.transactions}; schema: {trait.schema_flexibility}; "
                         f"queries: {trait.query_power}; operations: {trait.operational_burden}")
    return "\n".join(lines)
