"""Answers made comparable across engines, and the rules that say when two answers agree.

Pure: no engine. An adapter's `answer` gives rows as its driver returns them; here they become
a `Normal` answer, and `differs(op, a, b)` says why two of them disagree (None: they agree).

Normalisation (`canonical`): bytes are decoded; numbers (and strings that are numbers, as
Redis and InfluxDB return them) become floats; dates and RFC 3339 strings become Unix seconds
(naive datetimes are UTC); UUIDs become strings. A record is named by its key (`key_text`:
12 and "12" and 12.0 are the same key).

What must agree, by kind (`differs`):
    read, scan            the keys returned, in order (a scan orders by key)
    find, range (sorted)  the sort field's values in order; the keys, as a set, except those tied
                          with the last row's value when the limit cut the result (which tied rows
                          make the cut is the engine's choice)
    find, range, k-hop,   the keys as a set; when the limit cut the result (no order asked), which
    mutual (unordered)    rows make the cut is the engine's choice: the counts only
    aggregate             the same (group, bucket) cells, each value within FLOAT_REL_TOL /
                          FLOAT_ABS_TOL (bucket starts in Unix seconds)
    search                the same count (min(limit, documents matching any term)); the same
                          keys when fewer than the limit matched; and, for each engine on its own
                          (`stray_hits`), every hit holds one of the terms in its text fields and
                          the `match` / `filter` values. When more than `limit` documents match,
                          WHICH k an engine returns is its relevance formula's choice: PostgreSQL's
                          ts_rank (no IDF), OpenSearch's BM25 over the best field, Neo4j's Lucene
                          BM25 over both fields. Their top-k overlap is reported, not judged
                          (SEARCH_OVERLAP = 0): on product-search at 300 and 2,000 records the
                          top-10 overlap of ts_rank with BM25 was 0-40% (median 20-30%) and of
                          OpenSearch with Neo4j 20-100% (median 70-80%), so any threshold would
                          either fail every correct run or pass a wrong one; the stray-hit check
                          is what catches a search that returns documents it should not.
    shortest-path         the path length (0: no path within `hops`)
and, for every record both answers return (same key), every field both return holds the same
value (`field_value`: JSON text parsed, tags from JSON or comma-separated text, "1"/"0" booleans).
Floats agree within FLOAT_REL_TOL relative or FLOAT_ABS_TOL absolute: the absolute part covers
the millisecond precision of MongoDB and search-engine dates.

`self_check(op, rows, count)` holds each engine to its own timed path: the executor's count
must be an int (a lazy cursor or None is a bug: the work was never materialised) equal to the
number of rows the same statement returns (a shortest path: its length).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from harness.spec.models import (
    AggregateOp,
    BoolField,
    FieldSpec,
    FindOp,
    JsonField,
    Operation,
    RangeOp,
    ReadOp,
    ScanOp,
    SearchOp,
    TagsField,
    TraverseOp,
    Workload,
)

FLOAT_REL_TOL = 1e-6
FLOAT_ABS_TOL = 1e-3  # s for dates: MongoDB and search-engine dates keep milliseconds
SEARCH_OVERLAP = 0.0  # top-k overlap two relevance rankings must reach (reported only: see the docstring)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _seconds(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _text(value: str) -> Any:
    if _NUMBER.match(value):
        return float(value)
    if _DATE.match(value):
        try:
            return _seconds(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    return value


def canonical(value: Any) -> Any:
    """A value as every engine's driver can agree on it (see the module docstring)."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, datetime):
        return _seconds(value)
    if isinstance(value, date):
        return _seconds(datetime(value.year, value.month, value.day))
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), canonical(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(canonical(v) for v in value)
    return str(value)


def key_text(value: Any) -> str:
    """A key as text: 12, 12.0 and "12" are one key."""
    value = canonical(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def close(a: Any, b: Any) -> bool:
    """Equal, floats within the tolerances."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=FLOAT_ABS_TOL)
    return bool(a == b)


@dataclass(frozen=True)
class Normal:
    """One answer made comparable: the keys in order, the sort values, aggregate cells, a path length."""

    keys: tuple[str, ...] = ()
    sort_values: tuple[Any, ...] | None = None  # None: not sorted, or the sort field not returned
    cells: Mapping[tuple[Any, ...], Any] | None = None  # aggregate: (group..., bucket) -> value
    hops: int | None = None
    records: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # key -> field -> value (`field_value`)

    @property
    def count(self) -> int:
        if self.hops is not None:
            return self.hops
        return len(self.cells) if self.cells is not None else len(self.keys)

    def summary(self, limit: int = 5) -> str:
        """A short text of the answer, for the example of a difference."""
        if self.hops is not None:
            return f"path length {self.hops}"
        if self.cells is not None:
            shown = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in list(sorted(self.cells.items(), key=str))[:limit])
            return f"{len(self.cells)} cells [{shown}{', ...' if len(self.cells) > limit else ''}]"
        shown = ", ".join(self.keys[:limit])
        return f"{len(self.keys)} rows [{shown}{', ...' if len(self.keys) > limit else ''}]"


def _row_key(row: Mapping[str, Any], key_field: str) -> str:
    if key_field in row:
        return key_text(row[key_field])
    if "node" in row:
        return key_text(row["node"])
    return str(canonical(dict(row)))  # no key returned: the row's values name it


def normalise(op: Operation, workload: Workload, rows: Sequence[Mapping[str, Any]]) -> Normal:
    """`rows` of an adapter's `answer` to `op`, made comparable."""
    if isinstance(op, TraverseOp) and op.pattern == "shortest-path":
        return Normal(hops=int(canonical(rows[0]["hops"]) or 0) if rows else 0)
    if isinstance(op, AggregateOp):
        cells = {(*(key_text(row.get(f)) for f in op.group_by), round(canonical(row["bucket"]), 3)):
                 canonical(row["value"]) for row in rows}
        return Normal(cells=cells)
    entity = workload.entity(op.entity)
    keys = tuple(_row_key(row, entity.key) for row in rows)
    records = {} if isinstance(op, TraverseOp) else {
        key: {name: field_value(entity.fields[name], value) for name, value in row.items()
              if name in entity.fields and name != entity.key} for key, row in zip(keys, rows, strict=True)}
    sort = op.sort if isinstance(op, (FindOp, RangeOp)) else None
    if sort is not None and all(sort.field in row for row in rows):
        return Normal(keys=keys, sort_values=tuple(canonical(row[sort.field]) for row in rows), records=records)
    return Normal(keys=keys, records=records)


def field_value(spec: FieldSpec, value: Any) -> Any:
    """A record field as every engine can agree on it: JSON text parsed, a tags list from JSON or
    comma-separated text (Redis, InfluxDB), booleans from "1"/"0"/"true"/"false"; then `canonical`."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(spec, JsonField) and isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    elif isinstance(spec, TagsField) and isinstance(value, str):
        value = json.loads(value) if value.startswith("[") else [t for t in value.split(",") if t]
    elif isinstance(spec, BoolField) and isinstance(value, str):
        value = value.lower() in ("1", "true")
    if isinstance(spec, TagsField) and isinstance(value, (list, tuple)):
        return tuple(str(tag) for tag in value)
    return canonical(value)


def limit_of(op: Operation) -> int | None:
    return getattr(op, "limit", None)


def _count_differs(a: Normal, b: Normal) -> str | None:
    return None if a.count == b.count else f"{a.count} vs {b.count} {'cells' if a.cells is not None else 'rows'}"


def _sets_differ(a: Sequence[str], b: Sequence[str]) -> str | None:
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if not only_a and not only_b:
        return None
    return f"keys only in the first: {only_a[:3]}, only in the second: {only_b[:3]}"


def _ordered_differs(op: FindOp | RangeOp, a: Normal, b: Normal) -> str | None:
    if a.sort_values is None or b.sort_values is None:  # the sort field is not returned: keys in order
        return None if a.keys == b.keys else f"keys in another order: {list(a.keys[:3])} vs {list(b.keys[:3])}"
    if not all(close(x, y) for x, y in zip(a.sort_values, b.sort_values, strict=True)):
        return "the sort field's values differ in order"
    cut = limit_of(op) is not None and a.count >= (limit_of(op) or 0)
    last = a.sort_values[-1] if cut and a.sort_values else None

    def settled(normal: Normal) -> list[str]:
        values = normal.sort_values or ()
        return [k for k, v in zip(normal.keys, values, strict=True) if last is None or not close(v, last)]
    return _sets_differ(settled(a), settled(b))


def overlap(op: SearchOp, a: Normal, b: Normal) -> float:
    """|A ∩ B| / k of two top-k answers (1.0 when they return nothing)."""
    limit = max(1, a.count, b.count, limit_of(op) or 0) if a.count or b.count else 1
    return len(set(a.keys) & set(b.keys)) / limit if a.count or b.count else 1.0


def _search_differs(op: SearchOp, a: Normal, b: Normal) -> str | None:
    limit = limit_of(op) or a.count
    if a.count < limit:
        return _sets_differ(a.keys, b.keys)
    shared = overlap(op, a, b)
    return None if shared >= SEARCH_OVERLAP else f"top-{limit} overlap {shared:.0%} < {SEARCH_OVERLAP:.0%}"


_WORD = re.compile(r"\w+")


def stray_hits(op: SearchOp, workload: Workload, rows: Sequence[Mapping[str, Any]], query: Any) -> list[str]:
    """Keys of hits that hold none of the query's terms in their text fields, or another match/filter value.

    A hit whose text fields were not returned (a projection) is not judged.
    """
    key_field, terms = workload.entity(op.entity).key, {term.lower() for term in query.terms}
    wanted = {**{f: query.match[f] for f in op.match}, **op.filter}
    stray = []
    for row in rows:
        texts = [row[f] for f in op.text_fields if f in row]
        words = {w.lower() for text in texts for w in _WORD.findall(str(text or ""))}
        wrong_text = len(texts) == len(op.text_fields) and not words & terms
        wrong_match = any(f in row and not close(canonical(row[f]), canonical(v)) for f, v in wanted.items())
        if wrong_text or wrong_match:
            stray.append(_row_key(row, key_field))
    return stray


def _cells_differ(a: Normal, b: Normal) -> str | None:
    cells_a, cells_b = a.cells or {}, b.cells or {}
    if set(cells_a) != set(cells_b):
        return _sets_differ([str(k) for k in cells_a], [str(k) for k in cells_b])
    off = [k for k in cells_a if not close(cells_a[k], cells_b[k])]
    return None if not off else f"value of {off[0]}: {cells_a[off[0]]} vs {cells_b[off[0]]}"


def differs(op: Operation, a: Normal, b: Normal) -> str | None:
    """Why answers `a` and `b` to the same call of `op` disagree; None when they agree."""
    return _keys_differ(op, a, b) or _values_differ(a, b)


def _values_differ(a: Normal, b: Normal) -> str | None:
    """The first field both answers return for the same record with different values."""
    for key in a.records.keys() & b.records.keys():
        ours, theirs = a.records[key], b.records[key]
        for name in sorted(ours.keys() & theirs.keys()):
            if not close(ours[name], theirs[name]):
                return f"record {key}: {name} is {str(ours[name])[:60]!r} vs {str(theirs[name])[:60]!r}"
    return None


def _keys_differ(op: Operation, a: Normal, b: Normal) -> str | None:
    if (reason := _count_differs(a, b)) is not None:
        return reason
    if isinstance(op, AggregateOp):
        return _cells_differ(a, b)
    if isinstance(op, TraverseOp) and op.pattern == "shortest-path":
        return None  # the lengths are the counts
    if isinstance(op, SearchOp):
        return _search_differs(op, a, b)
    if isinstance(op, (ReadOp, ScanOp)):
        return None if a.keys == b.keys else _sets_differ(a.keys, b.keys) or "keys in another order"
    if isinstance(op, (FindOp, RangeOp)) and op.sort is not None:
        return _ordered_differs(op, a, b)
    limit = limit_of(op)
    if limit is not None and a.count >= limit:
        return None  # cut at the limit with no order asked: which rows is the engine's choice
    return _sets_differ(a.keys, b.keys)


def self_check(normal: Normal, count: Any) -> str | None:
    """Why an executor's returned `count` does not describe its statement's answer; None when it does."""
    if isinstance(count, bool) or not isinstance(count, int):
        return (f"the executor returned {type(count).__name__}, not a count: the result was never "
                "materialised (a lazy cursor?), so the timed call did not do the work")
    if count != normal.count:
        return f"the executor counted {count} but its statement returns {normal.count}"
    return None
