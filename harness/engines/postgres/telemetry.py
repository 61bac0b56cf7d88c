"""PostgreSQL server statistics for the run record: statements, cache hits, index use and sizes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg


def _rows(conn: psycopg.Connection[Any], query: str, params: Any = None) -> list[dict[str, Any]]:
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, (float(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, int) else v
                              for v in row))) for row in cur.fetchall()]


# pg_stat_statements' entry key (PostgreSQL 14+: toplevel; before, every entry counts as top-level)
Key = tuple[int, int, int | None, bool]  # userid, dbid, queryid (None: another role's, hidden), toplevel
# every entry of this database; the marker keeps the snapshot's own execution out of the report
_MARKER = "/* dbarena: pg_stat_statements snapshot */"
_STATEMENTS = _MARKER + """
    SELECT userid, dbid, queryid, {toplevel} AS toplevel, left(query, 200) AS query, calls,
           total_exec_time AS total_ms, rows, shared_blks_hit, shared_blks_read
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"""
TOP = 10


@dataclass(frozen=True)
class Statement:
    """One pg_stat_statements entry's cumulative counters (or several hidden ones of a role, summed)."""

    query: str | None  # left(query, 200); "<insufficient privilege>" for another role's; None: text lost
    calls: int
    total_ms: float  # total_exec_time, milliseconds
    rows: int
    shared_blks_hit: int
    shared_blks_read: int


Snapshot = dict[Key, Statement]


def snapshot(conn: psycopg.Connection[Any]) -> Snapshot | None:
    """This database's pg_stat_statements counters now, per (userid, dbid, queryid, toplevel); nothing is reset.

    None when the view is missing (extension not installed or not preloaded) or not readable by the
    role: `collect` then reports the cumulative counters as they stand (or the error).
    """
    try:
        return _statements(conn)
    except psycopg.Error:
        return None


def _statements(conn: psycopg.Connection[Any]) -> Snapshot:
    try:
        cur = conn.execute(_STATEMENTS.format(toplevel="toplevel"), prepare=False)
    except psycopg.errors.UndefinedColumn:  # pg_stat_statements before 1.9 (PostgreSQL 13): no toplevel
        cur = conn.execute(_STATEMENTS.format(toplevel="true"), prepare=False)
    out: Snapshot = {}
    for userid, dbid, queryid, toplevel, query, calls, total_ms, rows, hit, read in cur.fetchall():
        if query is not None and query.startswith(_MARKER):
            continue
        key: Key = (userid, dbid, queryid, toplevel)
        entry = Statement(query, int(calls), float(total_ms), int(rows), int(hit), int(read))
        seen = out.get(key)  # several entries share a key only when their queryid is hidden (NULL)
        out[key] = entry if seen is None else Statement(
            query, seen.calls + entry.calls, seen.total_ms + entry.total_ms, seen.rows + entry.rows,
            seen.shared_blks_hit + entry.shared_blks_hit, seen.shared_blks_read + entry.shared_blks_read)
    return out


def top_statements(before: Snapshot, after: Snapshot, limit: int = TOP) -> list[dict[str, Any]]:
    """The `limit` statements with the most calls between two snapshots, as dicts: query, calls,
    total_ms (ms, 3 decimals), mean_ms (total_ms / calls, 4 decimals), rows, shared_blks_hit, shared_blks_read
    (8 kB blocks).

    Each is after − before; an entry missing from `before` counts from 0, and so does one whose calls went
    down (reset or evicted and created again in between). Entries with no call in between are left out.
    """
    rows: list[dict[str, Any]] = []
    for key, now in after.items():
        then = before.get(key)
        if then is None or now.calls < then.calls:
            then = Statement(now.query, 0, 0.0, 0, 0, 0)
        calls = now.calls - then.calls
        if calls <= 0:
            continue
        total_ms = max(0.0, now.total_ms - then.total_ms)
        rows.append({"query": now.query, "calls": calls, "total_ms": round(total_ms, 3),
                     "mean_ms": round(total_ms / calls, 4), "rows": now.rows - then.rows,
                     "shared_blks_hit": now.shared_blks_hit - then.shared_blks_hit,
                     "shared_blks_read": now.shared_blks_read - then.shared_blks_read})
    rows.sort(key=lambda row: (-row["calls"], -row["total_ms"]))
    return rows[:limit]


def collect(conn: psycopg.Connection[Any], tables: list[str], since: Snapshot | None = None) -> dict[str, Any]:
    """What the connection's role may read of the statistics; what it may not is said in `notes`.

    `top_statements` (see `top_statements`) are the difference from `since`, the snapshot taken before
    the run, or without one the cumulative counters since the server's last pg_stat_statements reset;
    `top_statements_since` says which. dbarena never resets the server's statistics.
    A role without pg_read_all_stats sees other roles' statement texts as "<insufficient
    privilege>" (each such role's statements summed in one row); a section the role may not query
    at all is left out with a note, never an error.
    """
    out: dict[str, Any] = {}
    notes: list[str] = []
    try:
        out["top_statements"] = top_statements(since or {}, _statements(conn))
        out["top_statements_since"] = (
            "difference over the run (snapshot before the measurement; no reset)" if since is not None
            else "cumulative since the server's last pg_stat_statements reset (no snapshot before the run)")
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
