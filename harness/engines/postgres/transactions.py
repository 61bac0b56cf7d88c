"""Native operations whose PostgreSQL entry is a list: one transaction, timed as one call.

An application (and pgbench's TPC-B-like script) runs such a unit as BEGIN, each statement
in order, COMMIT: one round trip per statement, the row locks held until the commit. The
executor does exactly that, every statement prepared once per connection and sent through
the libpq fast path (wire.py), BEGIN / COMMIT / ROLLBACK prepared too (pgbench `-M prepared`
does the same). Pipelining the list into one round trip would measure a different client
(fewer round trips, locks held shorter), so it is not done. Any error rolls the whole unit
back before it is raised: the call counts as one error and the connection stays usable.
The count returned is the sum of every statement's rows (returned or affected).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from harness.engines.calls import Executor, Params
from harness.engines.postgres.statements import Parameters, Result, Transaction
from harness.engines.postgres.wire import prepare_wire


def _nothing(argument: Any) -> Parameters:
    return ()


def bind_transaction(conn: psycopg.Connection[Any], name: str, unit: Transaction) -> Executor:
    """The executor of `unit` on `conn` (autocommit): BEGIN, the statements, COMMIT; ROLLBACK on error."""
    steps = [prepare_wire(conn, f"{name}_{i}", st.query.as_string(conn), st.parameters, st.result)
             for i, st in enumerate(unit.statements)]
    begin, commit, rollback = (prepare_wire(conn, f"{name}_{word.lower()}", word, _nothing, Result.ROWCOUNT)
                               for word in ("BEGIN", "COMMIT", "ROLLBACK"))
    if begin is None or commit is None or rollback is None or any(step is None for step in steps):
        return _cursor_transaction(conn, unit)  # a statement the server would not prepare: its error comes per call
    prepared = [step for step in steps if step is not None]

    def execute(argument: Params) -> int:
        begin(None)
        try:
            touched = 0
            for step in prepared:
                touched += step(argument)
            commit(None)
        except BaseException:
            _quietly(rollback)
            raise
        return touched

    return execute


def _quietly(rollback: Executor) -> None:
    """ROLLBACK, ignoring its own failure (a broken connection: the caller's error says why)."""
    try:
        rollback(None)
    except Exception:
        pass


def _cursor_transaction(conn: psycopg.Connection[Any], unit: Transaction) -> Executor:
    """The same unit through a psycopg cursor (named placeholders), in `conn.transaction()`."""
    cur = conn.cursor()
    queries = [sql.SQL(text) for text in unit.texts]  # type: ignore[arg-type]  # the user's own SQL

    def execute(argument: Params) -> int:
        touched = 0
        with conn.transaction():
            for query in queries:
                cur.execute(query, argument, prepare=True)
                touched += cur.rowcount if cur.description is None else len(cur.fetchall())
        return touched

    return execute


def explain_transaction(conn: psycopg.Connection[Any], unit: Transaction, argument: Params, limit_ms: int) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement in order, in one transaction rolled back afterwards.

    Each statement sees the effects of the ones before it, as in the benchmark; nothing is kept.
    All of them together get `limit_ms` (statement_timeout, per statement).
    """
    plans: list[str] = []
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        cur.execute(f"SET LOCAL statement_timeout = {int(limit_ms)}", prepare=False)
        for number, text in enumerate(unit.texts, start=1):
            cur.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + sql.SQL(text), argument, prepare=False)  # type: ignore[arg-type]
            plans += [f"-- statement {number} of {len(unit.texts)}: {text}", *(row[0] for row in cur.fetchall())]
    return "\n".join(plans)
