"""What every study shares: runs planned from a suite and flags, one request per engine, one saved record per run.

`bench`, `capacity`, `sweep` and `select` all start here, so none of them imports another:
`plan_runs` applies command-line overrides to a suite's runs, `prepared_workload` loads a
run's workload with its preset and scale applied, `request_for` turns a planned run and a
provisioned endpoint into a `RunRequest`, and `execute` measures one request into a run
record saved under results/runs/. Nothing here prints: progress goes to the `Progress`
given, and what happened is returned.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness import paths
from harness.engines.registry import engine_info
from harness.errors import EngineUnavailable, SpecError, UserError
from harness.provision.endpoint import Endpoint, choose_mode, provisioned
from harness.results import store
from harness.results.build import run_and_record
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.signals import deferred_signals
from harness.spec.hints import did_you_mean
from harness.spec.loader import load_workload, resolve_workload
from harness.spec.models import Workload
from harness.spec.suite import LoadProfile, Selection, Suite, SuiteRun, parse_duration
from harness.studies.limits import check_load, check_room, footprint

__all__ = [
    "Overrides",
    "Placement",
    "RunFn",
    "Saved",
    "execute",
    "parse_stage",
    "plan_runs",
    "prepared_workload",
    "request_for",
    "selection_problems",
    "single_run",
    "stop_if_interrupted",
]

DEFAULT_WORKLOAD = "kv-cache"  # a flags-only run without --workload
DEFAULT_ENGINE = "postgres"  # a flags-only run without --engine

RunFn = Callable[[RunRequest, Progress], RunRecord]
"""Measures one request into its (unsaved) record; tests pass a scripted stand-in."""


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
    rate: float | None = None  # ops/s; 0 or less = closed loop
    schedule: str | None = None
    scale: float | None = None
    stages: tuple[str, ...] | None = None  # "30s:users=8", "30s:rate=4000" (see parse_stage)
    think_time: str | None = None
    max_error_rate: float | None = None  # share of failed calls that invalidates a run
    op_timeout: str | None = None  # the longest one call may take ("2s", "500ms")
    operationcount: int | None = None  # stop after this many measured operations
    insertstart: int | None = None  # load and name records from this index on (YCSB's insertstart)
    insertcount: int | None = None  # ... this many of them (YCSB's insertcount)
    repeat: int | None = None  # run each configuration this many times, as one group
    override_limits: bool = False  # run past the safety limits (harness/studies/limits.py)


@dataclass(frozen=True)
class Placement:
    """Where the load comes from and who watches it: not part of the suite, only of this command line."""

    expect_workers: int = 0  # workers started on other hosts; 0: --processes local workers
    master_bind: str = "127.0.0.1:0"  # HOST:PORT the master listens on (port 0: a free one)
    web: str | None = None  # HOST:PORT of the live page; None: no page


def parse_stage(text: str) -> dict[str, Any]:
    """'30s:users=8' / '10s:rate=4000' / '1m' -> a stage mapping; SpecError naming the flag otherwise."""
    duration, _, rest = text.partition(":")
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise SpecError([f"--stage {text!r}: {exc}"]) from None
    if seconds <= 0:
        raise SpecError([f"--stage {text!r}: a stage lasts more than 0 s, e.g. 30s:users=8"])
    stage: dict[str, Any] = {"duration": duration}
    for part in filter(None, rest.split(",")):
        key, _, value = part.partition("=")
        if key not in ("users", "rate") or not value:
            raise SpecError([f"--stage {text!r}: expected DURATION[:users=N][,rate=OPS_S], "
                             "e.g. 30s:users=8 or 10s:rate=4000"])
        try:  # the values' shape here, so the error names the flag; their bounds are the load model's
            int(value) if key == "users" else float(value)
        except ValueError:
            raise SpecError([f"--stage {text!r}: {key}={value!r} should be a "
                             f"{'whole number of users' if key == 'users' else 'rate in ops/s'}, "
                             "e.g. 30s:users=8 or 10s:rate=4000"]) from None
        stage[key] = value
    return stage


@dataclass(frozen=True)
class Saved:
    """One executed run: its record and where it was saved."""

    path: Path
    record: RunRecord


def _load_changes(overrides: Overrides) -> dict[str, Any]:
    """The load-profile keys the flags set, spelled as in a suite file."""
    changes: dict[str, Any] = {}
    for key in ("duration", "warmup", "users", "processes", "schedule"):
        if getattr(overrides, key) is not None:
            changes[key] = getattr(overrides, key)
    if overrides.rate is not None:
        changes["target_rate"] = overrides.rate if overrides.rate > 0 else None
    if overrides.stages:
        changes["stages"] = [parse_stage(text) for text in overrides.stages]
        changes.pop("duration", None)  # the stages' sum
    if overrides.think_time is not None:
        changes["think_time"] = overrides.think_time
    if overrides.max_error_rate is not None:
        changes["max_error_rate"] = overrides.max_error_rate
    if overrides.op_timeout is not None:
        changes["op_timeout"] = overrides.op_timeout
    if overrides.operationcount is not None:
        changes["operationcount"] = overrides.operationcount
    for key in ("insertstart", "insertcount"):
        if getattr(overrides, key) is not None:
            changes[key] = getattr(overrides, key)
    return changes


def _load(run: SuiteRun, changes: dict[str, Any]) -> LoadProfile:
    if not changes:
        return run.load
    merged = {**run.load.model_dump(by_alias=True, exclude_unset=True), **changes}  # keeps what was given
    try:
        return LoadProfile.model_validate(merged)
    except ValidationError as exc:  # a bad flag value, e.g. --duration 10parsecs
        raise SpecError([_flag_problem(exc.errors()[0])]) from None


_FLAGS = {"target_rate": "rate", "stages": "stage", "think_time": "think-time", "op_timeout": "op-timeout"}  # load keys named otherwise


def _flag_problem(error: Any) -> str:
    """'--stage 2: rate: Input should be greater than 0 (got '-5')' for the first error of a flag's value."""
    loc, message = error["loc"], error["msg"].removeprefix("Value error, ").replace("Input should be", "should be")
    if not loc:
        return message
    flag = f"--{_FLAGS.get(str(loc[0]), str(loc[0]).replace('_', '-'))}"
    if len(loc) >= 3 and isinstance(loc[1], int):  # stages.<n>.<field>
        return f"{flag} {loc[1] + 1}: {loc[2]}: {message} (got {error.get('input')!r})"
    given = f" (got {error['input']!r})" if error.get("type") in _BOUNDS else ""  # 0s, not 0.0: what was typed
    return f"{flag}: {message}{given}"


