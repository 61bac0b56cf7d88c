"""PostgreSQL server statistics for the run record: statements, cache hits, index use and sizes."""

from __future__ import annotations

from typing import Any

import psycopg


def _rows(conn: psycopg.Connection[Any], query: str, params: Any = None) -> list[dict[str, Any]]:
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, (float(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, int) else v
                              for v in row))) for row in cur.fetchall()]


def collect(conn: psycopg.Connection[Any], tables: list[str]) -> dict[str, Any]:
    """What the connection's role may read of the statistics; what it may not is said in `notes`.

    A role without pg_read_all_stats sees other roles' statement texts as "<insufficient
    privilege>"; a section the role may not query at all is left out with a note, never an error.
    """
    out: dict[str, Any] = {}
    notes: list[str] = []
    try:
        out["top_statements"] = _rows(conn, """
            SELECT left(query, 200) AS query, calls, round(total_exec_time::numeric, 3) AS total_ms,
                   round(mean_exec_time::numeric, 4) AS mean_ms, rows, shared_blks_hit, shared_blks_read
            FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY calls DESC LIMIT 10""")
        if any(row["query"] == "<insufficient privilege>" for row in out["top_statements"]):
            notes.append(f"role {conn.info.user} sees only its own statements' text; grant it pg_read_all_stats "
                         "to see all")
    except psycopg.Error as exc:
        out["top_statements_error"] = str(exc).strip().splitlines()[0]
    for name, section in (("buffer_cache_hit_ratio", _hit_ratio), ("tables", _tables), ("indexes", _indexes)):
        try:
            out[name] = section(conn, tables)
        except psycopg.errors.InsufficientPrivilege as exc:
            notes.append(f"{name}: not readable by role {conn.info.user} ({str(exc).strip().splitlines()[0]})")
    if notes:
        out["notes"] = notes
    return out


def _hit_ratio(conn: psycopg.Connection[Any], tables: list[str]) -> float | None:
    hit = conn.execute("""
        SELECT sum(blks_hit)::float / nullif(sum(blks_hit) + sum(blks_read), 0)
        FROM pg_stat_database WHERE datname = current_database()""").fetchone()
    return round(hit[0], 5) if hit and hit[0] is not None else None


def _tables(conn: psycopg.Connection[Any], tables: list[str]) -> list[dict[str, Any]]:
    return _rows(conn, """
        SELECT relname AS table, seq_scan, idx_scan, n_tup_ins, n_tup_upd, n_tup_del, n_live_tup,
               pg_total_relation_size(relid) AS total_bytes
        FROM pg_stat_user_tables WHERE relname = ANY(%s) ORDER BY relname""", (tables,))


def _indexes(conn: psycopg.Connection[Any], tables: list[str]) -> list[dict[str, Any]]:
    return _rows(conn, """
        SELECT relname AS table, indexrelname AS index, idx_scan, idx_tup_read,
               pg_relation_size(indexrelid) AS bytes
        FROM pg_stat_user_indexes WHERE relname = ANY(%s) ORDER BY relname, indexrelname""", (tables,))
