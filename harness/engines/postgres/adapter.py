"""PostgreSQL adapter (psycopg 3): COPY for loading, server-side prepared statements.

Every statement is prepared on first use (`prepare_threshold=0`) and every result is
fetched, so the timed call is one full round trip. The SQL lives in postgres_sql. The plan
cache keeps PostgreSQL's default (`plan_cache_mode = auto`, recorded in the settings): after
five executions a statement may run a generic plan, as it would in an application that
prepares its statements; `explain` shows whichever plan the cache chose.

Records do not expire (`supports_ttl` stays False). Redis expires keys itself; PostgreSQL
would need an `expires_at` column, filtered reads and a purge job, a different design whose
cost depends on how the purge is scheduled. TTL operations are refused (n/a) rather than
measured as something else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import psycopg
from psycopg import sql

from harness.engines.base import EngineAdapter, Executor, Record
from harness.engines.postgres_sql import REF_COMMENT, Result, Statement, build, ident, positional, schema
from harness.engines.postgres_wire import prepare_wire
from harness.errors import EngineUnavailable
from harness.spec.models import Entity, Operation, OperationKind, Workload

# kinds that change data (a native statement may): explained once, inside a rolled-back transaction
WRITES = frozenset({OperationKind.INSERT, OperationKind.UPDATE, OperationKind.DELETE, OperationKind.NATIVE})
PLAN_CACHE_RUNS = 5  # PostgreSQL plans a prepared statement with its values 5 times, then may go generic


class PostgresAdapter(EngineAdapter):
    name = "postgres"
    client_library = "psycopg"
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset(OperationKind)
    supports_nested_set: ClassVar[bool] = True  # jsonb_set on the jsonb column

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.conn: psycopg.Connection[Any] | None = None

    def connect(self) -> None:
        try:
            self.conn = psycopg.connect(self.url, autocommit=True, prepare_threshold=0, connect_timeout=10)
        except psycopg.Error as exc:
            raise EngineUnavailable(f"postgres at {self.url} is not reachable: {str(exc).strip()}") from exc

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    @property
    def _conn(self) -> psycopg.Connection[Any]:
        assert self.conn is not None, "connect() first"
        return self.conn

    def is_disconnect(self, error: BaseException) -> bool:
        return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)) or (
            self.conn is not None and self.conn.broken
        )

    def unsupported_reason(self, op: Operation) -> str | None:
        if op.ttl_s is not None:
            return ("PostgreSQL has no record expiry (ttl_s); an expires_at column would need a purge job "
                    "a TTL store does not run, so it would measure a different design")
        return super().unsupported_reason(op)

    def prepare(self, workload: Workload) -> None:
        conn = self._conn
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except psycopg.Error:
            pass  # not preloaded on this server; telemetry will say so
        for entity in workload.dataset.entities:
            for statement in schema(workload, entity):
                conn.execute(statement)

    def load(self, entity: Entity, records: Sequence[Record]) -> None:
        columns = sql.SQL(", ").join(map(ident, entity.fields))
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(ident(entity.name), columns)
        names = list(entity.fields)
        with self._conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for record in records:
                copy.write_row([record[name] for name in names])

    def finish_load(self, workload: Workload) -> None:
        for entity in workload.dataset.entities:
            self._conn.execute(sql.SQL("VACUUM ANALYZE {}").format(ident(entity.name)))
        try:
            self._conn.execute("SELECT pg_stat_statements_reset()")
        except psycopg.Error:
            pass

    def _edge_columns(self, op: Operation) -> tuple[str, str]:
        """(from, to) columns of a traverse's edge table, as prepare() marked them."""
        assert op.edges is not None
        rows = self._conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped"
            " AND col_description(attrelid, attnum) = %s ORDER BY attnum",
            (ident(op.edges).as_string(self._conn), REF_COMMENT.format(op.entity))).fetchall()
        if len(rows) < 2:
            raise EngineUnavailable(f"postgres: table {op.edges!r} has no two ref columns to {op.entity!r}; "
                                    "load the workload first")
        return rows[0][0], rows[1][0]

    def statement(self, op: Operation, entity: Entity) -> Statement:
        """The SQL one operation runs and how its parameters are built (executors, EXPLAIN, tests)."""
        edges = self._edge_columns(op) if op.kind is OperationKind.TRAVERSE else None
        return build(op, entity, edges)

    def bind(self, op: Operation, entity: Entity) -> Executor:
        statement = self.statement(op, entity)
        query, arguments, result = statement.query.as_string(self._conn), statement.arguments, statement.result
        wire = prepare_wire(self._conn, f"dbarena_{op.name}", query, arguments, result)
        if wire is not None:
            return wire
        cur = self._conn.cursor()

        def execute(key: Any, values: Mapping[str, Any] | None) -> int:
            cur.execute(query, arguments(key, values), prepare=True)
            if result is Result.ROWCOUNT or (result is Result.ANY and cur.description is None):
                return cur.rowcount
            if result is Result.SCALAR:
                row = cur.fetchone()
                return int(row[0]) if row else 0
            return len(cur.fetchall())
        return execute

    def explain(self, op: Operation, entity: Entity, key: Any, values: Mapping[str, Any] | None) -> str | None:
        """EXPLAIN (ANALYZE, BUFFERS) of the plan the benchmark runs with these arguments.

        Reads run as a prepared statement past PostgreSQL's five custom-plan executions, so
        the plan shown is the one the plan cache settled on (often generic, chosen without
        the values). Writes run once, in a transaction rolled back so they change nothing.
        """
        statement = self.statement(op, entity)
        arguments = statement.arguments(key, values)
        if op.kind in WRITES or isinstance(arguments, Mapping):
            conn = self._conn
            with conn.transaction(force_rollback=True), conn.cursor() as cur:
                cur.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + statement.query, arguments, prepare=False)
                return "\n".join(row[0] for row in cur.fetchall())
        return self._explain_prepared(positional(statement.query.as_string(self._conn)), arguments)

    def _explain_prepared(self, query: str, arguments: Sequence[Any]) -> str:
        conn, name = self._conn, "dbarena_explain"
        # EXECUTE cannot take bound parameters: its arguments are rendered as literals client-side
        cur = psycopg.ClientCursor(conn)
        call = f"EXECUTE {name}({', '.join(['%s'] * len(arguments))})" if arguments else f"EXECUTE {name}"
        conn.execute(f"PREPARE {name} AS {query}", prepare=False)
        try:
            for _ in range(PLAN_CACHE_RUNS):
                cur.execute(call, arguments)
                cur.fetchall()
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {call}", arguments)
            plan = [row[0] for row in cur.fetchall()]
            generic = conn.execute("SELECT generic_plans > 0 FROM pg_prepared_statements WHERE name = %s",
                                   (name,), prepare=False).fetchone()
        finally:
            conn.execute(f"DEALLOCATE {name}", prepare=False)
        kind = "generic" if generic and generic[0] else "custom"
        return "\n".join([f"-- prepared statement, execution {PLAN_CACHE_RUNS + 1}: {kind} plan", *plan])

    def server_version(self) -> str:
        return str(self._conn.execute("SHOW server_version").fetchone()[0]).split()[0]  # type: ignore[index]

    def settings(self) -> dict[str, Any]:
        names = ["fsync", "synchronous_commit", "full_page_writes", "wal_level", "shared_buffers",
                 "max_connections", "shared_preload_libraries", "plan_cache_mode"]
        return {name: self._conn.execute(sql.SQL("SHOW {}").format(ident(name))).fetchone()[0]  # type: ignore[index]
                for name in names}

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        from harness.engines.postgres_telemetry import collect

        return collect(self._conn, [e.name for e in workload.dataset.entities])