_BOUNDS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}  # pydantic's error types


def plan_runs(suite: Suite | None, overrides: Overrides) -> list[SuiteRun]:
    """The runs to do: the suite's, or one from flags, with flags applied on top."""
    if overrides.workload is not None or suite is None:
        runs = [SuiteRun(workload=overrides.workload or DEFAULT_WORKLOAD, engines=(overrides.engine or DEFAULT_ENGINE,))]
    else:
        runs = list(suite.runs)
    load_changes = _load_changes(overrides)
    planned = []
    for run in runs:
        changes: dict[str, Any] = {"load": _load(run, load_changes)}
        if overrides.engine is not None:
            changes["engines"] = (overrides.engine,)
        if overrides.preset is not None:
            changes["preset"] = overrides.preset
        if overrides.scale is not None:
            changes["scale"] = overrides.scale
        if overrides.repeat is not None:
            changes["repeat"] = overrides.repeat
        planned.append(run.model_copy(update=changes))
        check_load(planned[-1].load, overrides.override_limits)
    return planned


def prepared_workload(run: SuiteRun) -> Workload:
    """The run's workload with its preset, active operations and scale applied."""
    workload = load_workload(resolve_workload(run.workload))
    if run.preset:
        if run.preset not in workload.presets:
            known = sorted(workload.presets)
            raise SpecError([f"preset {run.preset!r} is not defined by workload {workload.name}; "
                             f"defined: {', '.join(known) or 'none'}{did_you_mean(run.preset, known)}"])
        workload = workload.with_preset(run.preset)
    workload = workload.active()
    return workload.scaled(run.scale) if run.scale != 1 else workload


