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


def update_to_4(data: Raw) -> Raw:
    """Version 4 adds outcomes (timeouts, not_found, clamped, lag per operation), invalid causes and `stopped_by`.

    A version-3 run counted no timeouts or misses (0), ended at its duration, and gave its reasons
    without causes: each old reason gets the cause "other".
    """
    reasons = tuple(data.get("invalid_reasons") or ())
    return {**data, "invalid_causes": ("other",) * len(reasons), "stopped_by": "duration"}


# version N-1 -> N; add one function per schema change, never edit an old one.
MIGRATIONS: dict[int, Callable[[Raw], Raw]] = {2: update_to_2, 3: update_to_3, 4: update_to_4}


def schema_version(data: Raw) -> int:
    """The record's schema version, or a one-line UserError: missing, not a number, unknown, or newer than this dbarena."""
    version = data.get("schema_version")
    if version is None:
        raise UserError("no schema_version (not a dbarena run record?)")
    if not isinstance(version, int) or isinstance(version, bool):
        raise UserError(f"schema_version is {version!r}, not a whole number (not a dbarena run record?)")
    if version > SCHEMA_VERSION:
        raise UserError(f"schema version {version} is newer than this dbarena reads ({SCHEMA_VERSION}); upgrade dbarena")
    if version < 1:
        raise UserError(f"schema version {version} was never written by dbarena (versions 1 to {SCHEMA_VERSION})")
    return version


def migrate(data: Raw) -> Raw:
    """`data` updated to the current schema; a record too broken to update is a one-line UserError."""
    version = schema_version(data)
    while version < SCHEMA_VERSION:
        try:
            data = MIGRATIONS[version + 1](data)
        except (TypeError, ValueError, AttributeError) as exc:
            raise UserError(f"schema version {version} record cannot be updated to {version + 1} ({exc})") from None
        version += 1
        data["schema_version"] = version
    return data
