"""What a call's outcome means: which operations must find what they ask for, how long a call may take.

An executor returns the records it touched or returned (harness.engines.calls.Executor). For a
"must-hit" operation the generator (harness.runner.driver) guarantees a match: a by-key read,
update (read-modify-write included) or delete names a record that exists, and a find, range or
aggregate takes its match and window from such a record; 0 rows from one of them is a miss
(`not_found`), counted apart from errors. Scans, searches, traversals, native statements and
inserts are never must-hit (their answer may rightly be empty). Nor is any operation of an entity
whose records may vanish during the run (a delete or an expiry in the mix), a selection with a
constant `filter`, or one matching on a field an update of the mix changes: the generator tracks
none of those.
"""

from __future__ import annotations

from harness.spec.models import (
    AggregateOp,
    DeleteOp,
    FindOp,
    InsertOp,
    Operation,
    RangeOp,
    ReadOp,
    Selecting,
    UpdateOp,
    Workload,
    timeout_of,
    ttl_of,
)

MUST_HIT = (ReadOp, UpdateOp, DeleteOp, FindOp, RangeOp, AggregateOp)
MAX_MISS_SHARE = 0.01  # must-hit calls that found nothing, above which a run is invalid
GUARD_GRACE_S = 0.25  # the harness-side guard fires this long after an operation's own timeout
GUARD_PERIOD_S = 0.05  # how often the guard looks at the calls in flight


def vanishing_entities(workload: Workload) -> frozenset[str]:
    """Entities whose records may disappear during the run (a delete, or an insert/update with an expiry)."""
    return frozenset(op.entity for op in workload.operations
                     if isinstance(op, DeleteOp) or (isinstance(op, (InsertOp, UpdateOp)) and ttl_of(op)))


def must_hit(op: Operation, workload: Workload, queries_see_writes: bool = True) -> bool:
    """Whether 0 rows from `op` is a miss: the generator guarantees a match (see the module's docstring).

    `queries_see_writes` False (a near-real-time engine: EngineAdapter.queries_see_writes_at_once): a
    query of an entity the mix inserts into may rightly miss a record inserted since the last refresh.
    """
    if not isinstance(op, MUST_HIT) or op.entity in vanishing_entities(workload):
        return False
    if not isinstance(op, Selecting):
        return True
    if not queries_see_writes and any(isinstance(other, InsertOp) and other.entity == op.entity
                                      for other in workload.operations):
        return False
    selected = {*op.match, *((op.range_field,) if isinstance(op, (RangeOp, AggregateOp)) else ())}
    changed = {field.split(".")[0] for other in workload.operations if isinstance(other, UpdateOp)
               and other.entity == op.entity for field in other.set}
    return not op.filter and not (selected & changed)


def drain_s(workload: Workload, default_timeout_s: float) -> float:
    """How long after the window's end calls started in it may still run: the longest operation timeout + guard."""
    longest = max((timeout_of(op, default_timeout_s) for op in workload.operations), default=default_timeout_s)
    return longest + GUARD_GRACE_S + 2 * GUARD_PERIOD_S