def request_for(run: SuiteRun, engine: str, endpoint: Endpoint, suite: str | None = None,
                placement: Placement | None = None) -> RunRequest:
    """The run request for one engine of a planned run, reached at `endpoint`, loaded from `placement`."""
    placement = placement or Placement()
    load, notes = engine_load(run.load, engine)
    return RunRequest(engine=engine, url=endpoint.url, workload=prepared_workload(run), load=load,
                      scale=run.scale, preset=run.preset, suite=suite,
                      provisioner={"mode": endpoint.provisioner, **endpoint.details},
                      expect_workers=placement.expect_workers, master_bind=placement.master_bind, web=placement.web,
                      notes=notes)


def engine_load(load: LoadProfile, engine: str) -> tuple[LoadProfile, tuple[str, ...]]:
    """`load` with the engine's own default warm-up (the engine table's `warmup_s`, e.g. Neo4j's JIT ramp) when
    neither a flag nor the suite set one, and the note saying so; else `load` unchanged and no note."""
    own = engine_info(engine).warmup_s
    if own is None or "warmup_s" in load.model_fields_set or own <= load.warmup_s:
        return load, ()
    note = (f"warm-up {own:g}s: {engine}'s default (its throughput ramps while queries and the JVM compile); "
            f"no --warmup or suite warmup was given")
    return load.model_copy(update={"warmup_s": own}), (note,)


@contextmanager
def single_run(overrides: Overrides, provision: str, url: str | None, progress: Progress,
               placement: Placement | None = None, check_data: bool = True) -> Iterator[RunRequest]:
    """Provision the engine of a flags-only run and yield its request (capacity, sweep).

    The dataset's size is said and checked first, unless `check_data` is off (a sweep checks each size).
    """
    (run,) = plan_runs(None, overrides)
    engine = run.engines[0]
    if check_data:
        size = footprint(prepared_workload(run))
        check_room(size, engine, choose_mode(engine, provision, url), overrides.override_limits)
        progress.say(size.line())
    with provisioned(engine, provision, url, progress=progress.say) as endpoint:
        yield request_for(run, engine, endpoint, placement=placement)


def execute(request: RunRequest, progress: Progress, run: RunFn = run_and_record) -> Saved:
    """Measure `request` and save its record: also when it was interrupted, also when the engine failed.

    The results folder is checked before anything is loaded; a record that still cannot be
    written there goes to a fallback folder (printed), never nowhere; stop signals wait while
    it is written. Raises EngineUnavailable (one line naming the engine, the phase, the record)
    after saving the record of a failed attempt.
    """
    check_writable(paths.results_dir())
    record = run(request, progress)
    with deferred_signals():
        path, record = save_somewhere(record, progress)
    if record.failure is not None:
        raise EngineUnavailable(f"{record.engine} run failed during {record.phase}: {record.failure}; "
                                f"the attempt is recorded in {path}")
    return Saved(path, record)


def check_writable(folder: Path) -> None:
    """UserError (one line) unless run records can be written under `folder`."""
    runs = folder / "runs"
    try:
        runs.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=runs, prefix=".writable-", delete=True):
            pass
    except OSError as exc:
        raise UserError(f"results folder {folder} is not writable ({exc.strerror or exc}); fix its permissions or "
                        f"free space, or point ${paths.RESULTS_ENV} (or --home) elsewhere — nothing was run") from None


def fallback_dir() -> Path:
    """Where a record goes when the results folder refuses it at the end of a run."""
    return Path(tempfile.gettempdir()) / f"dbarena-unsaved-{os.getuid()}"


