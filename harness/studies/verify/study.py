"""`dbarena verify`: the same seeded data and the same calls on several engines, answers compared.

For each engine in turn: provision it as `bench` does (a URL from --url or
DBARENA_<ENGINE>_URL, else Docker Compose or a native server), load the workload's seeded
dataset through the normal load path (prepare, bulk `load` batches, finish_load), then run
every operation it supports with the same arguments, drawn once from the runner's own
seeded `OperationMix` drivers:
- reading operations first, on the loaded data: each call's answer (`adapter.answer`, the
  statement the executor sends) and then the executor itself, whose returned count must be
  an int equal to the answer's count (`normal.self_check`);
- then the writes, updates, inserts, deletes (`RUN_ORDER`; inserts drawn last, so every
  other call targets a loaded record): the executor's count (records touched), then a
  read-back of the key: whether the record exists, and an update's plain `set` fields hold
  the values written.
Then every answer is compared across the engines (`normal.differs`): per operation and
engine, `agree`, `differ` (with one example: the argument and both answers, secrets masked)
or `n/a` (the engine's reason). When engines disagree, the answer most of them gave is the
reference; with no majority every engine of that call differs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.dataset.generate import dataset_factories
from harness.engines.base import EngineAdapter, Executor, LockHolder
from harness.engines.limits import LOAD_BATCH
from harness.engines.registry import create_adapter
from harness.engines.updates import bind_writes
from harness.provision.endpoint import provisioned
from harness.redact import redact_text
from harness.runner.driver import OperationMix
from harness.spec.models import (
    DeleteOp,
    InsertOp,
    NativeOp,
    Operation,
    OperationKind,
    ReadOp,
    SearchOp,
    UpdateOp,
    Workload,
)
from harness.studies.verify.normal import (
    Normal,
    canonical,
    close,
    differs,
    normalise,
    overlap,
    self_check,
    stray_hits,
)

WRITES = frozenset({OperationKind.INSERT, OperationKind.UPDATE, OperationKind.DELETE})
EXAMPLE_CHARS = 400  # an example is cut to this many characters
AGREE, DIFFER, NA = "agree", "differ", "n/a"


@dataclass
class Observation:
    """What one engine gave for one call: its normal answer, or why it has none."""

    answer: Normal | None = None
    problem: str | None = None  # the engine's own failure: an error, or its executor contradicting its answer


@dataclass
class EngineRun:
    """One engine's observations: per operation, one per argument; `na` holds the operations it cannot run."""

    engine: str
    observed: dict[str, list[Observation]] = field(default_factory=dict)
    na: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """One cell of the report: an operation on an engine."""

    operation: str
    engine: str
    status: str  # agree, differ, n/a
    detail: str = ""


# The order calls run in on every engine: reads on the loaded data, then updates, inserts, deletes.
RUN_ORDER = {OperationKind.UPDATE: 1, OperationKind.INSERT: 2, OperationKind.DELETE: 3}


def draw_arguments(workload: Workload, samples: int, seed: int) -> dict[str, list[Any]]:
    """`samples` call arguments per operation from the runner's seeded drivers (one user), in RUN_ORDER.

    Inserts are drawn last, so every other call targets a loaded record: an engine that cannot run
    an insert (n/a) then holds the same records as the others for every call it does run. Deletes
    run last, so no other call meets a record one engine deleted and another (n/a) did not.
    """
    mix = OperationMix(workload, user_slot=0, total_users=1, seed=seed)
    pairs = list(zip(workload.operations, mix.drivers, strict=True))
    drawn = {op.name: [driver.arguments() for _ in range(samples)]
             for op, driver in sorted(pairs, key=lambda pair: pair[0].kind is OperationKind.INSERT)}
    return {op.name: drawn[op.name] for op, _ in sorted(pairs, key=lambda pair: RUN_ORDER.get(pair[0].kind, 0))}


NATIVE = ("a native operation runs each engine's own statement, so there is nothing to compare, and its "
          "answer would mean running a write twice")


def not_verified(adapter: EngineAdapter[Any], op: Operation, workload: Workload) -> str | None:
    """Why `op` is n/a on this engine for verify: the engine cannot run it, or it is native; None otherwise."""
    return NATIVE if isinstance(op, NativeOp) else adapter.unsupported_reason(op, workload)


def load(adapter: EngineAdapter[Any], workload: Workload) -> None:
    """The normal load path: prepare, every entity in LOAD_BATCH batches, finish_load."""
    adapter.prepare(workload)
    factories = dataset_factories(workload)
    for entity in workload.dataset.entities:
        factory = factories[entity.name]
        for start in range(0, entity.count, LOAD_BATCH):
            adapter.load(workload, entity, list(factory.records(start, min(start + LOAD_BATCH, entity.count))))
    adapter.finish_load(workload)


