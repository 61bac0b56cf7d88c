"""`dbarena bench`: turn a suite (or flags) into runs, provision each engine, run, save, compare.

Nothing is printed here: `bench` yields one `BenchRun` per finished run (its saved record
and its verdict against the committed baseline) as soon as it is saved, and the CLI shows
it. A run stopped by the user is saved like any other; after yielding it, `bench` raises
KeyboardInterrupt instead of starting the suite's next run. An invalid baseline (promoted
with --force) is not compared: `BenchRun.baseline_invalid` says so, and the gate fails on it.
Absolute thresholds (the command line's and the suite run's `thresholds`) are checked on every
run (`BenchRun.checks`); one that does not parse or names an operation a planned workload lacks
is refused before anything starts. A run planned with `repeat: N` (suite) or `--repeat N` runs N
times on one provisioned engine; the N records share a `group` id, and the last one's `BenchRun.group`
holds them all (the CLI prints the group's median and spread).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.compare.compare import DEFAULT_THRESHOLD, Comparison, compare, invalid_sides
from harness.compare.thresholds import (
    Threshold,
    ThresholdCheck,
    check_thresholds,
    parse_thresholds,
    threshold_problems,
)
from harness.engines.registry import create_adapter, engine_info
from harness.errors import SpecError, UserError
from harness.provision.endpoint import choose_mode, provisioned, url_from_env
from harness.results.baselines import baseline_for
from harness.results.build import run_and_record
from harness.results.groups import new_group_id
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_suite
from harness.spec.suite import Suite
from harness.studies.limits import check_room, footprint
from harness.studies.runs import (
    Overrides,
    Placement,
    RunFn,
    execute,
    plan_runs,
    prepared_workload,
    request_for,
    stop_if_interrupted,
    suite_problems,
)

__all__ = ["INTERRUPTED_NOT_COMPARED", "BenchRun", "Overrides", "bench", "versus_baseline"]

INTERRUPTED_NOT_COMPARED = "interrupted: not compared"  # what bench says of a run cut short, baseline or not


@dataclass(frozen=True)
class BenchRun:
    """One finished run of `dbarena bench`."""

    path: Path  # the saved run record
    record: RunRecord
    comparison: Comparison | None  # against the committed baseline; None when not compared
    not_compared: str | None = None  # why a baseline exists but could not be compared (None: no baseline)
    baseline_invalid: bool = False  # the baseline is invalid (promoted with --force): not compared
    checks: tuple[ThresholdCheck, ...] = ()  # the absolute thresholds, checked on this run
    group: tuple[RunRecord, ...] = ()  # on the last run of a `--repeat N` group: every run of the group

    @property
    def regressed(self) -> bool:
        """Worse than its baseline (what --fail-on-regression acts on)."""
        return bool(self.comparison and self.comparison.regressions)


def versus_baseline(record: RunRecord, min_effect: float = DEFAULT_THRESHOLD) -> tuple[Comparison | None, str | None,
                                                                                      bool]:
    """(comparison with the committed baseline, why it could not be compared, whether the baseline is invalid).

    (None, None, False) without a baseline. An invalid candidate is compared (the comparison says
    INVALID; `bench` exits non-zero for the run itself); an invalid baseline is not, nor a run
    interrupted before the end of its window (`INTERRUPTED_NOT_COMPARED`).
    """
    if record.interrupted and not record.complete:  # part of a window: nothing to hold against a baseline
        return None, INTERRUPTED_NOT_COMPARED, False
    baseline = baseline_for(record)
    if baseline is None:
        return None, None, False
    if not baseline.valid:
        (line,) = invalid_sides(baseline, baseline.model_copy(update={"valid": True}))
        return None, f"{line} (promoted with --force); promote a valid run to gate against it", True
    try:
        return compare(baseline, record, threshold=min_effect), None, False
    except UserError as exc:
        return None, str(exc), False


def bench(suite_path: Path | None, overrides: Overrides, provision: str = "auto", url: str | None = None,
          progress: Progress | None = None, run: RunFn = run_and_record,
          placement: Placement | None = None, thresholds: Sequence[Threshold] = (),
          min_effect: float = DEFAULT_THRESHOLD) -> Iterator[BenchRun]:
    """Run everything planned, yielding each run once it is saved and compared.

    Every planned workload and engine is checked before anything starts, with the safety limits
    (duration, processes, whether the dataset fits: harness/studies/limits.py). After an
    interrupted run has been yielded, raises KeyboardInterrupt.
    """
    progress = progress or Progress()
    suite = load_suite(suite_path) if suite_path is not None else None
    runs = plan_runs(suite, overrides)
    problems = suite_problems(Suite(version=1, name="planned", runs=tuple(runs)), None if suite_path is None else str(suite_path))
    if not problems:
        for planned in runs:
            names = [op.name for op in prepared_workload(planned).operations]
            problems += threshold_problems(thresholds, names, "--threshold")
    if problems:  # nothing starts when any planned run would be refused
        raise SpecError(problems)
    for planned in runs:  # check everything before starting anything (plan_runs checked the load limits)
        size = footprint(prepared_workload(planned))
        for engine in planned.engines:
            engine_info(engine)
            mode = choose_mode(engine, provision, url)
            check_room(size, engine, mode, overrides.override_limits)
            if mode == "external" and (given := url or url_from_env(engine)):
                create_adapter(engine, given)  # never connected: a URL the engine cannot read is refused now
    for planned in runs:
        workload = prepared_workload(planned)
        for engine in planned.engines:
            progress.say(f"== {engine} · {workload.name}{':' + planned.preset if planned.preset else ''} "
                         f"· scale {planned.scale:g}")
            progress.say(footprint(workload).line())
            with provisioned(engine, provision, url, progress=progress.say) as endpoint:
                request = request_for(planned, engine, endpoint, suite.name if suite else None, placement)
                yield from _repeats(request, planned.repeat, progress, run,
                                    (*thresholds, *parse_thresholds(planned.thresholds)), min_effect)


def _as_repeat(run: RunFn, group: str, repeat: int, repeats: int) -> RunFn:
    """`run` whose record carries the group id and its place in the group."""
    def measured(request: RunRequest, progress: Progress) -> RunRecord:
        return run(request, progress).model_copy(update={"group": group, "repeat": repeat, "repeats": repeats})
    return measured


def _repeats(request: RunRequest, repeats: int, progress: Progress, run: RunFn,
             thresholds: Sequence[Threshold], min_effect: float = DEFAULT_THRESHOLD) -> Iterator[BenchRun]:
    """Run `request` `repeats` times (one run alone when 1), yielding each run; the last carries the group."""
    group = new_group_id(request.engine, request.workload.name) if repeats > 1 else None
    records: list[RunRecord] = []
    for repeat in range(1, repeats + 1):
        if group is not None:
            progress.say(f"-- repeat {repeat}/{repeats} of group {group}")
        saved = execute(request, progress, run if group is None else _as_repeat(run, group, repeat, repeats))
        records.append(saved.record)
        comparison, why, baseline_invalid = versus_baseline(saved.record, min_effect)
        last = group is not None and (repeat == repeats or saved.record.interrupted)
        yield BenchRun(saved.path, saved.record, comparison, why, baseline_invalid,
                       check_thresholds(saved.record, thresholds), tuple(records) if last else ())
        stop_if_interrupted(saved.record)
