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
_TUPLES_OK, _COMMAND_OK = int(pq.ExecStatus.TUPLES_OK), int(pq.ExecStatus.COMMAND_OK)


def round_trip(pgconn: pq.abc.PGconn, cooperative: bool | None = None) -> Callable[[], pq.abc.PGresult]:
    """After a `send_*` call: flush, wait for the whole reply, and return its last result.

    Under gevent (a Locust worker) libpq is driven directly on one socket: its writable and
    readable watchers are made once per connection, and each call is flush → wait readable →
    consume input until libpq is no longer busy → take the results. This is psycopg's own
    `generators.execute` (the same libpq calls in the same order) without its generator and
    wait-state protocol, which cost about 2.5 µs of client CPU per call on the overhead
    benchmark. Without gevent, psycopg's generator and wait function. `cooperative`: which of
    the two (default: the gevent one when gevent has patched this process).

    Raises psycopg.OperationalError when libpq cannot send or read (the connection is gone).
    """
    if cooperative is None:
        monkey = sys.modules.get("gevent.monkey")
        cooperative = monkey is not None and monkey.is_module_patched("select")
    if not cooperative:
        fileno = pgconn.socket
        return lambda: waiting.wait(generators.execute(pgconn), fileno)[-1]
    from gevent.hub import get_hub

    hub = get_hub()
    hub_wait = hub.wait
    readable, either = hub.loop.io(pgconn.socket, 1), hub.loop.io(pgconn.socket, 3)  # libev READ, READ|WRITE
    flush, consume, busy, get_result = pgconn.flush, pgconn.consume_input, pgconn.is_busy, pgconn.get_result

    def finish() -> pq.abc.PGresult:
        while flush():  # 1: libpq's output buffer is not empty yet (the socket is full)
            hub_wait(either)
            consume()  # the server may be waiting for us to read before it reads more
        while busy():
            hub_wait(readable)
            consume()
        last = get_result()
        while (result := get_result()) is not None:
            last = result
        if last is None:
            raise errors.InternalError("libpq returned no result for a statement it was sent")
        return last

    return finish


def _dumper(transformer: Any) -> Callable[[Sequence[Any]], list[Any]]:
    """Positional values as libpq's text parameters: integers directly, others through `transformer` (psycopg's)."""
    def dump(params: Sequence[Any]) -> list[Any]:
        if len(params) == 1 and type(params[0]) is int:  # a point read by an integer key: the hot case
            return [b"%d" % params[0]]
        if all(type(p) is int for p in params):  # integer keys without the adapter machinery
            return [b"%d" % p for p in params]
        return list(transformer.dump_sequence(params, [PyFormat.TEXT] * len(params)))
    return dump


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
    encoding = conn.info.encoding
    finish, dump, send = round_trip(pgconn), _dumper(Transformer(conn)), pgconn.send_query_prepared

    def failed(res: pq.abc.PGresult) -> Exception:
        """The error of a failed result; one without a SQLSTATE is libpq's own (the connection is gone)."""
        if res.error_field(pq.DiagnosticField.SQLSTATE) is None:
            message = res.error_message.decode(errors="replace").strip() or "the connection failed"
            return psycopg.OperationalError(message)
        return errors.error_from_result(res, encoding=encoding)

    if result is Result.ROWS:  # reads: the count is the rows returned (the hot path, kept short)
        def execute_rows(argument: Any) -> int:
            params = parameters(argument)  # positional: named (native) statements never get here
            send(encoded_name, dump(params) if params else [])  # type: ignore[arg-type]
            res = finish()
            status = res.status
            if status != _TUPLES_OK and status != _COMMAND_OK:
                raise failed(res)
            return res.ntuples
        return execute_rows

    def execute(argument: Any) -> int:
        params = parameters(argument)
        send(encoded_name, dump(params) if params else [])  # type: ignore[arg-type]
        res = finish()
        if res.status not in _OK:
            raise failed(res)
        if result is Result.ROWCOUNT or (result is Result.ANY and res.status == pq.ExecStatus.COMMAND_OK):
            return int(res.command_tuples or 0)
        if result is Result.SCALAR:
            value = res.get_value(0, 0) if res.ntuples else None
            return int(value) if value is not None else 0
        return int(res.ntuples)

    return execute
