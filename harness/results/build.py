"""A run record from a measurement: identity, workload hash, manifest, validity.

The runner measures (`harness.runner.run.run_benchmark` -> Measurement); this module turns
that into the stable, versioned `RunRecord` that is stored, compared and reported.
"""

from __future__ import annotations

import hashlib
import json

from harness.results.manifest import manifest
from harness.results.record import LoadSettings, RunRecord
from harness.runner.progress import Progress
from harness.runner.run import Measurement, RunRequest, run_benchmark
from harness.spec.models import Workload, raw_dump


def workload_hash(workload: Workload) -> str:
    """Hash of the definition (without scale): runs of a changed workload never mix."""
    dump = raw_dump(workload)
    dump["dataset"]["entities"] = [{**e, "count": None} for e in dump["dataset"]["entities"]]
    return hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()[:16]


def build_record(request: RunRequest, measurement: Measurement) -> RunRecord:
    """The run record of `measurement`, taken for `request`."""
    workload, load = request.workload.active(), request.load
    total = sum(op.count for op in measurement.operations.values())
    return RunRecord(
        run_id=measurement.run_id,
        started_at=measurement.started_at,
        complete=measurement.complete,
        interrupted=measurement.interrupted,
        phase=measurement.phase,
        failure=measurement.failure,
        engine=request.engine,
        engine_version=measurement.engine_version,
        workload=workload.name,
        preset=request.preset,
        workload_hash=workload_hash(workload),
        suite=request.suite,
        seed=measurement.seed,
        scale=request.scale,
        load=LoadSettings(users=load.users, processes=len(measurement.workers) or min(load.processes, load.users),
                          duration_s=load.duration_s,
                          warmup_s=load.warmup_s, target_rate=load.target_rate, schedule=load.schedule,
                          think_time_s=load.think_time_s, max_error_rate=load.max_error_rate,
                          op_timeout_s=load.op_timeout_s, operation_count=load.operation_count,
                          stages=load.stages, scenarios=load.scenarios),
        manifest=manifest(measurement.client_library, request.provisioner, measurement.engine_settings),
        valid=not measurement.invalid_reasons,
        invalid_reasons=measurement.invalid_reasons,
        invalid_causes=measurement.invalid_causes,
        outages=measurement.outages,
        load_phase=measurement.load_phase,
        operations=measurement.operations,
        total_throughput_ops_s=round(total / measurement.measured_s, 1) if measurement.measured_s else 0.0,
        measured_s=measurement.measured_s,
        stopped_by=measurement.stopped_by,
        timeseries=measurement.timeseries,
        stages=measurement.stages,
        scenarios=measurement.scenarios,
        workers=measurement.workers,
        telemetry=measurement.telemetry,
        notes=measurement.notes,
    )


def run_and_record(request: RunRequest, progress: Progress | None = None) -> RunRecord:
    """Run `request` and return its record (not yet saved: `harness.results.store.save`)."""
    return build_record(request, run_benchmark(request, progress))
