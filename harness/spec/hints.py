"""'Did you mean' suggestions for misspelt keys and values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest candidate, or '' when none is close."""
    close = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def shown(value: object, width: int = 60) -> str:
    """`value`'s repr, cut to `width` characters (a message stays one short line)."""
    text = repr(value)
    return text if len(text) <= width else f"{text[:width - 1]}…"
