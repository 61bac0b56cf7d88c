"""What a PostgreSQL statement returns, row by row, for `dbarena verify` (never timed).

The SQL and its parameters come from statements.py's `build`, the one the executor sends; here
they run through a plain psycopg cursor and every row comes back as a column -> value dict.
"""

from __future__ import annotations

from typing import Any

import psycopg

from harness.engines.postgres.statements import Result, build
from harness.spec.models import Operation, Workload


def answer(conn: psycopg.Connection[Any], op: Operation, workload: Workload, argument: Any) -> list[dict[str, Any]]:
    """The rows `op`'s statement returns for `argument` (a shortest path: [{"hops": n}])."""
    statement = build(op, workload)
    with conn.cursor() as cur:
        cur.execute(statement.query.as_string(conn), statement.parameters(argument), prepare=False)
        if statement.result is Result.SCALAR:
            row = cur.fetchone()
            return [{"hops": int(row[0]) if row else 0}]
        if cur.description is None:
            return []
        names = [column.name for column in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
