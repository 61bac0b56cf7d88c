"""What a Neo4j statement returns, record by record, for `dbarena verify` (never timed).

The Cypher and its parameters come from statements.py's `build`, the ones the executor sends,
run on the adapter's session. A record's map (`RETURN ... AS record`) becomes one row; a
traversal's `node` column becomes {"node": key}; a shortest path is [{"hops": length}]
(0 without a path, as the executor counts it). Neo4j's temporal values become Python's.
"""

from __future__ import annotations

from typing import Any

from neo4j import Session

from harness.engines.neo4j import statements
from harness.engines.neo4j.statements import Count
from harness.spec.models import Operation, Workload


def native(value: Any) -> Any:
    """Neo4j's DateTime and friends as Python values; lists element-wise; others unchanged."""
    if hasattr(value, "to_native"):
        return value.to_native()
    if isinstance(value, list):
        return [native(v) for v in value]
    return value


def answer(session: Session, op: Operation, workload: Workload, argument: Any) -> list[dict[str, Any]]:
    """The rows `op`'s Cypher returns for `argument`."""
    statement = statements.build(op, workload)
    if statement.count not in (Count.ROWS, Count.SINGLE):
        return []
    records = list(session.run(statement.cypher, statement.parameters(argument)))  # type: ignore[arg-type]
    if statement.count is Count.SINGLE:
        return [{"hops": int(records[0][0]) if records else 0}]
    rows = []
    for record in records:
        found = record.data()
        row = found["record"] if isinstance(found.get("record"), dict) else found
        rows.append({name: native(value) for name, value in row.items()})
    return rows
