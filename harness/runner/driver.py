"""What each operation of the mix is called with: pick the record, build the arguments.

One `OperationDriver` per user per operation. Keys and values come from the dataset's
deterministic generator, so a read names a record that was loaded and a find by email
uses an email that exists, without any shared state between users or processes.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from harness.dataset.generate import RecordFactory, dataset_factories, mix64, vocabulary, zipf_word
from harness.dataset.keys import KeyChooser, chooser_for
from harness.dataset.lengths import length_sampler
from harness.dataset.params import param_drawer
from harness.engines.calls import Change, Pair, Query, Scan, Window
from harness.errors import HarnessBug
from harness.spec.models import (
    AggregateOp,
    FindOp,
    InsertOp,
    NativeOp,
    Operation,
    RangeOp,
    ScanOp,
    SearchOp,
    TextField,
    TraverseOp,
    UpdateOp,
    Workload,
)


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
    """Builds the call argument (see harness.engines.calls) of one operation, for one user."""

    def __init__(self, op: Operation, factory: RecordFactory, space: KeySpace, chooser: KeyChooser,
                 user_slot: int, total_users: int) -> None:
        self.op = op
        self.factory = factory
        self.space = space
        self.chooser = chooser
        self.kind = op.kind
        self._insert_index = itertools.count(space.insert_base + user_slot, total_users)
        self._nonce = itertools.count(user_slot * 1_000_003)
        text = next((factory.entity.fields[f] for f in op.text_fields), None) if isinstance(op, SearchOp) else None
        self._vocabulary = vocabulary(text.vocabulary if isinstance(text, TextField) else 10)
        self.arguments: Callable[[], Any] = self._builder(op)

    def _builder(self, op: Operation) -> Callable[[], Any]:
        """The argument function of the operation's kind, chosen once (no per-call dispatch)."""
        if isinstance(op, InsertOp):
            return self._insert
        if isinstance(op, UpdateOp):
            return self._update_builder(op)
        if isinstance(op, ScanOp):
            length = length_sampler(op.min_length, op.max_length, op.length_distribution,
                                    random.Random(next(self._nonce)))
            return lambda: Scan(self._key(), length())
        if isinstance(op, FindOp):
            return lambda: self._match(self._chosen(), op.match)
        if isinstance(op, (RangeOp, AggregateOp)):
            return lambda: self._window(op)
        if isinstance(op, SearchOp):
            return lambda: Query(self._search_terms(op.terms), self._match(self._chosen(), op.match))
        if isinstance(op, TraverseOp) and op.pattern == "shortest-path":
            return lambda: Pair(self._key(), self._key())
        if isinstance(op, NativeOp):
            if not op.params:
                return lambda: {"key": self._key()}
            params = param_drawer(op.params, random.Random(next(self._nonce)))  # per user: its first nonce
            return lambda: {"key": self._key(), **params()}
        return self._key  # read, delete, k-hop and mutual traversals

    def _update_builder(self, op: UpdateOp) -> Callable[[], Change]:
        """New values for every `set` field, or for one drawn uniformly per call (`write: one`, YCSB's default)."""
        fields, new_values, nonce = op.set, self.factory.new_values, self._nonce
        if op.write == "all" or len(fields) == 1:
            return lambda: Change(self._key(), new_values(fields, next(nonce)))
        pick, count = random.Random(next(nonce)).random, len(fields)
        return lambda: Change(self._key(), new_values((fields[int(pick() * count)],), next(nonce)))

    def _chosen(self) -> int:
        """The record index the key distribution picks among the records that exist."""
        return self.space.record_index(self.chooser.next(self.space.size()))

    def _key(self) -> Any:
        return self.factory.key_of(self._chosen())

    def _match(self, index: int, fields: tuple[str, ...]) -> dict[str, Any]:
        return {field: self.factory.value(field, index) for field in fields}

    def _insert(self) -> dict[str, Any]:
        index = next(self._insert_index)
        space = self.space
        space.inserted_rounds = max(space.inserted_rounds, (index - space.insert_base) // space.total_users + 1)
        return self.factory.record(index)

    def _window(self, op: RangeOp | AggregateOp) -> Window:
        """The window of `op.window` ending at the chosen record's `range_field` (so it holds that record)."""
        index = self._chosen()
        end = self.factory.value(op.range_field, index)
        width = timedelta(seconds=op.window) if isinstance(end, datetime) else op.window
        return Window(self._match(index, op.match), end - width, end)

    def _search_terms(self, count: int) -> tuple[str, ...]:
        words = self._vocabulary
        return tuple(zipf_word(words, mix64(next(self._nonce) * 0x9E37 + n)) for n in range(count))


class OperationMix:
    """Weighted choice of the next operation, then its arguments.

    `only` restricts the mix to some operations (a scenario's), their weights renormalised;
    `next_index` still indexes `drivers`, one per operation of the workload.
    """

    def __init__(self, workload: Workload, user_slot: int, total_users: int, seed: int, insert_offset: int = 0,
                 only: tuple[str, ...] | None = None) -> None:
        rng = random.Random(seed * 7919 + user_slot)
        self._random = rng.random
        spaces = {e.name: KeySpace(e.count, total_users, e.count + insert_offset) for e in workload.dataset.entities}
        factories = dataset_factories(workload)
        self.drivers = [
            OperationDriver(op, factories[op.entity], spaces[op.entity],
                            chooser_for(op, rng, start=user_slot * 997), user_slot, total_users)
            for op in workload.operations
        ]
        chosen = [i for i, op in enumerate(workload.operations) if only is None or op.name in only]
        if not chosen:
            raise HarnessBug(f"no operation of the mix is among {only}")
        total = sum(workload.operations[i].weight for i in chosen)
        self._indexes = chosen
        self._cumulative = list(itertools.accumulate(workload.operations[i].weight / total for i in chosen))
        self._cumulative[-1] = 1.0

    def next_index(self) -> int:
        """Index of the next operation to run (into `drivers`)."""
        return self._indexes[bisect.bisect_right(self._cumulative, self._random())]
