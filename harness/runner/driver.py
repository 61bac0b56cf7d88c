"""What each operation of the mix is called with: pick the record, build the arguments.

One `OperationDriver` per user per operation. Keys and values come from the dataset's
deterministic generator, so a read names a record that was loaded and a find by email
uses an email that exists, without any shared state between users or processes.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from harness.dataset.generate import RecordFactory, dataset_factories, mix64, vocabulary, zipf_word
from harness.dataset.keys import KeyChooser, chooser_for
from harness.spec.models import Operation, OperationKind, TextField, Workload


@dataclass
class KeySpace:
    """Record indexes of one entity as seen by one user: loaded ones plus this run's inserts.

    This run's inserts start at `insert_base`: right after the loaded records when the run
    loaded them, else past anything an earlier run on the same data may have inserted, so
    an insert never collides with a record that already exists.
    """

    loaded: int
    total_users: int
    insert_base: int
    inserted_rounds: int = 0  # every user inserts at the same pace, roughly

    def size(self) -> int:
        return self.loaded + self.inserted_rounds * self.total_users

    def record_index(self, position: int) -> int:
        """The record index behind a position in [0, size())."""
        return position if position < self.loaded else position - self.loaded + self.insert_base


class OperationDriver:
    """Builds (key, values) for one operation, for one user."""

    def __init__(self, op: Operation, factory: RecordFactory, space: KeySpace, chooser: KeyChooser,
                 user_slot: int, total_users: int) -> None:
        self.op = op
        self.factory = factory
        self.space = space
        self.chooser = chooser
        self.kind = op.kind
        self._insert_index = itertools.count(space.insert_base + user_slot, total_users)
        self._nonce = itertools.count(user_slot * 1_000_003)
        text = next((factory.entity.fields[f] for f in op.text_fields), None)
        self._vocabulary = vocabulary(text.vocabulary if isinstance(text, TextField) else 10)

    def arguments(self) -> tuple[Any, Mapping[str, Any] | None]:
        """(key, values): what the adapter's executor for this kind expects.

        find: values of `match` fields of the chosen record; range/aggregate: those plus
        `_from`/`_to` bounds of the window ending at the record's `range_field`; search:
        `_terms`, words drawn with Zipf frequency; traverse/read/update/delete/scan: the key
        (a shortest-path traverse also gets `_to`, the key of another chosen node).
        """
        kind = self.kind
        if kind is OperationKind.INSERT:
            index = next(self._insert_index)
            record = self.factory.record(index)
            self.space.inserted_rounds = max(self.space.inserted_rounds,
                                             (index - self.space.insert_base) // self.space.total_users + 1)
            return record[self.factory.key_field], record
        index = self.space.record_index(self.chooser.next(self.space.size()))
        if kind is OperationKind.SEARCH:
            return None, {"_terms": self._search_terms(), **{f: self.factory.value(f, index) for f in self.op.match}}
        if kind is OperationKind.FIND:
            return None, {field: self.factory.value(field, index) for field in self.op.match}
        if kind in (OperationKind.RANGE, OperationKind.AGGREGATE):
            assert self.op.range_field is not None and self.op.window is not None
            end = self.factory.value(self.op.range_field, index)
            width = timedelta(seconds=self.op.window) if isinstance(end, datetime) else self.op.window
            values = {field: self.factory.value(field, index) for field in self.op.match}
            return None, {**values, "_from": end - width, "_to": end}
        key = self.factory.key_of(index)
        if kind is OperationKind.TRAVERSE and self.op.pattern == "shortest-path":
            return key, {"_to": self.factory.key_of(self.space.record_index(self.chooser.next(self.space.size())))}
        if kind is OperationKind.UPDATE:
            return key, self.factory.new_values(self.op.set, next(self._nonce))
        return key, None

    def _search_terms(self) -> list[str]:
        words = self._vocabulary
        return [zipf_word(words, mix64(next(self._nonce) * 0x9E37 + n)) for n in range(self.op.terms)]


class OperationMix:
    """Weighted choice of the next operation, then its arguments."""

    def __init__(self, workload: Workload, user_slot: int, total_users: int, seed: int, insert_offset: int = 0) -> None:
        rng = random.Random(seed * 7919 + user_slot)
        self._random = rng.random
        spaces = {e.name: KeySpace(e.count, total_users, e.count + insert_offset) for e in workload.dataset.entities}
        factories = dataset_factories(workload)
        self.drivers = [
            OperationDriver(op, factories[op.entity], spaces[op.entity],
                            chooser_for(op, rng, start=user_slot * 997), user_slot, total_users)
            for op in workload.operations
        ]
        total = sum(op.weight for op in workload.operations)
        self._cumulative = list(itertools.accumulate(op.weight / total for op in workload.operations))
        self._cumulative[-1] = 1.0

    def next_index(self) -> int:
        """Index of the next operation to run (into `drivers`)."""
        return bisect.bisect_right(self._cumulative, self._random())
