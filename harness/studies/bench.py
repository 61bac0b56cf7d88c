"""`dbarena bench`: turn a suite (or flags) into runs, provision each engine, run, save."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.compare.compare import compare
from harness.engines.registry import engine_info
from harness.errors import SpecError, UserError
from harness.provision.endpoint import Endpoint, provisioned
from harness.report.comparison import comparison_table
from harness.report.terminal import run_summary
from harness.results import store
from harness.results.baselines import baseline_for
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import INTERRUPTED, RunRequest, run_benchmark
from harness.spec.hints import did_you_mean
from harness.spec.loader import load_suite, load_workload, resolve_workload
from harness.spec.models import Workload
from harness.spec.suite import LoadProfile, Suite, SuiteRun

DEFAULT_SUITE = Path("benchmarks/default.yaml")


@dataclass(frozen=True)
class Overrides:
    """Command-line values that replace the suite's (None = keep the suite's)."""

    engine: str | None = None
    workload: str | None = None
    preset: str | None = None
    duration: str | None = None
    warmup: str | None = None
    users: int | None = None
    processes: int | None = None
    rate: float | None = None
    schedule: str | None = None
    scale: float | None = None


def plan_runs(suite: Suite | None, overrides: Overrides) -> list[SuiteRun]:
    """The runs to do: the suite's, or one from flags, with flags applied on top."""
    if overrides.workload is not None or suite is None:
        runs = [SuiteRun(workload=overrides.workload or "kv-cache", engines=(overrides.engine or "postgres",))]
    else:
        runs = list(suite.runs)
    planned = []
    for run in runs:
        load_changes: dict[str, Any] = {}
        if overrides.duration is not None:
            load_changes["duration"] = overrides.duration
        if overrides.warmup is not None:
            load_changes["warmup"] = overrides.warmup
        for key in ("users", "processes", "schedule"):
            if getattr(overrides, key) is not None:
                load_changes[key] = getattr(overrides, key)
        if overrides.rate is not None:
            load_changes["target_rate"] = overrides.rate if overrides.rate > 0 else None
        load = run.load
        if load_changes:
            merged = {**run.load.model_dump(by_alias=True), **load_changes}
            try:
                load = LoadProfile.model_validate(merged)
            except ValidationError as exc:  # a bad flag value, e.g. --duration 10parsecs
                first = exc.errors()[0]
                raise SpecError([f"command line: --{first['loc'][0]}: {first['msg'].removeprefix('Value error, ')}"]) from None
        changes: dict[str, Any] = {"load": load}
        if overrides.engine is not None:
            changes["engines"] = (overrides.engine,)
        if overrides.preset is not None:
            changes["preset"] = overrides.preset
        if overrides.scale is not None:
            changes["scale"] = overrides.scale
        planned.append(run.model_copy(update=changes))
    return planned


def request_for(run: SuiteRun, engine: str, endpoint: Endpoint, suite: str | None = None) -> RunRequest:
    """The run request for one engine of a planned run, reached at `endpoint`."""
    return RunRequest(engine=engine, url=endpoint.url, workload=prepared_workload(run), load=run.load,
                      scale=run.scale, preset=run.preset, suite=suite,
                      provisioner={"mode": endpoint.provisioner, **endpoint.details})


@contextmanager
def single_run(overrides: Overrides, provision: str, url: str | None, progress: Progress) -> Iterator[RunRequest]:
    """Provision the engine of a flags-only run and yield its request (capacity, sweep)."""
    (run,) = plan_runs(None, overrides)
    engine = run.engines[0]
    with provisioned(engine, provision, url, progress=progress.say) as endpoint:
        yield request_for(run, engine, endpoint)


def versus_baseline(record: RunRecord) -> bool:
    """Print the verdict against the committed baseline, if any; True when it regressed."""
    baseline = baseline_for(record)
    if baseline is None:
        print(f"no baseline for {record.engine}/{record.workload}"
              f"{'-' + record.preset if record.preset else ''}; `dbarena baseline promote {record.run_id}` makes this one")
        return False
    try:
        comparison = compare(baseline, record)
    except UserError as exc:
        print(f"not compared with the baseline: {exc}")
        return False
    print(comparison_table(comparison))
    return bool(comparison.regressions)


def prepared_workload(run: SuiteRun) -> Workload:
    workload = load_workload(resolve_workload(run.workload))
    if run.preset:
        if run.preset not in workload.presets:
            known = sorted(workload.presets)
            raise SpecError([f"preset {run.preset!r} is not defined by workload {workload.name}; "
                             f"defined: {', '.join(known) or 'none'}{did_you_mean(run.preset, known)}"])
        workload = workload.with_preset(run.preset)
    workload = workload.active()
    return workload.scaled(run.scale) if run.scale != 1 else workload


def bench(suite_path: Path | None, overrides: Overrides, provision: str = "auto", url: str | None = None,
          progress: Progress | None = None) -> list[tuple[Path, RunRecord, bool]]:
    """Run everything planned; returns (record path, record, regressed vs its baseline) per run."""
    progress = progress or Progress()
    suite = load_suite(suite_path) if suite_path is not None else None
    runs = plan_runs(suite, overrides)
    for run in runs:  # check everything before starting anything
        prepared_workload(run)
        for engine in run.engines:
            engine_info(engine)
    saved = []
    for run in runs:
        workload = prepared_workload(run)
        for engine in run.engines:
            progress.say(f"== {engine} · {workload.name}{':' + run.preset if run.preset else ''} · scale {run.scale:g}")
            with provisioned(engine, provision, url, progress=progress.say) as endpoint:
                record = run_benchmark(request_for(run, engine, endpoint, suite.name if suite else None), progress)
            path = store.save(record)
            print(run_summary(record))
            print(f"run record: {path}")
            saved.append((path, record, versus_baseline(record)))
            if INTERRUPTED in record.notes:
                raise KeyboardInterrupt  # saved; do not start the suite's next run
    return saved

