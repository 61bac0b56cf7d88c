"""What an executor is called with: one typed argument per operation kind.

The runner's driver builds the argument, the adapter's executor consumes it; neither side
reads magic keys out of a dict. NamedTuples: built once per call on the hottest path, so they
must cost no more than a tuple.

    kind                          argument
    insert                        Record (field -> value, the key among them)
    read, delete                  the key
    scan                          Scan(key, length)
    traverse k-hop / mutual       the start key
    traverse shortest-path        Pair(source, target)
    update                        Change(key, values)
    find                          Match (field -> value of the `match` fields)
    range, aggregate              Window(match, low, high): `range_field` in [low, high]
    search                        Query(terms, match)
    native                        Params (name -> value; `key` is the chosen key)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

Record = dict[str, Any]
Match = Mapping[str, Any]
Params = Mapping[str, Any]


class Change(NamedTuple):
    """An update: the record's key and the new values of the `set` paths."""

    key: Any
    values: Mapping[str, Any]


class Scan(NamedTuple):
    """A scan: up to `length` records in key order from `key` (the length is drawn per call, YCSB's scan)."""

    key: Any
    length: int


class Window(NamedTuple):
    """A range or aggregate: equality on `match`, and `range_field` between `low` and `high` (inclusive)."""

    match: Match
    low: Any
    high: Any


class Query(NamedTuple):
    """A full-text search: any of `terms`, restricted by equality on `match`."""

    terms: tuple[str, ...]
    match: Match


class Pair(NamedTuple):
    """A shortest-path traversal from `source` to `target` (both node keys)."""

    source: Any
    target: Any


# One operation bound to one connection: argument of its kind -> records touched or returned
# (a path length for shortest-path). The count lets the runner tell a miss from a hit.
Executor = Callable[[Any], int]
