"""Technology selection: run one use case on every engine that can serve it, rank them.

Ranking: capacity under the SLO (highest first), then closed-loop throughput, then tail
latency. Engines that cannot express the workload rank last with the reason. Qualitative
traits come from traits.yaml beside this module and are reported apart from measurements.
A run stopped by the user (Ctrl-C) is saved and ends the selection. An invalid reference run
is marked (its reasons in words) and its figures are not used to rank; an invalid capacity step
counts as missed; a client-bound capacity is said as such ("client-bound at N ops/s"), never as
the engine's capacity.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import yaml

from harness.engines.matrix import support
from harness.paths import results_dir
from harness.provision.endpoint import choose_mode, provisioned
from harness.results import store
from harness.results.build import run_and_record
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.spec.suite import Selection, SuiteRun
from harness.studies.capacity import client_bound_text, save_capacity, search_capacity
from harness.studies.limits import check_load, check_room, footprint
from harness.studies.models import CapacityResult, Ranked, SelectionResult, Trait, load_stored
from harness.studies.runs import Placement, RunFn, execute, prepared_workload, request_for, stop_if_interrupted
from harness.studies.slo import describe, worst_percentile_us

TRAITS = Path(__file__).with_name("traits.yaml")


def load_traits(path: Path = TRAITS) -> dict[str, Trait]:
    if not path.exists():
        return {}
    return {name: Trait(**data) for name, data in (yaml.safe_load(path.read_text()) or {}).items()}


def _sort_key(entry: tuple[str, float | None, float | None, int | None, str | None]) -> tuple[int, float, float, float]:
    _, capacity, throughput, p99, unsupported = entry
    return (1 if unsupported else 0, -(capacity or 0.0), -(throughput or 0.0), float(p99 or 1e18))


Entry = tuple[str, float | None, float | None, int | None, str | None]


def _entry(engine: str, reference: RunRecord | None, found: CapacityResult | None, why: str | None,
           selection: Selection) -> Entry:
    """(engine, capacity, reference throughput, worst SLO percentile, unsupported); an invalid reference run's
    figures are left out of the ranking."""
    usable = reference if reference is not None and reference.valid else None
    worst = worst_percentile_us(usable, selection.slo) if usable else None
    return (engine, found.capacity_ops_s if found else None, usable.total_throughput_ops_s if usable else None,
            worst, why)


def _reasons(entry: Entry, position_best: tuple[str, float | None], found: CapacityResult | None,
             reference: RunRecord | None, selection: Selection) -> list[str]:
    engine, capacity, throughput, p99, unsupported = entry
    first, best = position_best
    slo_text = describe(selection.slo)
    reasons: list[str] = []
    if unsupported:
        reasons.append(f"cannot run this use case: {unsupported}")
    elif found is not None and found.client_bound:
        reasons.append(client_bound_text(found) or "client-bound")
    elif capacity is None:
        reasons.append(f"missed {slo_text} even at {selection.capacity.start_rate:,.0f} ops/s")
    else:
        share = f" ({capacity / best:.2f}× the best)" if best and engine != first else " (the best)"
        reasons.append(f"sustains {capacity:,.0f} ops/s within {slo_text}{share}")
    if reference is not None and not reference.valid:
        reasons.append(f"closed-loop reference run {reference.run_id} INVALID ({'; '.join(reference.invalid_reasons)}): "
                       "its throughput and latency are not ranked")
    if throughput is not None:
        reasons.append(f"closed loop: {throughput:,.0f} ops/s with {selection.slo.percentile} "
                       f"{p99 / 1000 if p99 else float('nan'):.2f} ms ({selection.load.users} users)")
    return reasons


def rank(selection: Selection, measured: dict[str, tuple[RunRecord | None, CapacityResult | None, str | None]],
         traits: dict[str, Trait]) -> SelectionResult:
    entries = sorted((_entry(engine, reference, found, why, selection)
                      for engine, (reference, found, why) in measured.items()), key=_sort_key)
    best = next((c for _, c, _, _, u in entries if c and not u), None)
    ranking = []
    for position, entry in enumerate(entries, start=1):
        engine, capacity, throughput, p99, unsupported = entry
        reference, found, _ = measured[engine]
        ranking.append(Ranked(rank=position, engine=engine, capacity_ops_s=capacity, throughput_ops_s=throughput,
                              p99_us=p99, reasons=tuple(_reasons(entry, (entries[0][0], best), found, reference,
                                                                 selection)),
                              unsupported=unsupported, capacity_id=found.capacity_id if found else None,
                              client_bound=bool(found and found.client_bound),
                              invalid_reasons=() if reference is None or reference.valid
                              else reference.invalid_reasons))
    started = datetime.now(timezone.utc)
    return SelectionResult(
        selection_id=f"{started:%Y%m%dT%H%M%SZ}-{selection.name}-{secrets.token_hex(2)}",
        use_case=selection.use_case, workload=selection.workload, slo=describe(selection.slo),
        ranking=tuple(ranking), traits={e: t for e, t in traits.items() if e in measured},
        started_at=started.isoformat(timespec="seconds"),
    )


def selections_dir() -> Path:
    """`<results>/selections`: one JSON file per selection study."""
    return results_dir() / "selections"


def stored_selections(on_skip: store.OnSkip = store.ignore) -> list[SelectionResult]:
    """Every readable selection result, oldest first (for reports); unreadable files go to `on_skip`."""
    return load_stored(selections_dir(), SelectionResult, on_skip)


def run_selection(selection: Selection, provision: str = "auto", progress: Progress | None = None,
                  run: RunFn = run_and_record, placement: Placement | None = None,
                  override_limits: bool = False) -> SelectionResult:
    """Measure every engine of `selection` (reference run, then capacity search), rank them, save the result.

    The safety limits (harness/studies/limits.py) are checked for every engine before the first starts.
    """
    progress = progress or Progress()
    planned = SuiteRun(workload=selection.workload, preset=selection.preset, engines=selection.engines,
                       scale=selection.scale, load=selection.load.model_copy(update={"target_rate": None}))
    workload = prepared_workload(planned)
    check_load(planned.load, override_limits)
    size = footprint(workload)
    for engine in selection.engines:
        check_room(size, engine, choose_mode(engine, provision, None), override_limits)
    measured: dict[str, tuple[RunRecord | None, CapacityResult | None, str | None]] = {}
    for engine in selection.engines:
        ok, reasons = support(workload, engine)
        if not ok:
            progress.say(f"== {engine}: n/a ({'; '.join(reasons)})")
            measured[engine] = (None, None, "; ".join(reasons))
            continue
        progress.say(f"== {engine}: closed-loop reference run, then capacity search under {describe(selection.slo)}")
        progress.say(size.line())
        with provisioned(engine, provision, progress=progress.say) as endpoint:
            base = request_for(planned, engine, endpoint, suite=f"select:{selection.name}", placement=placement)
            reference = execute(base, progress, run).record
            stop_if_interrupted(reference)
            capacity = search_capacity(replace(base, skip_load=True), selection.slo,
                                       selection.capacity, progress, run)
            save_capacity(capacity)
        measured[engine] = (reference, capacity, None)
    result = rank(selection, measured, load_traits())
    path = selections_dir() / f"{result.selection_id}.json"
    store.write_atomic(path, result.model_dump_json(indent=1))
    return result


def ranking_text(result: SelectionResult) -> str:
    lines = [f"use case: {result.use_case} (workload {result.workload}, SLO {result.slo})", ""]
    for entry in result.ranking:
        lines.append(f"{entry.rank}. {entry.engine}")
        lines += [f"     - {reason}" for reason in entry.reasons]
    if result.traits:
        lines += ["", "qualitative traits (judgement, not measured):"]
        for engine, trait in result.traits.items():
            lines.append(f"  {engine}: transactions: {trait.transactions}; schema: {trait.schema_flexibility}; "
                         f"queries: {trait.query_power}; operations: {trait.operational_burden}")
    return "\n".join(lines)
