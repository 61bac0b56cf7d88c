"""PostgreSQL adapter (psycopg 3): COPY for loading, server-side prepared statements.

Every statement is prepared on first use (`prepare_threshold=0`) and every result is
fetched, so the timed call is one full round trip. The SQL lives in statements.py (built
once per bind, with no server); most statements then run through libpq directly (wire.py),
the others through a psycopg cursor. The plan cache keeps PostgreSQL's default
(`plan_cache_mode = auto`, recorded in the settings): after five executions a statement may
run a generic plan, as it would in an application that prepares its statements; `explain`
shows whichever plan the cache chose.

Records do not expire (`supports_ttl` stays False). Redis expires keys itself; PostgreSQL
would need an `expires_at` column, filtered reads and a purge job, a different design whose
cost depends on how the purge is scheduled. TTL operations are refused (n/a) rather than
measured as something else.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import psycopg
from psycopg import sql

from harness.dataset.generate import RecordBatch
from harness.engines.base import EngineAdapter, Executor, LockHolder, Record
from harness.engines.postgres.statements import Parameters, Result, build, ident, positional, schema, transaction
from harness.engines.postgres.telemetry import Snapshot, collect, snapshot
from harness.engines.postgres.transactions import bind_transaction, explain_transaction
from harness.engines.postgres.wire import prepare_wire
from harness.errors import UnsupportedOperation
from harness.spec.models import DEFAULT_OP_TIMEOUT_S, Entity, NativeOp, Operation, OperationKind, Workload, timeout_of, ttl_of

# kinds that change data (a native statement may): explained once, inside a rolled-back transaction
WRITES = frozenset({OperationKind.INSERT, OperationKind.UPDATE, OperationKind.DELETE, OperationKind.NATIVE})
PLAN_CACHE_RUNS = 5  # PostgreSQL plans a prepared statement with its values 5 times, then may go generic
SETTINGS = ("fsync", "synchronous_commit", "full_page_writes", "wal_level", "shared_buffers",
            "max_connections", "shared_preload_libraries", "plan_cache_mode")


# the server's FATAL messages for a refused connection: credentials, pg_hba.conf, an unknown database or role
_REFUSALS = ("authentication failed", "does not exist", "pg_hba.conf", "permission denied")


class PostgresAdapter(EngineAdapter[psycopg.Connection[Any]]):
    client_library = "psycopg"
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset(OperationKind)
    supports_nested_set: ClassVar[bool] = True  # jsonb_set on the jsonb column
    native_transactions: ClassVar[bool] = True  # a list of native statements: BEGIN ... COMMIT (transactions.py)
    unreachable_errors: ClassVar[tuple[type[BaseException], ...]] = (psycopg.Error,)
    url_schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")  # or a "host=... dbname=..." string
    url_example: ClassVar[str] = "postgresql://postgres@127.0.0.1:5432/postgres"
    disconnect_errors: ClassVar[tuple[type[BaseException], ...]] = (psycopg.OperationalError, psycopg.InterfaceError)
    # statement_timeout fired (SQLSTATE 57014); the connection stays usable
    timeout_errors: ClassVar[tuple[type[BaseException], ...]] = (psycopg.errors.QueryCanceled,)
    locks_datasets: ClassVar[bool] = True  # a session advisory lock per entity (lock_dataset)
    # One COPY per load call, its own transaction: the commit (a WAL flush) is paid per batch. 1,000-record
    # batches loaded at a third of psql's COPY here; 20,000 within 2x (benchmarks/bulkload.py).
    load_batch: ClassVar[int] = 20_000

    def __init__(self, name: str, url: str, op_timeout_s: float = DEFAULT_OP_TIMEOUT_S) -> None:
        super().__init__(name, url, op_timeout_s)
        self._timeout_ms: int | None = None  # the session's statement_timeout as last SET (None: server default)
        # pg_stat_statements' counters before the measurement (before_measure): telemetry reports the difference
        self._statements_before: Snapshot | None = None

    @classmethod
    def patch_process(cls) -> None:
        """psycopg's wait through a libev watcher when gevent has patched this process (a Locust worker)."""
        from harness.engines.postgres.gevent_wait import install_if_gevent

        install_if_gevent()

    def _check_url(self) -> None:
        if "://" not in self.url and "=" in self.url:  # a libpq "host=... dbname=..." string: libpq checks it
            return
        super()._check_url()

    def refused(self, error: BaseException) -> bool:
        # libpq gives no SQLSTATE for a failed connect; the server's own FATAL line names the refusal (in English
        # unless the server's lc_messages says otherwise: then the generic line, which is still true)
        text = str(error)
        return "FATAL:" in text and any(words in text for words in _REFUSALS)

    def _open(self) -> psycopg.Connection[Any]:
        self._timeout_ms = None
        return psycopg.connect(self.url, autocommit=True, prepare_threshold=0, connect_timeout=10)

    def is_disconnect(self, error: BaseException) -> bool:
        if self.is_timeout(error) and not (self._client is not None and self._client.broken):
            return False  # QueryCanceled is an OperationalError, but the connection is fine
        return super().is_disconnect(error) or (self._client is not None and self._client.broken)

    def _use_timeout(self, seconds: float, conn: psycopg.Connection[Any] | None = None) -> None:
        """The session's statement_timeout for what follows (0: none, for schema and bulk load); SET only on a change.

        `conn`: the connection an executor was bound to (after a reconnect, an old executor's SET fails
        like its statement would: a disconnect, and the runner reconnects and rebinds).
        """
        ms = _millis(seconds)
        if ms != self._timeout_ms:
            (conn or self.client).execute(f"SET statement_timeout = {ms}", prepare=False)
            self._timeout_ms = ms

    def _timed(self, call: Executor, op: Operation) -> Executor:
        """`call` under the operation's statement_timeout (one SET when the previous call had another limit)."""
        seconds, conn = timeout_of(op, self.op_timeout_s), self.client
        ms = _millis(seconds)

        def timed(argument: Any) -> int:
            if self._timeout_ms != ms:
                self._use_timeout(seconds, conn)
            return call(argument)
        return timed

    def unsupported_reason(self, op: Operation, workload: Workload) -> str | None:
        if ttl_of(op) is not None:
            return ("PostgreSQL has no record expiry (ttl_s); an expires_at column would need a purge job "
                    "a TTL store does not run, so it would measure a different design")
        return super().unsupported_reason(op, workload)

    # ---- schema and data ------------------------------------------------------------

    def prepare(self, workload: Workload) -> None:
        self._use_timeout(0)
        conn = self.client
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except psycopg.Error:
            pass  # not preloaded on this server; telemetry will say so
        for entity in workload.dataset.entities:
            for statement in schema(workload, entity):
                conn.execute(statement)

    def load(self, workload: Workload, entity: Entity, records: Sequence[Record]) -> None:
        names = tuple(entity.fields)
        self._copy(entity, names, ([record[name] for name in names] for record in records))

    def load_columns(self, workload: Workload, entity: Entity, batch: RecordBatch) -> None:
        """COPY of the batch's rows as generated (no record dicts: about 2 µs a record less)."""
        self._copy(entity, batch.names, batch.rows())

    def _copy(self, entity: Entity, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """`COPY entity (names) FROM STDIN` of `rows` (values in `names` order), one transaction."""
        columns = sql.SQL(", ").join(map(ident, names))
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(ident(entity.name), columns)
        self._use_timeout(0)
        with self.client.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)

    def finish_load(self, workload: Workload) -> None:
        self._use_timeout(0)
        conn = self.client
        for entity in workload.dataset.entities:
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(ident(entity.name)))

    def before_measure(self, workload: Workload) -> None:
        """Snapshot pg_stat_statements (never reset: the server's statistics are the DBA's); telemetry
        reports the difference. Absent when the view is missing or unreadable."""
        self._use_timeout(0)
        self._statements_before = snapshot(self.client)

    # ---- operations -----------------------------------------------------------------

    def bind(self, op: Operation, workload: Workload) -> Executor:
        reason = self.unsupported_reason(op, workload)
        if reason is not None:
            raise UnsupportedOperation(f"{op.name}: {reason}")
        if isinstance(op, NativeOp) and op.is_transaction("postgres"):
            return self._timed(bind_transaction(self.client, f"dbarena_{op.name}", transaction(op)), op)
        conn, statement = self.client, build(op, workload)
        query, parameters, result = statement.query.as_string(conn), statement.parameters, statement.result
        wire = prepare_wire(conn, f"dbarena_{op.name}", query, parameters, result)
        if wire is not None:
            return self._timed(wire, op)
        cur = conn.cursor()

        def execute(argument: Any) -> int:
            cur.execute(query, parameters(argument), prepare=True)
            if result is Result.ROWCOUNT or (result is Result.ANY and cur.description is None):
                return cur.rowcount
            if result is Result.SCALAR:
                row = cur.fetchone()
                return int(row[0]) if row else 0
            return len(cur.fetchall())
        return self._timed(execute, op)

    def explain(self, op: Operation, workload: Workload, argument: Any) -> str | None:
        """EXPLAIN (ANALYZE, BUFFERS) of the plan the benchmark runs with this argument, within the op's timeout.

        Reads run as a prepared statement past PostgreSQL's five custom-plan executions, so
        the plan shown is the one the plan cache settled on (often generic, chosen without
        the values). Writes run once, in a transaction rolled back so they change nothing.
        All executions together get the operation's timeout (statement_timeout); past it the
        plan is EXPLAIN without ANALYZE (nothing executed), saying so.
        """
        if isinstance(op, NativeOp) and op.is_transaction("postgres"):
            return explain_transaction(self.client, transaction(op), argument, int(timeout_of(op, self.op_timeout_s) * 1000))
        statement = build(op, workload)
        parameters = statement.parameters(argument)
        limit_s = timeout_of(op, self.op_timeout_s)
        try:
            if op.kind in WRITES or isinstance(parameters, Mapping):
                return self._explain_once(statement.query, parameters, limit_s)
            return self._explain_prepared(positional(statement.query.as_string(self.client)), parameters, limit_s)
        except psycopg.errors.QueryCanceled:
            pass
        with self.client.transaction(force_rollback=True), self.client.cursor() as cur:
            cur.execute(f"SET LOCAL statement_timeout = {_millis(limit_s)}", prepare=False)
            cur.execute(sql.SQL("EXPLAIN ") + statement.query, parameters, prepare=False)
            plan = [row[0] for row in cur.fetchall()]
        return "\n".join([f"-- not executed: EXPLAIN ANALYZE outlasted the operation timeout ({limit_s:g} s)", *plan])

    def _explain_once(self, query: sql.Composable, parameters: Any, limit_s: float) -> str:
        conn = self.client
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute(f"SET LOCAL statement_timeout = {_millis(limit_s)}", prepare=False)
            cur.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + query, parameters, prepare=False)
            return "\n".join(row[0] for row in cur.fetchall())

    def _explain_prepared(self, query: str, parameters: Parameters, limit_s: float) -> str:
        conn, name = self.client, "dbarena_explain"
        deadline = time.monotonic() + limit_s
        # EXECUTE cannot take bound parameters: its arguments are rendered as literals client-side
        cur = psycopg.ClientCursor(conn)
        call = f"EXECUTE {name}({', '.join(['%s'] * len(parameters))})" if parameters else f"EXECUTE {name}"
        conn.execute(f"PREPARE {name} AS {query}", prepare=False)
        try:
            for _ in range(PLAN_CACHE_RUNS):
                self._use_timeout(_left(deadline))
                cur.execute(call, parameters)
                cur.fetchall()
            self._use_timeout(_left(deadline))
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {call}", parameters)
            plan = [row[0] for row in cur.fetchall()]
            generic = conn.execute("SELECT generic_plans > 0 FROM pg_prepared_statements WHERE name = %s",
                                   (name,), prepare=False).fetchone()
        finally:
            conn.execute(f"DEALLOCATE {name}", prepare=False)
        kind = "generic" if generic and generic[0] else "custom"
        return "\n".join([f"-- prepared statement, execution {PLAN_CACHE_RUNS + 1}: {kind} plan", *plan])

    # ---- one run per dataset --------------------------------------------------------

    def _lock_acquire(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """pg_try_advisory_lock on a hash of schema.entity, held by this session until released or closed.

        The holder and its expiry (renewed every ttl/3) are written to `dbarena_locks`. The advisory
        lock alone would let a second run in the moment the holder's session ends (a terminated
        backend, a dropped connection) while the holder still runs: so a free advisory lock whose row
        names another holder that has not expired is not taken (that holder's renewal takes it
        again on a new session). A crashed holder's row expires after `ttl_s`; on this host the
        caller replaces it at once (`is_stale`).
        """
        conn = self.client
        self._use_timeout(0)
        lock = "hashtextextended(current_schema() || '.' || %s, 0)"
        taken = conn.execute(f"SELECT pg_try_advisory_lock({lock})", (name,), prepare=False).fetchone()
        if not (taken and taken[0]):
            try:
                row = conn.execute("SELECT holder FROM dbarena_locks WHERE name = %s", (name,), prepare=False).fetchone()
            except psycopg.errors.UndefinedTable:
                row = None
            return LockHolder.model_validate_json(row[0]) if row else True
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS dbarena_locks (name text PRIMARY KEY, holder text NOT NULL, "
                         "expires timestamptz)", prepare=False)
        except psycopg.errors.UniqueViolation:
            pass  # another run created it at the same moment
        conn.execute("ALTER TABLE dbarena_locks ADD COLUMN IF NOT EXISTS expires timestamptz", prepare=False)
        ours = holder.model_dump_json()
        row = conn.execute("SELECT holder FROM dbarena_locks WHERE name = %s AND holder <> %s AND expires > now()",
                           (name, ours), prepare=False).fetchone()
        if row:  # its holder still renews it: only its session ended
            conn.execute(f"SELECT pg_advisory_unlock({lock})", (name,), prepare=False)
            return LockHolder.model_validate_json(row[0])
        conn.execute("INSERT INTO dbarena_locks VALUES (%s, %s, now() + make_interval(secs => %s)) "
                     "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires",
                     (name, ours, ttl_s), prepare=False)
        return None

    def _lock_renew(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """Take lock `name` again, on a new session when the lock's session is gone.

        The advisory lock ends with its session: a terminated backend, a server restart or a dropped
        connection would release it silently, and a second run could then prepare (drop) the data
        under this one. pg_try_advisory_lock is re-entrant for its session, so on a live session this
        only confirms the lock; the session's end still releases every count of it. Returns the run
        that took the lock in between, if one did (the run is then invalid): the one holding it now,
        or the one `dbarena_locks` still names (it held the lock and its session ended without a release).
        """
        try:
            return self._lock_acquire(name, holder, ttl_s)
        except psycopg.OperationalError:  # the session is gone: connect again and take it again
            self.connect()
        try:
            row = self.client.execute("SELECT holder FROM dbarena_locks WHERE name = %s", (name,),
                                      prepare=False).fetchone()
        except psycopg.errors.UndefinedTable:
            row = None
        if row and row[0] != holder.model_dump_json():
            return LockHolder.model_validate_json(row[0])
        return self._lock_acquire(name, holder, ttl_s)

    def _lock_release(self, name: str, holder: LockHolder) -> None:
        conn = self.client
        conn.execute("DELETE FROM dbarena_locks WHERE name = %s AND holder = %s", (name, holder.model_dump_json()),
                     prepare=False)
        conn.execute("SELECT pg_advisory_unlock(hashtextextended(current_schema() || '.' || %s, 0))", (name,),
                     prepare=False)

    # ---- manifest and telemetry -----------------------------------------------------

    def server_version(self) -> str:
        return str(self.client.execute("SHOW server_version").fetchone()[0]).split()[0]  # type: ignore[index]

    def settings(self) -> dict[str, Any]:
        """SETTINGS as the server reports them; those the role may not read are named in a `note`."""
        conn = self.client
        values: dict[str, Any] = {}
        hidden: list[str] = []
        for name in SETTINGS:
            try:
                values[name] = conn.execute(sql.SQL("SHOW {}").format(ident(name))).fetchone()[0]  # type: ignore[index]
            except psycopg.errors.InsufficientPrivilege:
                hidden.append(name)
        if hidden:
            values["note"] = (f"role {conn.info.user} may not read {', '.join(hidden)}; grant it pg_read_all_settings "
                              "(or run as a superuser) to record them")
        return values

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        return collect(self.client, [e.name for e in workload.dataset.entities], since=self._statements_before)

    def answer(self, op: Operation, workload: Workload, argument: Any) -> list[dict[str, Any]] | None:
        """The rows the executor's statement returns (dbarena verify; postgres/answers.py)."""
        from harness.engines.postgres.answers import answer

        return answer(self.client, op, workload, argument)


def _millis(seconds: float) -> int:
    """A statement_timeout value (ms, at least 1) for a limit in seconds; 0 (no limit) for 0 or less."""
    return max(1, round(seconds * 1000)) if seconds > 0 else 0


def _left(deadline: float) -> float:
    """Seconds until `deadline` (time.monotonic), or QueryCanceled when it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise psycopg.errors.QueryCanceled("the plan capture used up the operation timeout")
    return left
