"""Binding an update the way one call runs it: YCSB's writeallfields=false and read-modify-write.

Each adapter prepares one statement per operation, with a fixed list of fields. An update that
sets one field drawn per call (`write: one`) is bound as one executor per field of its `set`
(`single_field_updates`), chosen by the one field the call's Change carries; a `read_first`
update (YCSB's read-modify-write) reads the record (`read_before`) and then writes, timed as one
call. Every other operation is bound as it is. `call_parts` names the same steps for one call, so
`dbarena explain` (harness.engines.explain) shows exactly what these executors send.
"""

from __future__ import annotations

from typing import Any

from harness.engines.base import EngineAdapter
from harness.engines.calls import Change, Executor
from harness.spec.models import Operation, OperationKind, ReadOp, UpdateOp, Workload, single_field_updates


def one_field_update(op: Operation) -> UpdateOp | None:
    """`op` if each of its calls writes one field of its `set`, drawn per call (`write: one`, several fields)."""
    return op if isinstance(op, UpdateOp) and op.write == "one" and len(op.set) > 1 else None


def read_before(op: Operation) -> ReadOp | None:
    """The read a `read_first` update runs before its write (named `<name>-read`, every field), else None."""
    if not (isinstance(op, UpdateOp) and op.read_first):
        return None
    return ReadOp(name=f"{op.name}-read", kind=OperationKind.READ, entity=op.entity, weight=0)


def call_parts(op: Operation, argument: Any) -> list[tuple[Operation, Any]]:
    """The operations one call of `op` with `argument` runs, in order, each with its own argument.

    A read-first update: its read (of the Change's key), then its write. A `write: one` update
    writes with the single-field update of the one field the Change carries (the driver draws it).
    """
    parts: list[tuple[Operation, Any]] = []
    read = read_before(op)
    if read is not None:
        parts.append((read, argument.key))
    update = one_field_update(op)
    if update is not None:
        (field,) = argument.values
        parts.append((single_field_updates(update)[field], argument))
    else:
        parts.append((op, argument))
    return parts


def bind_writes(adapter: EngineAdapter[Any], op: Operation, workload: Workload) -> Executor:
    """The executor of `op`'s write: the adapter's own, or for a `write: one` update a dispatch over one per field."""
    update = one_field_update(op)
    if update is None:
        return adapter.bind(op, workload)
    by_field = {path: adapter.bind(one, workload) for path, one in single_field_updates(update).items()}

    def write_one(change: Change) -> int:
        return by_field[next(iter(change.values))](change)

    return write_one


def bind_call(adapter: EngineAdapter[Any], op: Operation, workload: Workload) -> Executor:
    """The executor of one call of `op`: `bind_writes`, after the record's read for a `read_first` update
    (YCSB read-modify-write, timed as one call). Returns what the write returns."""
    write = bind_writes(adapter, op, workload)
    read_op = read_before(op)
    if read_op is None:
        return write
    read = adapter.bind(read_op, workload)

    def read_modify_write(change: Change) -> int:
        read(change.key)
        return write(change)

    return read_modify_write
