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
from harness.errors import DbarenaError, UserError
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
from harness.studies.limits import Footprint, check_load, check_room, footprint
from harness.studies.models import CapacityResult, Ranked, SelectionResult, Trait, capacity_words, load_stored
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
    throughputs: tuple[float, ...] = ()  # each valid reference run's closed-loop throughput
    below: float = 0.0  # the lowest rate tried (ops/s): a round at 0 missed the SLO even there


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _figures(engine: str, measured: Measured, selection: Selection) -> _Figures:
    """Medians over the rounds; invalid reference runs are left out of the figures."""
    caps = tuple(c.capacity_ops_s or 0.0 for c in measured.capacities)
    valid = [r for r in measured.references if r.valid]
    worst = [w for r in valid if (w := worst_percentile_us(r, selection.slo)) is not None]
    middle = _median([float(w) for w in worst])
    rates = tuple(r.total_throughput_ops_s for r in valid)
    return _Figures(engine, caps, _median(list(caps)), _median(list(rates)),
                    int(middle) if middle is not None else None, measured.unsupported, rates,
                    selection.capacity.start_rate)


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


def _capacity_order(first: _Figures, second: _Figures) -> tuple[str, bool]:
    """The capacity statement of a neighbour pair, and whether it alone orders them (a confident difference)."""
    a, b, n = first.engine, second.engine, len(first.capacities)
    if not first.capacity and not second.capacity:
        return f"capacity: {a} ≈ {b} (both below {first.below:,.0f} ops/s)", False
    if n < 2 or len(second.capacities) < 2:
        differ = (first.capacity or 0.0) != (second.capacity or 0.0)
        return (f"capacity: {a} {capacity_words(first.capacity, first.below)} ≥ {b} "
                f"{capacity_words(second.capacity, second.below)} on one round only: no probability "
                "(use --repeats 3 or more)"), differ
    p = probability_greater(first.capacities, second.capacities)
    if p >= CONFIDENT:
        return f"capacity: {a} > {b} with probability {p:.2f} (bootstrap over {n} rounds)", True
    return f"capacity: {a} ≈ {b} (within noise: P({a} > {b}) = {p:.2f} over {n} rounds)", False


def _throughput_order(first: _Figures, second: _Figures) -> str:
    """What orders a pair whose capacity medians are equal: the closed-loop reference runs' throughput."""
    a, b = first.engine, second.engine
    if not first.throughputs or not second.throughputs:
        lacking = b if first.throughputs else a
        return f"ordered by reference-run throughput: {lacking} has no valid reference run"
    ratio = (first.throughput or 0.0) / second.throughput if second.throughput else float("inf")
    if min(len(first.throughputs), len(second.throughputs)) < 2:
        return f"ordered by reference-run throughput: {a} {ratio:.1f}× {b} (one run: no probability)"
    p = probability_greater(first.throughputs, second.throughputs)
    return (f"ordered by reference-run throughput: {a} {ratio:.1f}× {b}, P({a} > {b}) = {p:.2f} over "
            f"{min(len(first.throughputs), len(second.throughputs))} rounds")


def order_text(first: _Figures, second: _Figures) -> str:
    """What the order of a neighbour pair rests on: "capacity: A > B with probability p" when p >= CONFIDENT;
    else "capacity: A ≈ B (...)" followed by what ordered them (the median capacity, or when the medians are
    equal the reference-run throughput with its ratio and probability)."""
    said, settled = _capacity_order(first, second)
    if settled:
        return said
    if (first.capacity or 0.0) != (second.capacity or 0.0):
        return (f"{said}; ordered by median capacity: {capacity_words(first.capacity, first.below)} vs "
                f"{capacity_words(second.capacity, second.below)}")
    return f"{said}; {_throughput_order(first, second)}"


