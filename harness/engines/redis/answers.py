"""What a Redis statement returns, record by record, for `dbarena verify` (never timed).

The commands come from statements.py's `build`, the ones the executor sends, on the adapter's
connection; replies are decoded from bytes. A k-hop or mutual traversal keeps the first `limit`
nodes of the set the executor counts (it counts min(found, limit)); a shortest path's answer is
the executor's own reply (its length), as nothing else is returned.
"""

from __future__ import annotations

from typing import Any

from harness.engines.calls import Executor
from harness.engines.redis.statements import Read, Traversal, build
from harness.spec.models import FindOp, Operation, RangeOp, TraverseOp, Workload


def text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def decoded(row: dict[Any, Any]) -> dict[str, Any]:
    return {text(field): text(value) for field, value in row.items()}


def answer(adapter: Any, executor: Executor, op: Operation, workload: Workload, argument: Any) -> list[dict[str, Any]]:
    """The records (or nodes) `op`'s commands return for `argument`; `adapter` is the RedisAdapter."""
    if isinstance(op, (FindOp, RangeOp)):
        return [decoded(row) for row in adapter.finder(op, workload)(argument)]
    statement = build(op, workload, adapter.name)
    if isinstance(statement, Read):
        reply = adapter.client.execute_command(*statement.command(argument))
        if statement.fields:
            reply = dict(zip(statement.fields, reply, strict=True)) if any(v is not None for v in reply) else {}
        return [decoded(reply)] if reply else []
    if isinstance(statement, Traversal) and isinstance(op, TraverseOp):
        if statement.pattern == "shortest-path":
            return [{"hops": executor(argument)}]
        nodes = sorted(text(node) for node in adapter.reachable(op)(argument))
        return [{"node": node} for node in (nodes[:statement.limit] if statement.limit else nodes)]
    return []
