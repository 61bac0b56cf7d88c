"""The libpq-level executor against a real PostgreSQL, on both of its waits: gevent's (the workers') and psycopg's.

Checked against the server: the rows a read returns, the error a failing statement raises (the
connection goes on), a parameter larger than the socket buffer (the flush loop), and a backend
terminated by the server (psycopg.OperationalError, as the runner's reconnect expects).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from harness.engines.postgres.adapter import PostgresAdapter
from harness.engines.postgres.statements import Result
from harness.engines.postgres.wire import prepare_wire, round_trip

pytestmark = pytest.mark.postgres

TABLE = "dbarena_wire_test"


@pytest.fixture
def conn(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgres_url, autocommit=True) as setup:
        setup.execute(f"DROP TABLE IF EXISTS {TABLE}")
        setup.execute(f"CREATE TABLE {TABLE} (id int PRIMARY KEY, body text)")
        setup.execute(f"INSERT INTO {TABLE} SELECT g, repeat('x', g) FROM generate_series(1, 100) g")
    connection = psycopg.connect(postgres_url, autocommit=True)
    yield connection
    connection.close()
    with psycopg.connect(postgres_url, autocommit=True) as teardown:
        teardown.execute(f"DROP TABLE IF EXISTS {TABLE}")


def _executors(conn: psycopg.Connection[Any], cooperative: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """A read by key and an insert of (id, body) on `conn`, waiting the way `cooperative` says."""
    import harness.engines.postgres.wire as wire

    monkeypatch.setattr(wire, "round_trip", lambda pgconn: round_trip(pgconn, cooperative))
    read = prepare_wire(conn, "wire_read", f"SELECT * FROM {TABLE} WHERE id = %s", lambda key: (key,), Result.ROWS)
    insert = prepare_wire(conn, "wire_insert", f"INSERT INTO {TABLE} (id, body) VALUES (%s, %s)",
                          lambda row: row, Result.ROWCOUNT)
    assert read is not None and insert is not None
    return read, insert


def _in_greenlet(call: Any, *args: Any) -> Any:
    """Run `call` in a greenlet, as a Locust user does, and return its value (or raise its error)."""
    import gevent

    return gevent.spawn(call, *args).get(timeout=30)


@pytest.mark.parametrize("cooperative", [True, False], ids=["gevent", "psycopg"])
def test_reads_writes_and_errors_match_the_server(conn: psycopg.Connection[Any], cooperative: bool,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    read, insert = _executors(conn, cooperative, monkeypatch)
    run = _in_greenlet if cooperative else (lambda call, *args: call(*args))
    assert [run(read, key) for key in (1, 50, 100, 101)] == [1, 1, 1, 0]
    big = "y" * 4_000_000  # more than the socket buffer takes at once: libpq's flush loop
    assert run(insert, (1000, big)) == 1
    with pytest.raises(psycopg.errors.UniqueViolation):
        run(insert, (1000, "again"))
    assert run(read, 1000) == 1  # the connection goes on after an error result
    with psycopg.connect(conn.info.dsn, autocommit=True) as check:
        row = check.execute(f"SELECT length(body) FROM {TABLE} WHERE id = 1000").fetchone()
    assert row == (len(big),)


@pytest.mark.parametrize("cooperative", [True, False], ids=["gevent", "psycopg"])
def test_a_terminated_backend_is_an_operational_error(conn: psycopg.Connection[Any], cooperative: bool,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    read, _ = _executors(conn, cooperative, monkeypatch)
    run = _in_greenlet if cooperative else (lambda call, *args: call(*args))
    assert run(read, 1) == 1
    with psycopg.connect(conn.info.dsn, autocommit=True) as killer:
        assert killer.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,)).fetchone() == (True,)
    with pytest.raises(psycopg.OperationalError) as raised:
        run(read, 1)
    assert PostgresAdapter("postgres", conn.info.dsn).is_disconnect(raised.value)  # the runner reconnects