def _error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {str(exc).strip() or 'no message'}".splitlines()[0]
    return redact_text(text)[:EXAMPLE_CHARS]


def observe_read(adapter: EngineAdapter[Any], executor: Executor, op: Operation, workload: Workload,
                 argument: Any) -> Observation:
    """The answer to one call of a reading operation, and the executor (bound once) held to it."""
    try:
        rows = adapter.answer(op, workload, argument)
        if rows is None:
            return Observation(problem=f"{adapter.name} adapter gives no answers (no `answer` method)")
        normal = normalise(op, workload, rows)
        count = executor(argument)
    except Exception as exc:
        return Observation(problem=_error(exc))
    stray = stray_hits(op, workload, rows, argument) if isinstance(op, SearchOp) else []
    if stray:
        return Observation(normal, f"hits {stray[:3]} hold none of the terms {list(argument.terms)} (or another "
                                   "match/filter value)")
    return Observation(normal, self_check(normal, count))


def _key_of(op: Operation, workload: Workload, argument: Any) -> Any:
    if isinstance(op, InsertOp):
        return argument[workload.entity(op.entity).key]
    return argument.key if isinstance(op, UpdateOp) else argument


def _read_back(adapter: EngineAdapter[Any], op: Operation, workload: Workload, argument: Any) -> tuple[int, str | None]:
    """(records found by key after the write, why the values read back are not the ones written)."""
    read = ReadOp(name=f"{op.name}-read-back", kind=OperationKind.READ, entity=op.entity, weight=0)
    rows = adapter.answer(read, workload, _key_of(op, workload, argument)) or []
    if not isinstance(op, UpdateOp) or not rows:
        return len(rows), None
    for name in (path for path in argument.values if "." not in path):
        written, stored = canonical(argument.values[name]), canonical(rows[0].get(name))
        if not close(written, stored):
            return len(rows), f"{name} reads back {stored!r}, not the {written!r} written"
    return len(rows), None


def observe_write(adapter: EngineAdapter[Any], executor: Executor, op: Operation, workload: Workload,
                  argument: Any, can_read: bool) -> Observation:
    """The records one write touched, and (where the engine reads this entity) what a read finds after it."""
    try:
        touched = executor(argument)
        if isinstance(touched, bool) or not isinstance(touched, int):
            return Observation(problem=f"the executor returned {type(touched).__name__}, not a count")
        found, wrong = _read_back(adapter, op, workload, argument) if can_read else (-1, None)
    except Exception as exc:
        return Observation(problem=_error(exc))
    expected = 0 if isinstance(op, DeleteOp) else min(touched, 1)
    if can_read and found != expected:
        wrong = wrong or f"after the write a read by key finds {found} record(s), expected {expected}"
    return Observation(Normal(keys=("touched",) * touched), wrong)


def run_engine(adapter: EngineAdapter[Any], workload: Workload, arguments: dict[str, list[Any]]) -> EngineRun:
    """Load `workload` into the connected `adapter` and observe every call of every operation it supports."""
    result = EngineRun(adapter.name)
    runnable = []
    for op in workload.operations:
        if reason := not_verified(adapter, op, workload):
            result.na[op.name] = reason
        else:
            runnable.append(op)
    if not runnable:
        return result
    supported = workload.model_copy(update={"operations": tuple(runnable)})
    load(adapter, supported)
    by_name = {op.name: op for op in runnable}
    for name in arguments:  # reads first, as drawn
        if name in by_name:
            result.observed[name] = _observe(adapter, by_name[name], supported, arguments[name])
    return result


def _observe(adapter: EngineAdapter[Any], op: Operation, workload: Workload, arguments: list[Any]) -> list[Observation]:
    """Every call of one operation on one engine (its executor bound once, as a user binds it)."""
    try:
        executor = bind_writes(adapter, op, workload)  # a `write: one` update: one executor per field
    except Exception as exc:
        return [Observation(problem=f"bind: {_error(exc)}")] * len(arguments)
    if op.kind not in WRITES:
        return [observe_read(adapter, executor, op, workload, a) for a in arguments]
    read = ReadOp(name="read-back", kind=OperationKind.READ, entity=op.entity, weight=0)
    can_read = adapter.unsupported_reason(read, workload) is None
    return [observe_write(adapter, executor, op, workload, a, can_read) for a in arguments]


def _example(argument: Any, pairs: Sequence[tuple[str, Normal | None]], reason: str) -> str:
    shown = "; ".join(f"{engine}: {normal.summary() if normal else 'no answer'}" for engine, normal in pairs)
    return redact_text(f"{reason} — argument {argument!r} → {shown}")[:EXAMPLE_CHARS]


