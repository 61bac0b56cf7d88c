"""PostgreSQL adapter (psycopg 3): COPY for loading, server-side prepared statements.

Every statement is prepared on first use (`prepare_threshold=0`) and every result is
fetched, so the timed call is one full round trip.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from harness.engines.base import EngineAdapter, Executor, Record
from harness.errors import EngineUnavailable
from harness.spec.models import (
    BoolField,
    Entity,
    FieldSpec,
    FloatField,
    IntField,
    JsonField,
    Operation,
    OperationKind,
    TagsField,
    TimestampField,
    UuidField,
    Workload,
)

SCAN_LIMIT = 100


def column_type(spec: FieldSpec) -> str:
    if isinstance(spec, IntField):
        return "bigint"
    if isinstance(spec, FloatField):
        return "double precision"
    if isinstance(spec, BoolField):
        return "boolean"
    if isinstance(spec, UuidField):
        return "uuid"
    if isinstance(spec, TimestampField):
        return "timestamptz"
    if isinstance(spec, JsonField):
        return "jsonb"
    if isinstance(spec, TagsField):
        return "text[]"
    return "text"


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


class PostgresAdapter(EngineAdapter):
    name = "postgres"
    client_library = "psycopg"
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset({
        OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.DELETE,
        OperationKind.FIND, OperationKind.SCAN, OperationKind.NATIVE,
    })

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

    def prepare(self, workload: Workload) -> None:
        conn = self._conn
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except psycopg.Error:
            pass  # not preloaded on this server; telemetry will say so
        for entity in workload.dataset.entities:
            table = _ident(entity.name)
            columns = sql.SQL(", ").join(
                sql.SQL("{} {}{}").format(
                    _ident(name), sql.SQL(column_type(spec)),
                    sql.SQL(" PRIMARY KEY") if name == entity.key else sql.SQL(""),
                )
                for name, spec in entity.fields.items()
            )
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(table))
            conn.execute(sql.SQL("CREATE TABLE {} ({})").format(table, columns))
            for number, index in enumerate(entity.indexes):
                conn.execute(sql.SQL("CREATE {}INDEX {} ON {} ({})").format(
                    sql.SQL("UNIQUE ") if index.unique else sql.SQL(""),
                    _ident(f"{entity.name}_idx{number}_{'_'.join(index.fields)}"[:63]),
                    table, sql.SQL(", ").join(map(_ident, index.fields)),
                ))

    def load(self, entity: Entity, records: Sequence[Record]) -> None:
        columns = sql.SQL(", ").join(map(_ident, entity.fields))
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(_ident(entity.name), columns)
        names = list(entity.fields)
        with self._conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for record in records:
                copy.write_row([record[name] for name in names])

    def finish_load(self, workload: Workload) -> None:
        for entity in workload.dataset.entities:
            self._conn.execute(sql.SQL("VACUUM ANALYZE {}").format(_ident(entity.name)))
        try:
            self._conn.execute("SELECT pg_stat_statements_reset()")
        except psycopg.Error:
            pass

    def statement(self, op: Operation, entity: Entity) -> sql.Composable:
        """The SQL one operation runs (also used by EXPLAIN capture and tests)."""
        table, key = _ident(entity.name), _ident(entity.key)
        projection = sql.SQL(", ").join(map(_ident, op.project)) if op.project else sql.SQL("*")
        kind = op.kind
        if kind is OperationKind.READ:
            return sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(projection, table, key)
        if kind is OperationKind.UPDATE:
            assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(_ident(f)) for f in op.set)
            return sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(table, assignments, key)
        if kind is OperationKind.INSERT:
            return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                table, sql.SQL(", ").join(map(_ident, entity.fields)),
                sql.SQL(", ").join(sql.Placeholder() for _ in entity.fields))
        if kind is OperationKind.DELETE:
            return sql.SQL("DELETE FROM {} WHERE {} = %s").format(table, key)
        if kind is OperationKind.FIND:
            conditions = [sql.SQL("{} = %s").format(_ident(f)) for f in (*op.match, *op.filter)]
            query = sql.SQL("SELECT {} FROM {} WHERE {}").format(projection, table, sql.SQL(" AND ").join(conditions))
            if op.sort is not None:
                query += sql.SQL(" ORDER BY {} {}").format(_ident(op.sort.field), sql.SQL(op.sort.order.upper()))
            if op.limit is not None:
                query += sql.SQL(" LIMIT {}").format(sql.Literal(op.limit))
            return query
        if kind is OperationKind.SCAN:
            return sql.SQL("SELECT {} FROM {} WHERE {} >= %s ORDER BY {} LIMIT {}").format(
                projection, table, key, key, sql.Literal(op.limit or SCAN_LIMIT))
        if kind is OperationKind.NATIVE:
            return sql.SQL(op.statements[self.name])  # type: ignore[arg-type]
        raise NotImplementedError(kind)

    def bind(self, op: Operation, entity: Entity) -> Executor:
        query = self.statement(op, entity).as_string(self._conn)
        cur = self._conn.cursor()
        kind = op.kind
        names = list(entity.fields)
        json_fields = {n for n, s in entity.fields.items() if isinstance(s, JsonField)}
        filter_values = list(op.filter.values())

        def adapt(name: str, value: Any) -> Any:
            return Jsonb(json.loads(value)) if name in json_fields and isinstance(value, str) else value

        if kind in (OperationKind.READ, OperationKind.SCAN):
            def read(key: Any, values: Mapping[str, Any] | None) -> int:
                cur.execute(query, (key,), prepare=True)
                return len(cur.fetchall())
            return read
        if kind is OperationKind.UPDATE:
            def update(key: Any, values: Mapping[str, Any] | None) -> int:
                assert values is not None
                cur.execute(query, [*(adapt(f, values[f]) for f in op.set), key], prepare=True)
                return cur.rowcount
            return update
        if kind is OperationKind.INSERT:
            def insert(key: Any, values: Mapping[str, Any] | None) -> int:
                assert values is not None
                cur.execute(query, [adapt(n, values[n]) for n in names], prepare=True)
                return cur.rowcount
            return insert
        if kind is OperationKind.DELETE:
            def delete(key: Any, values: Mapping[str, Any] | None) -> int:
                cur.execute(query, (key,), prepare=True)
                return cur.rowcount
            return delete
        if kind is OperationKind.FIND:
            def find(key: Any, values: Mapping[str, Any] | None) -> int:
                assert values is not None
                cur.execute(query, [*(values[f] for f in op.match), *filter_values], prepare=True)
                return len(cur.fetchall())
            return find

        def native(key: Any, values: Mapping[str, Any] | None) -> int:
            cur.execute(query, {"key": key, **(values or {})}, prepare=True)
            return len(cur.fetchall()) if cur.description else cur.rowcount
        return native

    def server_version(self) -> str:
        return str(self._conn.execute("SHOW server_version").fetchone()[0]).split()[0]  # type: ignore[index]

    def settings(self) -> dict[str, Any]:
        names = ["fsync", "synchronous_commit", "full_page_writes", "wal_level", "shared_buffers",
                 "max_connections", "shared_preload_libraries"]
        return {name: self._conn.execute(sql.SQL("SHOW {}").format(_ident(name))).fetchone()[0]  # type: ignore[index]
                for name in names}

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        from harness.engines.postgres_telemetry import collect

        return collect(self._conn, [e.name for e in workload.dataset.entities])

