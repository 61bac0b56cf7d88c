"""Migrations of older run records to the current schema (`update_to_N`, in order)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.errors import UserError
from harness.results.record import SCHEMA_VERSION

Raw = dict[str, Any]



def update_to_2(data: Raw) -> Raw:
    """Version 2 adds `interrupted`; version 1 said so only in a note."""
    notes = data.get("notes") or ()
    return {**data, "interrupted": any(str(note).startswith("interrupted by the user") for note in notes)}


def update_to_3(data: Raw) -> Raw:
    """Version 3 adds load shapes, scenarios and workers (empty: a version-2 run had none of them)."""
    return {**data, "stages": (), "scenarios": (), "workers": ()}


# version N-1 -> N; add one function per schema change, never edit an old one.
MIGRATIONS: dict[int, Callable[[Raw], Raw]] = {2: update_to_2, 3: update_to_3}


def migrate(data: Raw) -> Raw:
    version = data.get("schema_version")
    if not isinstance(version, int):
        raise UserError("run record has no schema_version")
    if version > SCHEMA_VERSION:
        raise UserError(f"run record schema {version} is newer than this dbarena reads ({SCHEMA_VERSION}); upgrade dbarena")
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version + 1](data)
        version += 1
        data["schema_version"] = version
    return data
