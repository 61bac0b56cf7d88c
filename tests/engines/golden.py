"""What the engines' golden-statement tests share: a sample call argument per operation kind, and the check.

Each tests/engines/<engine>/test_statements.py renders what its engine would receive for every
library operation, called with `sample_argument`, and compares the text with its golden file
through `check_golden`; `DBARENA_UPDATE_GOLDEN=1` rewrites the file instead, to review as a diff.

`sample_argument` lives in harness.engines.samples (`dbarena explain` uses it too). The modules
differ in which records they sample and in a few placeholder values; those are the
keyword parameters of `sample_argument`, so every golden file stays what it was.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.engines.samples import Records, new_path, sample_argument

__all__ = ["Records", "check_golden", "new_path", "sample_argument"]


def check_golden(path: Path, text: str, compare: Callable[[str], Any] | None = None, what: str = "statements") -> None:
    """`text` is the golden file at `path`, exactly; with DBARENA_UPDATE_GOLDEN=1 it is written there first.

    `compare` parses both first (json.loads: the same documents), so a change of content fails
    before a change of order or spacing does.
    """
    if os.environ.get("DBARENA_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file: run with DBARENA_UPDATE_GOLDEN=1 to write {path.name}"
    expected = path.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(path), "now"))
    message = f"{what} changed: review, then rewrite with DBARENA_UPDATE_GOLDEN=1\n{diff}"
    if compare is not None:
        assert compare(text) == compare(expected), message
    assert text == expected, message
