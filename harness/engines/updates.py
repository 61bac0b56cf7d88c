"""Binding an update that writes one field per call (`write: one`, YCSB's writeallfields=false).

Each adapter prepares one statement per operation, with a fixed list of fields; an update that
sets one field drawn per call is bound as one executor per field of its `set`
(`single_field_updates`), chosen by the one field the call's Change carries. Every other
operation is bound as it is.
"""

from __future__ import annotations

from typing import Any

from harness.engines.base import EngineAdapter
from harness.engines.calls import Change, Executor
from harness.spec.models import Operation, UpdateOp, Workload, single_field_updates


def bind_writes(adapter: EngineAdapter[Any], op: Operation, workload: Workload) -> Executor:
    """The executor of `op`: the adapter's own, or for a `write: one` update a dispatch over one per field."""
    if not (isinstance(op, UpdateOp) and op.write == "one" and len(op.set) > 1):
        return adapter.bind(op, workload)
    by_field = {path: adapter.bind(one, workload) for path, one in single_field_updates(op).items()}

    def write_one(change: Change) -> int:
        return by_field[next(iter(change.values))](change)

    return write_one
