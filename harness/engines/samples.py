"""A deterministic call argument per operation kind, as the runner's driver builds it, without a run.

`dbarena explain` (harness.engines.explain) shows what each operation sends with such an argument,
and the engines' golden-statement tests (tests/engines/golden.py) render their golden files with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from harness.dataset.params import resolved_bounds
from harness.engines.calls import Change, Pair, Query, Scan, Window
from harness.spec.models import (
    AggregateOp,
    Entity,
    FindOp,
    InsertOp,
    NativeOp,
    Operation,
    RangeOp,
    ScanOp,
    SearchOp,
    TraverseOp,
    UpdateOp,
)


class Records(Protocol):
    """What `sample_argument` reads: a RecordFactory, or a stand-in with its entity and these methods."""

    @property
    def entity(self) -> Entity: ...

    def key_of(self, index: int) -> Any: ...

    def record(self, index: int) -> Mapping[str, Any]: ...

    def value(self, field: str, index: int) -> Any: ...


def new_path(path: str) -> str:
    """The new value of a nested path ("attributes.k1"), which no record holds: `new-<path>`."""
    return f"new-{path}"


def sample_argument(op: Operation, factory: Records, *, row: int = 0, new_row: int = 1, insert_row: int | None = None,
                    nested: Callable[[str], Any] = new_path, terms: tuple[str, ...] = ("word", "other"),
                    take_terms: bool = True, window: tuple[Any, Any] | None = None,
                    nodes: tuple[Any, Any] | None = None) -> Any:
    """A deterministic argument of `op`'s kind (harness.engines.calls), as the runner's driver builds it.

    The key, a find's match, a range's match and window end come from record `row`; an update
    sets the values of record `new_row` (`nested(path)` for a path that is not a field; not
    `factory.new_values`, some of which take the wall clock); an
    insert writes record `insert_row` (default `new_row`). A search looks for the first
    `op.terms` of `terms` (all of them unless `take_terms`). `window` fixes a range's (low, high)
    instead of the record's value and the operation's width; `nodes` fixes a traversal's start
    and shortest-path target instead of the keys of records `row` and `row + 1`.
    """
    key = factory.key_of(row)
    match = {f: factory.value(f, row) for f in getattr(op, "match", ())}
    if isinstance(op, InsertOp):
        return factory.record(new_row if insert_row is None else insert_row)
    if isinstance(op, UpdateOp):
        return Change(key, {p: factory.value(p, new_row) if p in factory.entity.fields else nested(p) for p in op.set})
    if isinstance(op, FindOp):
        return match
    if isinstance(op, (RangeOp, AggregateOp)):
        if window is not None:
            return Window(match, *window)
        end = factory.value(op.range_field, row)
        width = timedelta(seconds=op.window) if isinstance(end, datetime) else op.window
        return Window(match, end - width, end)
    if isinstance(op, SearchOp):
        return Query(terms[:op.terms] if take_terms else terms, match)
    if isinstance(op, TraverseOp):
        source, target = nodes if nodes is not None else (key, factory.key_of(row + 1))
        return Pair(source, target) if op.pattern == "shortest-path" else source
    if isinstance(op, NativeOp):  # every parameter at the low end of its range
        return {"key": key, **{name: resolved_bounds(spec)[0] for name, spec in op.params.items()}}
    if isinstance(op, ScanOp):
        return Scan(key, op.max_length)  # the longest scan the operation may draw
    return key  # read, delete
