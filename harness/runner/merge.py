"""Merge what the worker processes measured into one set of exact results.

HDR histograms are added bucket by bucket (no re-binning), so the merged percentiles are
exactly those of one histogram that had recorded every operation of every process.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from harness.metrics.histogram import Percentiles, encode, merge
from harness.metrics.models import OperationResult, ScenarioResult, StageResult, TimePoint
from harness.runner.protocol import SecondRow, StagePart, WorkerResult
from harness.spec.models import Workload
from harness.spec.suite import LoadProfile

ERROR_SAMPLES = 5


def merge_operations(workload: Workload, results: Sequence[WorkerResult], measured_s: float) -> dict[str, OperationResult]:
    """Per operation of the mix: counts summed, histograms merged, throughput over `measured_s` seconds."""
    merged: dict[str, OperationResult] = {}
    for op in workload.operations:
        parts = [r.operations[op.name] for r in results if op.name in r.operations]
        response = merge([p.histogram for p in parts])
        service = merge([p.service_histogram for p in parts])
        lag = merge([p.lag_histogram for p in parts])
        warmup = merge([p.warmup_histogram for p in parts])
        count = sum(p.count for p in parts)
        samples = [sample for part in parts for sample in part.errors_sample][:ERROR_SAMPLES]
        merged[op.name] = OperationResult(
            kind=op.kind.value,
            count=count,
            errors=sum(p.errors for p in parts),
            timeouts=sum(p.timeouts for p in parts),
            not_found=sum(p.not_found for p in parts),
            must_hit=any(p.must_hit for p in parts),
            clamped=sum(p.clamped for p in parts),
            throughput_ops_s=round(count / measured_s, 1) if measured_s > 0 else 0.0,
            latency_us=Percentiles.of(response),
            service_us=Percentiles.of(service),
            lag_us=Percentiles.of(lag),
            warmup_count=int(warmup.get_total_count()),
            histogram=encode(response) if response.get_total_count() else "",
            service_histogram=encode(service) if service.get_total_count() else "",
            lag_histogram=encode(lag) if lag.get_total_count() else "",
            errors_sample=tuple(samples),
        )
    return merged


def merge_timeseries(results: Sequence[WorkerResult]) -> list[TimePoint]:
    """One point per (second, operation, phase), all processes merged, in time order.

    A second that straddles the end of the warm-up has a warm-up point and a measured point, each
    with its own operations only: the measured points' counts sum to the measured count.
    """
    grouped: dict[tuple[int, str, str], list[SecondRow]] = defaultdict(list)
    for result in results:
        for row in result.timeseries:
            grouped[(row.t, row.op, row.phase)].append(row)
    points = []
    for (second, op, phase), rows in sorted(grouped.items(), key=lambda item: (item[0][0], item[0][1],
                                                                               item[0][2] != "warmup")):
        summary = Percentiles.of(merge([r.histogram for r in rows]))
        points.append(TimePoint(
            t=second, op=op, phase=phase,
            count=sum(r.count for r in rows), errors=sum(r.errors for r in rows), timeouts=sum(r.timeouts for r in rows),
            p50_us=summary.p50 if summary else None,
            p99_us=summary.p99 if summary else None,
            p999_us=summary.p999 if summary else None,
            max_us=summary.max if summary else None,
        ))
    return points


def lag_share(results: Sequence[WorkerResult]) -> float | None:
    """Share of open-loop operations that started more than 1 s after their intended time."""
    started = sum(op.started for r in results for op in r.operations.values())
    lagging = sum(op.lagging for r in results for op in r.operations.values())
    return lagging / started if started else None


def _stage_operation(kind: str, parts: list[StagePart], seconds: float) -> OperationResult:
    histogram = merge([p.histogram for p in parts])
    count = sum(p.count for p in parts)
    return OperationResult(kind=kind, count=count, errors=sum(p.errors for p in parts),
                           timeouts=sum(p.timeouts for p in parts),
                           throughput_ops_s=round(count / seconds, 1) if seconds > 0 else 0.0,
                           latency_us=Percentiles.of(histogram),
                           histogram=encode(histogram) if histogram.get_total_count() else "")


def merge_stages(workload: Workload, load: LoadProfile, results: Sequence[WorkerResult],
                 measured_s: float) -> tuple[StageResult, ...]:
    """Per stage of the load shape: each operation merged exactly; a cut-short run shortens the last stages."""
    stages, start = [], 0.0
    for index, stage in enumerate(load.stages):
        seconds = max(0.0, min(stage.duration_s, measured_s - start))
        operations = {
            op.name: _stage_operation(op.kind.value, [r.operations[op.name].stages[index] for r in results
                                                      if op.name in r.operations and r.operations[op.name].stages],
                                      seconds)
            for op in workload.operations
        }
        total = sum(o.count for o in operations.values())
        stages.append(StageResult(index=index, start_s=start, duration_s=stage.duration_s, users=stage.users or load.users,
                                  target_rate=stage.rate, operations=operations,
                                  total_throughput_ops_s=round(total / seconds, 1) if seconds > 0 else 0.0))
        start += stage.duration_s
    return tuple(stages)


def merge_scenarios(load: LoadProfile, operations: dict[str, OperationResult], measured_s: float) -> tuple[ScenarioResult, ...]:
    """Per scenario: its operations' counts together over the window."""
    out = []
    for scenario in load.scenarios:
        count = sum(operations[name].count for name in scenario.operations if name in operations)
        errors = sum(operations[name].errors for name in scenario.operations if name in operations)
        timeouts = sum(operations[name].timeouts for name in scenario.operations if name in operations)
        out.append(ScenarioResult(name=scenario.name, users=scenario.users, target_rate=scenario.rate,
                                  think_time_s=scenario.think_time_s, operations=scenario.operations, count=count,
                                  errors=errors, timeouts=timeouts, throughput_ops_s=round(count / measured_s, 1) if measured_s else 0.0))
    return tuple(out)
