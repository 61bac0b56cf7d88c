"""The timed path for PostgreSQL: a prepared statement driven through libpq directly.

psycopg's cursor spends most of a point query's client time on work a benchmark does not
need per call: query conversion, the prepared-statement cache, building Python rows. Here
the statement is prepared once per connection and each call is send → wait → result,
through psycopg's own libpq wrapper (`pq`), its wait generators (cooperative under gevent)
and its text dumpers. libpq has the whole reply in hand when the result is returned, so
the round trip is complete; only the conversion of values to Python objects is skipped.
Statements this path cannot prepare fall back to the cursor (the caller decides).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import errors, generators, pq, waiting
from psycopg.adapt import PyFormat, Transformer

from harness.engines.calls import Executor
from harness.engines.postgres.statements import Parameters, Result, positional

_OK = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)


def socket_waiter(fileno: int) -> Callable[[Any], Any]:
    """Drive a psycopg generator to completion on one socket.

    Under gevent (a Locust worker) the three io watchers (read, write, both) are made once
    per connection and reused for every wait; otherwise psycopg's own wait function.
    """
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("select"):
        return lambda gen: waiting.wait(gen, fileno)
    from gevent.hub import get_hub

    hub = get_hub()
    watchers = {state: hub.loop.io(fileno, state) for state in (1, 2, 3)}  # psycopg Wait.R/W/RW = libev bits

    def wait(gen: Any) -> Any:
        try:
            state = next(gen)
            while True:
                hub.wait(watchers[state])
                state = gen.send(state)  # report ready for what was asked; libpq copes with EAGAIN
        except StopIteration as done:
            return done.value

    return wait


def prepare_wire(conn: psycopg.Connection[Any], name: str, query: str, parameters: Callable[[Any], Parameters],
                 result: Result) -> Executor | None:
    """A libpq-level executor for `query` (psycopg %s placeholders), or None if it cannot be prepared.

    `parameters` turns the executor's argument into the statement's positional values.
    """
    if "%(" in query:
        return None  # named placeholders (native statements) stay on the cursor path
    pgconn = conn.pgconn
    encoded_name = name.encode()
    prepared = pgconn.prepare(encoded_name, positional(query).encode())
    if prepared.status != pq.ExecStatus.COMMAND_OK:
        return None  # e.g. a parameter whose type the server cannot infer
    transformer = Transformer(conn)
    encoding = conn.info.encoding
    wait = socket_waiter(pgconn.socket)

    def dump(params: Sequence[Any]) -> list[Any]:
        if len(params) == 1 and type(params[0]) is int:  # a point read by an integer key: the hot case
            return [str(params[0]).encode()]
        if all(type(p) is int for p in params):  # integer keys without the adapter machinery
            return [str(p).encode() for p in params]
        return list(transformer.dump_sequence(params, [PyFormat.TEXT] * len(params)))

    def execute(argument: Any) -> int:
        params = parameters(argument)  # positional: named (native) statements never get here
        pgconn.send_query_prepared(encoded_name, dump(params) if params else [])  # type: ignore[arg-type]
        res = wait(generators.execute(pgconn))[-1]
        if res.status not in _OK:
            raise errors.error_from_result(res, encoding=encoding)
        if result is Result.ROWCOUNT or (result is Result.ANY and res.status == pq.ExecStatus.COMMAND_OK):
            return int(res.command_tuples or 0)
        if result is Result.SCALAR:
            value = res.get_value(0, 0) if res.ntuples else None
            return int(value) if value is not None else 0
        return int(res.ntuples)

    return execute