def _capacity_reason(f: _Figures, measured: Measured, selection: Selection) -> str:
    bound = [c for c in measured.capacities if c.client_bound]
    if bound:  # the round nearest the median speaks for the engine
        nearest = min(bound, key=lambda c: abs((c.capacity_ops_s or 0.0) - (f.capacity or 0.0)))
        return client_bound_text(nearest) or "client-bound"
    slo_text, n = describe(selection.slo), len(f.capacities)
    missed = sum(1 for c in f.capacities if not c)
    if not f.capacity:
        return (f"capacity below {f.below:,.0f} ops/s: missed {slo_text} even at {f.below:,.0f} ops/s (the lowest "
                f"rate tried) in {missed} of {n} rounds")
    low = f"{min(f.capacities):,.0f}" if min(f.capacities) else f"below {f.below:,.0f}"
    spread = (f" (median of {n} rounds, range {low}–{max(f.capacities):,.0f}"
              + (f"; {missed} missed at the lowest rate" if missed else "") + ")") if n > 1 else " (one round)"
    return f"sustains {f.capacity:,.0f} ops/s within {slo_text}{spread}"


def _reasons(f: _Figures, measured: Measured, selection: Selection) -> list[str]:
    if f.unsupported:
        return [f"cannot run this use case: {f.unsupported}"]
    if not measured.capacities and not measured.references:
        return ["not measured: the study stopped before this engine's first round"]
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
    missed = any(not c for c in f.capacities)
    return Ranked(rank=position, engine=f.engine, capacity_ops_s=f.capacity or None,
                  throughput_ops_s=f.throughput,
                  p99_us=f.worst_us, reasons=tuple(_reasons(f, measured, selection)), unsupported=f.unsupported,
                  capacity_id=measured.capacities[0].capacity_id if measured.capacities else None,
                  client_bound=any(c.client_bound for c in measured.capacities),
                  invalid_reasons=tuple(reason for r in invalid for reason in r.invalid_reasons),
                  capacity_rounds=tuple(c.capacity_ops_s for c in measured.capacities),
                  capacity_low=(min(f.capacities) or None) if f.capacities else None,
                  capacity_high=(max(f.capacities) or None) if f.capacities else None,
                  capacity_ids=tuple(c.capacity_id for c in measured.capacities),
                  capacity_below_ops_s=f.below if missed else None,
                  reference_ids=tuple(r.run_id for r in measured.references))


def _alone(figures: Sequence[_Figures]) -> tuple[str, ...]:
    """Why there is no ranking when fewer than two engines were measured, naming those that could not run."""
    ran = [f.engine for f in figures if not f.unsupported and f.capacities]
    others = "; ".join(f"{f.engine}: {f.unsupported or 'not measured'}" for f in figures if f.engine not in ran)
    if not ran:
        return (f"no engine was measured ({others}): no ranking",)
    if not others:
        return (f"one engine only ({ran[0]}): no ranking, its figures stand alone",)
    return (f"only {ran[0]} could be measured ({others}): no ranking, its figures stand alone",)


def rank(selection: Selection, measured: dict[str, Measured], traits: dict[str, Trait],
         host_reasons: Sequence[str] = (), stopped: str | None = None) -> SelectionResult:
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
        order=tuple(order_text(a, b) for a, b in itertools.pairwise(searched)) if len(searched) > 1
        else _alone(figures),
        host_busy=bool(host_reasons), host_reasons=tuple(host_reasons), stopped=stopped,
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
    stopped: str | None = None
    try:
        _measure(selection, planned, size, measured, provision, progress, run, placement, watch, repeats)
    except (Exception, KeyboardInterrupt) as exc:
        if not any(m.references for m in measured.values()):
            raise  # nothing measured: nothing to keep
        stopped = _stop_reason(exc)
        progress.say(f"select stopped: {stopped}; saving what was measured")
        result = _save(selection, measured, watch, progress, stopped)
        if isinstance(exc, DbarenaError):
            raise UserError(f"select stopped ({stopped}); partial selection {result.selection_id} saved with what "
                            f"was measured (`dbarena report --select {result.selection_id}`)", cause=exc) from exc
        raise
    return _save(selection, measured, watch, progress, stopped)


