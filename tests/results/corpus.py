"""A corpus of broken stored files, each with the reason dbarena must give for skipping it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.results.record import SCHEMA_VERSION, RunRecord


def write_corpus(folder: Path, good: RunRecord) -> dict[str, str]:
    """Write one broken file per way a record can be broken into `folder`; returns file name -> expected reason."""
    folder.mkdir(parents=True, exist_ok=True)
    text = good.model_dump_json(indent=1)
    data = json.loads(text)
    files: dict[str, bytes] = {
        "binary.json": b"\x89PNG\r\n\x1a\n\x00\x9c\xff",
        "latin1.json": '{"run_id": "café"}'.encode("latin-1"),
        "array.json": b"[1,2,3]",
        "null.json": b"null",
        "string.json": b'"a run"',
        "number.json": b"42",
        "truncated.json": text[: len(text) // 2].encode(),
        "not-json.json": b"{run_id: nope}",
        "future.json": json.dumps({**data, "schema_version": 99}).encode(),
        "version-zero.json": json.dumps({**data, "schema_version": 0}).encode(),
        "version-text.json": json.dumps({**data, "schema_version": "3"}).encode(),
        "no-version.json": json.dumps({k: v for k, v in data.items() if k != "schema_version"}).encode(),
        "old-and-broken.json": json.dumps({"schema_version": 1, "notes": 5}).encode(),
        "wrong-field.json": json.dumps({**data, "operations": [1, 2]}).encode(),
        "empty.json": b"",
        "blank.json": b" \n\t\n",
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    (folder / "folder.json").mkdir()
    os.mkfifo(folder / "pipe.json")  # would block a reader that opened it
    return {
        "binary.json": "not UTF-8 (byte 0x89 at 0)",
        "latin1.json": "not UTF-8 (byte 0xe9 at 15)",
        "array.json": "a JSON array, not a JSON object (not a dbarena record)",
        "null.json": "JSON null, not a JSON object (not a dbarena record)",
        "string.json": "a JSON string, not a JSON object (not a dbarena record)",
        "number.json": "a JSON number, not a JSON object (not a dbarena record)",
        "truncated.json": "truncated JSON (",
        "not-json.json": "not JSON (Expecting property name enclosed in double quotes at line 1 column 2)",
        "future.json": f"schema version 99 is newer than this dbarena reads ({SCHEMA_VERSION}); upgrade dbarena",
        "version-zero.json": "schema version 0 was never written by dbarena",
        "version-text.json": "schema_version is '3', not a whole number",
        "no-version.json": "no schema_version (not a dbarena run record?)",
        "old-and-broken.json": "schema version 1 record cannot be updated to 2",
        "wrong-field.json": "operations: Input should be a valid dictionary",
        "empty.json": "empty file",
        "blank.json": "empty file",
        "deep.json": "not JSON (nested too deeply)",
        "folder.json": "a directory, not a file",
        "pipe.json": "not a regular file",
    }
