"""A PostgreSQL role without pg_read_all_settings or pg_read_all_stats: settings and telemetry degrade with a note.

The run's own work is unaffected; the manifest keeps every setting the role can read and
says which it could not (and which grant shows them), telemetry keeps every section the
role can query and notes the rest.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from harness.engines.postgres.adapter import SETTINGS, PostgresAdapter
from harness.engines.registry import create_adapter
from tests.engines.helpers import load_all, workload

pytestmark = pytest.mark.postgres


@pytest.fixture
def weak_url(postgres_url: str) -> Iterator[str]:
    """A URL of a fresh LOGIN role with no predefined roles, working in a schema of its own (tables other
    tests left in public belong to another role: it could not drop them)."""
    role = f"weak_{secrets.token_hex(3)}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"CREATE SCHEMA {role} AUTHORIZATION {role}")
        admin.execute(f"ALTER ROLE {role} SET search_path = {role}")
    parts = urlsplit(postgres_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    yield urlunsplit(parts._replace(netloc=f"{role}@{host}"))
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"DROP OWNED BY {role} CASCADE")
        admin.execute(f"DROP SCHEMA IF EXISTS {role} CASCADE")
        admin.execute(f"DROP ROLE {role}")


def open_adapter(url: str) -> PostgresAdapter:
    adapter = create_adapter("postgres", url)
    adapter.connect()
    assert isinstance(adapter, PostgresAdapter)
    return adapter


def test_settings_keep_what_the_role_can_read(weak_url: str, postgres_url: str) -> None:
    full = open_adapter(postgres_url)
    weak = open_adapter(weak_url)
    try:
        everything, some = full.settings(), weak.settings()
    finally:
        full.close()
        weak.close()
    assert set(SETTINGS) <= set(everything) and "note" not in everything
    hidden = [name for name in SETTINGS if name not in some]
    assert hidden, "the weak role was expected to miss at least one setting (shared_preload_libraries)"
    assert all(some[name] == everything[name] for name in SETTINGS if name in some)
    note = some["note"]
    assert "pg_read_all_settings" in note and all(name in note for name in hidden) and "\n" not in note


def test_telemetry_keeps_what_the_role_can_read(weak_url: str) -> None:
    spec = workload("kv-cache", 200)
    weak = open_adapter(weak_url)
    try:
        load_all(weak, spec)
        telemetry: dict[str, Any] = weak.telemetry(spec)
        weak.prepare(spec)  # leave nothing behind but the empty table, dropped with the role
    finally:
        weak.close()
    assert telemetry["tables"] and telemetry["tables"][0]["table"] == "usertable"
    assert "buffer_cache_hit_ratio" in telemetry
    assert all("\n" not in note for note in telemetry.get("notes", ()))