def _stop_reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _save(selection: Selection, measured: dict[str, Measured], watch: HostWatch, progress: Progress,
          stopped: str | None) -> SelectionResult:
    """Rank what was measured, store it under `selections_dir()` and say its id and path (stderr)."""
    if watch.busy:
        progress.say("host busy: " + "; ".join(watch.reasons))
    result = rank(selection, measured, load_traits(), watch.reasons, stopped)
    path = selections_dir() / f"{result.selection_id}.json"
    store.write_atomic(path, result.model_dump_json(indent=1))
    state = "PARTIAL selection" if stopped else "selection"
    progress.say(f"{state} {result.selection_id} saved: {path} (`dbarena report --select {result.selection_id}`)")
    return result


def _measure(selection: Selection, planned: SuiteRun, size: Footprint, measured: dict[str, Measured], provision: str,
             progress: Progress, run: RunFn, placement: Placement | None, watch: HostWatch, repeats: int) -> None:
    """Provision every supported engine and run the rounds, adding each engine's round to `measured` as it ends
    (so a study stopped midway keeps what it measured)."""
    engines = [engine for engine, m in measured.items() if m.unsupported is None]
    own = planned.load.processes + 1  # the run's load processes and the engine
    with ExitStack() as stack:
        bases = {}
        for engine in engines:
            progress.say(size.line())
            endpoint = stack.enter_context(provisioned(engine, provision, progress=progress.say))
            if endpoint.provisioner == "native" and isinstance(endpoint.details.get("pid"), int):
                watch.own(endpoint.details["pid"])  # its CPU is the study's, not a neighbour's
            else:
                watch.others_unknown()
            bases[engine] = request_for(planned, engine, endpoint, suite=f"select:{selection.name}", placement=placement)
        for round_ in range(1, repeats + 1):
            for engine in engines:
                progress.say(f"== round {round_}/{repeats} · {engine}: closed-loop reference run, then capacity "
                             f"search under {describe(selection.slo)}")
                base = replace(bases[engine], skip_load=round_ > 1)
                reference = execute(base, progress, run).record
                done = measured[engine]
                measured[engine] = replace(done, references=(*done.references, reference))
                stop_if_interrupted(reference)
                watch.after(reference, own)
                capacity = search_capacity(replace(base, skip_load=True), selection.slo, selection.capacity,
                                           progress, _watched(run, watch, own), confirm=True)
                save_capacity(capacity)
                done = measured[engine]
                measured[engine] = replace(done, capacities=(*done.capacities, capacity))


def ranking_text(result: SelectionResult) -> str:
    lines = [f"use case: {result.use_case} (workload {result.workload}, SLO {result.slo}, "
             f"{result.repeats} round{'s' if result.repeats != 1 else ''}, engines interleaved)"]
    if result.host_busy:
        lines.append("HOST BUSY: the host was loaded by something else, so the figures are suspect — "
                     + "; ".join(result.host_reasons))
    if result.stopped:
        lines.append(f"PARTIAL: the study stopped before its end ({result.stopped}); these figures are what was "
                     "measured until then")
    lines.append("")
    alone = sum(1 for e in result.ranking if not e.unsupported and e.capacity_ids) < 2
    for entry in result.ranking:
        lines.append(f"{'-' if alone else f'{entry.rank}.'} {entry.engine}")
        lines += [f"     - {reason}" for reason in entry.reasons]
    if result.order:
        head = "no ranking:" if alone else "ranking (what each order rests on):"
        lines += ["", head] + [f"  {line}" for line in result.order]
    if result.traits:
        lines += ["", "qualitative traits (judgement, not measured):"]
        for engine, trait in result.traits.items():
            lines.append(f"  {engine}: transactions: {trait.transactions}; schema: {trait.schema_flexibility}; "
                         f"queries: {trait.query_power}; operations: {trait.operational_burden}")
    return "\n".join(lines)