def save_somewhere(record: RunRecord, progress: Progress) -> tuple[Path, RunRecord]:
    """The record in the results folder, else in the fallback folder (said on the progress line).

    Returns where it went and the record as saved (a run id already taken gets a fresh suffix).
    """
    try:
        return store.save_unique(record)
    except OSError as exc:
        path, record = store.save_unique(record, fallback_dir())
        progress.say(f"could not write the run record to {paths.results_dir()} ({exc.strerror or exc}); saved it to {path}")
        return path, record


def stop_if_interrupted(record: RunRecord) -> None:
    """After saving an interrupted run (Ctrl-C, a signal), stop the study: nothing further starts."""
    if record.interrupted:
        raise KeyboardInterrupt


def suite_problems(suite: Suite, where: str | None) -> list[str]:
    """What `bench` would refuse in a suite, found without running it: workloads, presets, engines,
    scenario operations, operations an engine cannot express and thresholds (one line each, `where` first:
    the suite file and `runs[i]`; None for runs planned from flags, named by the flag instead)."""
    from harness.engines.matrix import support
    from harness.engines.registry import engine_info
    from harness.runner.run import check_shape

    problems: list[str] = []
    for i, run in enumerate(suite.runs):
        try:
            workload = prepared_workload(run)
            check_shape(workload, run.load)
        except SpecError as exc:
            problems += [f"{_at(where, i, '', '')}{line}" for line in exc.problems]  # the line names file or name
            continue
        for engine in run.engines:
            try:
                engine_info(engine)
            except UserError as exc:
                problems.append(f"{_at(where, i, '.engines', '--engine')}{exc}")
                continue
            ok, reasons = support(workload, engine)
            if not ok:
                named = f"{workload.name} with preset {run.preset}" if run.preset else workload.name
                problems.append(f"{_at(where, i, '', '--engine')}{named} on {engine}: n/a ({'; '.join(reasons)})")
        problems += threshold_problems_of(run, workload, _at(where, i, ".thresholds", "--threshold").rstrip(" "))
    return problems


def selection_problems(selection: Selection, where: str) -> list[str]:
    """What `select` would refuse in a selection file, found without running it: its workload, preset and
    engines, one line each as `<file>: <field>: <problem>` (e.g. `sel.yaml: engines[1]: unknown engine ...`).
    An engine that cannot serve the use case is not a problem: `select` reports it n/a."""
    problems: list[str] = []
    for i, engine in enumerate(selection.engines):
        try:
            engine_info(engine)
        except UserError as exc:
            problems.append(f"{where}: engines[{i}]: {exc}")
    try:
        workload = load_workload(resolve_workload(selection.workload))
    except SpecError as exc:
        return problems + [f"{where}: workload: {line}" for line in exc.problems]
    if selection.preset and selection.preset not in workload.presets:
        known = sorted(workload.presets)
        problems.append(f"{where}: preset: {selection.preset!r} is not defined by workload {workload.name}; "
                        f"defined: {', '.join(known) or 'none'}{did_you_mean(selection.preset, known)}")
    return problems


def _at(where: str | None, index: int, part: str, flag: str) -> str:
    """Where a problem of run `index` is: `<file>: runs[i]<part>: `, or for runs planned from flags `<flag>: `
    (nothing for no flag)."""
    if where is None:
        return f"{flag}: " if flag else ""
    return f"{where}: runs[{index}]{part}: "


def threshold_problems_of(run: SuiteRun, workload: Workload, where: str) -> list[str]:
    """One line per threshold of `run` that does not parse or names an operation `workload` lacks."""
    from harness.compare.thresholds import parse_threshold, threshold_problems

    problems, parsed = [], []
    for text in run.thresholds:
        try:
            parsed.append(parse_threshold(text))
        except ValueError as exc:
            problems.append(f"{where} {text!r}: {exc}")
    return problems + threshold_problems(parsed, [op.name for op in workload.operations], where)