def _cross(op: Operation, argument: Any, answers: dict[str, Normal]) -> dict[str, str]:
    """Engines whose answer to one call is not the majority's, with the example."""
    groups: list[list[str]] = []
    for engine, normal in answers.items():
        home = next((g for g in groups if differs(op, answers[g[0]], normal) is None), None)
        if home is None:
            groups.append([engine])
        else:
            home.append(engine)
    groups.sort(key=len, reverse=True)
    majority = groups[0] if groups and len(groups[0]) * 2 > len(answers) else []
    out = {}
    for engine, normal in answers.items():
        if engine in majority:
            continue
        other = majority[0] if majority else next(e for e in answers if e != engine)
        reason = differs(op, normal, answers[other]) or "answers differ"
        out[engine] = _example(argument, [(engine, normal), (other, answers[other])], reason)
    return out


def judge(op: Operation, arguments: list[Any], runs: Sequence[EngineRun]) -> list[Verdict]:
    """One verdict per engine for `op`: n/a, its own failure, or how its answers compare with the others'."""
    verdicts: dict[str, Verdict] = {}
    least: dict[str, tuple[float, str]] = {}  # search: engine -> (least top-k overlap, with which engine)
    running = [run for run in runs if op.name in run.observed]
    for run in runs:
        if op.name in run.na:
            verdicts[run.engine] = Verdict(op.name, run.engine, NA, run.na[op.name])
    for index, argument in enumerate(arguments):
        answers: dict[str, Normal] = {}
        for run in running:
            seen = run.observed[op.name][index]
            if seen.problem is not None and run.engine not in verdicts:
                verdicts[run.engine] = Verdict(op.name, run.engine, DIFFER,
                                               _example(argument, [(run.engine, seen.answer)], seen.problem))
            if seen.answer is not None:
                answers[run.engine] = seen.answer
        for engine, example in _cross(op, argument, answers).items():
            verdicts.setdefault(engine, Verdict(op.name, engine, DIFFER, example))
        if isinstance(op, SearchOp):
            _least_overlap(op, answers, least)
    for run in running:
        verdicts.setdefault(run.engine, Verdict(op.name, run.engine, AGREE, _agree_detail(run.engine, len(arguments),
                                                                                         len(running), least)))
    return [verdicts[run.engine] for run in runs]


def _least_overlap(op: SearchOp, answers: dict[str, Normal], least: dict[str, tuple[float, str]]) -> None:
    """Per engine, the least top-k overlap with the next engine's answer so far (reported, not judged)."""
    engines = list(answers)
    for engine, other in zip(engines, engines[1:] + engines[:1], strict=True):
        if engine != other:
            shared = overlap(op, answers[engine], answers[other])
            if shared < least.get(engine, (2.0, ""))[0]:
                least[engine] = (shared, other)


def _agree_detail(engine: str, calls: int, engines: int, least: dict[str, tuple[float, str]]) -> str:
    if engines == 1:
        return f"{calls} calls; the only engine running it: its executor's counts match its answers"
    if engine in least:
        shared, other = least[engine]
        return f"{calls} calls; least top-k overlap with {other} {shared:.0%} (relevance formulas differ: reported only)"
    return f"{calls} calls"


def verify(workload: Workload, engines: Sequence[str], samples: int, provision: str = "auto",
           urls: dict[str, str] | None = None, say: Callable[[str], None] = print) -> list[Verdict]:
    """Every operation of `workload` on every engine: one verdict per (operation, engine), operation-major."""
    seed = workload.dataset.seed
    arguments = draw_arguments(workload, samples, seed)
    runs = [run for run in _engine_runs(workload, engines, arguments, provision, urls or {}, say)]
    by_name = {op.name: op for op in workload.operations}
    return [v for name in (op.name for op in workload.operations) for v in judge(by_name[name], arguments[name], runs)]


def _engine_runs(workload: Workload, engines: Sequence[str], arguments: dict[str, list[Any]], provision: str,
                 urls: dict[str, str], say: Callable[[str], None]) -> Iterator[EngineRun]:
    for engine in engines:
        probe = create_adapter(engine, urls.get(engine) or _default_url(engine))
        if all(not_verified(probe, op, workload) for op in workload.operations):
            yield EngineRun(engine, na={op.name: str(not_verified(probe, op, workload))
                                        for op in workload.operations})
            continue
        say(f"== {engine} · {workload.name}: loading {sum(e.count for e in workload.dataset.entities):,} records")
        with provisioned(engine, provision, urls.get(engine), progress=say) as endpoint:
            adapter = create_adapter(engine, endpoint.url)
            adapter.connect()
            try:  # verify drops and reloads the data: never under a run measuring it (DatasetInUse, one line)
                adapter.lock_dataset(workload, LockHolder.here(f"verify-{engine}-{workload.name}-{os.getpid()}",
                                                               workload.name))
                yield run_engine(adapter, workload, arguments)
            finally:
                adapter.unlock_dataset()
                adapter.close()


def _default_url(engine: str) -> str:
    from harness.engines.registry import engine_info

    return engine_info(engine).default_url
