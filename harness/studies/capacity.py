"""Capacity under an SLO: the highest open-loop rate whose latency percentile meets the bound.

Doubles the target rate from `start_rate` until a step misses the SLO, is invalid (for any
reason: it counts as missed, with its reasons on the curve) or delivers under 90% of its
target, then bisects between the last good and the first bad rate. Every step is a normal run
record; the curve is kept. A step stopped by the user (Ctrl-C) is saved and ends the search.

When the first bad rate above the capacity is a step invalid because the load generator
saturated (record cause "client": harness CPU, schedule lag), the result is *client-bound*:
the figure is the harness's limit, a lower bound of the engine's capacity, and `client_bound_text`
says so and suggests more processes or workers.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from harness.paths import results_dir
from harness.results import store
from harness.results.build import run_and_record
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.suite import CapacitySearch, LoadProfile, Slo
from harness.studies.models import CapacityResult, CurvePoint, load_stored
from harness.studies.runs import RunFn, execute, stop_if_interrupted
from harness.studies.slo import describe, meets, worst_percentile_us

MIN_DELIVERED = 0.90  # a short Poisson window can fall a few % short of its mean rate


def is_client_bound(record: RunRecord) -> bool:
    """Invalid because the load generator saturated (cause "client"), not because of the engine."""
    return not record.valid and "client" in tuple(getattr(record, "invalid_causes", ()) or ())


def _point(record: RunRecord, rate: float, slo: Slo) -> CurvePoint:
    lat = [op.latency_us for op in record.operations.values() if op.latency_us]
    delivered = record.total_throughput_ops_s >= MIN_DELIVERED * rate
    return CurvePoint(
        target_rate=rate, achieved_ops_s=record.total_throughput_ops_s,
        p50_us=max((p.p50 for p in lat), default=None), p99_us=max((p.p99 for p in lat), default=None),
        p999_us=max((p.p999 for p in lat), default=None),
        slo_met=meets(record, slo) and delivered and record.valid, valid=record.valid, run_id=record.run_id,
        invalid_reasons=() if record.valid else record.invalid_reasons, client_bound=is_client_bound(record),
    )


def _step_outcome(point: CurvePoint, slo: Slo) -> str:
    if point.slo_met:
        return f"meets {describe(slo)}"
    if point.client_bound:
        return "client-bound (the load generator saturated): counted as missed"
    if not point.valid:
        return f"INVALID ({'; '.join(point.invalid_reasons)}): counted as missed"
    return f"misses {describe(slo)}"


def client_bound_text(result: CapacityResult) -> str | None:
    """'client-bound at N ops/s ...' with advice, for a client-bound result; None otherwise."""
    if not result.client_bound:
        return None
    bad = min((p.target_rate for p in result.curve if p.client_bound), default=None)
    at = (f"client-bound at {result.capacity_ops_s:,.0f} ops/s" if result.capacity_ops_s is not None
          else f"client-bound below {bad or 0:,.0f} ops/s")
    return (f"{at}: the load generator saturated at {bad or 0:,.0f} ops/s offered before {result.engine} missed "
            f"{result.slo}; this is dbarena's limit, not {result.engine}'s capacity (at least that much) — rerun with "
            "more --processes, or more load hosts (--expect-workers with `dbarena worker`)")


def search_capacity(base: RunRequest, slo: Slo, search: CapacitySearch, progress: Progress | None = None,
                    run: RunFn = run_and_record, confirm: bool = False) -> CapacityResult:
    """Run the search; `base` gives engine, URL, workload and the load profile (its rate is replaced).

    `confirm`: a step that misses (but is not client-bound) is run once more at the same rate, and
    only a second miss counts; both points stay on the curve (`select` confirms: one stall in one
    short step is not a capacity).
    """
    progress = progress or Progress()
    started = datetime.now(timezone.utc)
    curve: list[CurvePoint] = []
    loaded = base.skip_load

    def step(rate: float) -> CurvePoint:
        nonlocal loaded
        load = LoadProfile.model_validate({**base.load.model_dump(by_alias=True), "target_rate": rate})
        request = replace(base, load=load, skip_load=loaded, suite=base.suite or "capacity")
        record = execute(request, progress, run).record
        stop_if_interrupted(record)
        loaded = True
        point = _point(record, rate, slo)
        curve.append(point)
        worst = worst_percentile_us(record, slo)
        progress.say(f"capacity: {rate:,.0f} ops/s offered -> {point.achieved_ops_s:,.0f} achieved, "
                     f"{slo.percentile} {worst if worst is not None else '-'} µs: {_step_outcome(point, slo)}")
        return point

    def confirmed(rate: float) -> CurvePoint:
        point = step(rate)
        if not confirm or point.slo_met or point.client_bound:
            return point
        progress.say(f"capacity: {rate:,.0f} ops/s missed once: running it again to confirm before it counts")
        return step(rate)

    good: float | None = None
    bad: CurvePoint | None = None
    rate = search.start_rate
    while rate <= search.max_rate:
        point = confirmed(rate)
        if point.slo_met:
            good, rate = rate, rate * 2
        else:
            bad = point
            break
    if good is not None and bad is not None:
        for _ in range(search.refine):
            point = confirmed((good + bad.target_rate) / 2)
            if point.slo_met:
                good = point.target_rate
            else:
                bad = point
    return CapacityResult(
        capacity_id=f"{started:%Y%m%dT%H%M%SZ}-{base.engine}-{base.workload.name}-{secrets.token_hex(2)}",
        engine=base.engine, workload=base.workload.name, preset=base.preset, slo=describe(slo),
        capacity_ops_s=good, curve=tuple(sorted(curve, key=lambda p: p.target_rate)),
        started_at=started.isoformat(timespec="seconds"), client_bound=bad is not None and bad.client_bound,
    )


def capacity_dir() -> Path:
    """`<results>/capacity`: one JSON file per capacity search."""
    return results_dir() / "capacity"


def save_capacity(result: CapacityResult) -> Path:
    path = capacity_dir() / f"{result.capacity_id}.json"
    store.write_atomic(path, result.model_dump_json(indent=1))
    return path


def stored_capacity(on_skip: store.OnSkip = store.ignore) -> list[CapacityResult]:
    """Every readable capacity result, oldest first (for reports); unreadable files go to `on_skip`."""
    return load_stored(capacity_dir(), CapacityResult, on_skip)
