"""What each operation of the mix is called with: pick the record, build the arguments.

One `OperationDriver` per user per operation. Keys and values come from the dataset's
deterministic generator, so a read names a record that was loaded and a find by email
uses an email that exists. The only state shared is within a process: its `KeySpace`s,
which hold the inserts the engine acknowledged (the user loop calls `acknowledge()` after
each successful call); nothing is shared between processes or hosts, and no call names a
record whose insert was not acknowledged.
"""

from __future__ import annotations

import bisect
import itertools
import random
from array import array
from collections.abc import Callable
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
    OperationKind,
    RangeOp,
    ScanOp,
    SearchOp,
    TextField,
    TraverseOp,
    UpdateOp,
    Workload,
)
from harness.spec.suite import LoadProfile


class KeySpace:
    """Record indexes of one entity that one process may name: the loaded ones, then its acknowledged inserts.

    Shared by the users (greenlets) of one process, one per entity (`key_spaces`). A position
    in [0, size()) is a loaded record below `loaded`, above it one of this process's inserts
    the engine acknowledged, oldest first, so the highest position is the newest record
    (`latest`). An insert becomes nameable only when `acknowledge` is called for it, i.e. after
    its executor returned without error: YCSB's AcknowledgedCounterGenerator semantics (YCSB
    acknowledges in a `finally`, failed inserts included; here a failed insert is never named).
    Records other processes insert are never named, so no message between processes or hosts
    is needed (as in YCSB, whose client processes each keep their own counter).

    Inserts: the process owns the run's user slots [first_slot, first_slot + users); its k-th
    insert (k counted over all its users) is record index
    `insert_base + (k // users) * total_users + first_slot + k % users`, so no two users,
    processes or hosts ever insert the same record. `insert_base` is right after the loaded
    records, or (a run on data an earlier run grew) past anything that run may have inserted.

    Deletes take one of this process's own acknowledged inserts out of the nameable set
    before the call is issued (`take`), so a later read or update of this process never names
    a record it deleted, and loaded records, which every process names, are never deleted.
    Memory: 8 bytes per acknowledged insert still nameable.
    """

    __slots__ = ("_inserts", "first", "first_slot", "insert_base", "live", "loaded", "total_users", "users")

    def __init__(self, loaded: int, insert_base: int, first_slot: int = 0, users: int = 1, total_users: int = 1,
                 first: int = 0) -> None:
        if first_slot < 0 or users < 0 or first_slot + users > total_users:
            raise HarnessBug(f"user slots {first_slot}..{first_slot + users - 1} outside a run of {total_users} users")
        self.loaded = loaded
        self.first = first  # record index of the first loaded record (insertstart; positions below `loaded` add it)
        self.insert_base = insert_base
        self.first_slot = first_slot
        self.users = users
        self.total_users = total_users
        self.live = array("q")  # record indexes of acknowledged inserts still nameable, in acknowledgement order
        self._inserts = 0  # inserts this process has issued (acknowledged or not)

    def size(self) -> int:
        """Records that may be named: loaded + acknowledged inserts not deleted."""
        return self.loaded + len(self.live)

    def record_index(self, position: int) -> int:
        """The record index behind a position in [0, size())."""
        return self.first + position if position < self.loaded else self.live[position - self.loaded]

    def next_insert(self) -> int:
        """The record index of this process's next insert (never issued before by any process)."""
        k = self._inserts
        self._inserts = k + 1
        rounds, slot = divmod(k, self.users)
        return self.insert_base + rounds * self.total_users + self.first_slot + slot

    def acknowledge(self, index: int) -> None:
        """The engine acknowledged the insert of record `index`: it becomes nameable (the newest)."""
        self.live.append(index)

    def take(self, nth: int) -> int:
        """Remove the `nth` (0-based) nameable insert and return its record index (for a delete).

        O(1): the newest insert moves into its place, so `latest` order is kept except for it.
        IndexError when there is no such insert.
        """
        live = self.live
        index = live[nth]
        last = live.pop()
        if nth < len(live):
            live[nth] = last
        return index


def key_spaces(workload: Workload, first_slot: int = 0, users: int = 1, total_users: int = 1,
               insert_offset: int = 0, load: LoadProfile | None = None) -> dict[str, KeySpace]:
    """One KeySpace per entity for a process whose users hold slots [first_slot, first_slot + users).

    Build it once per process and pass it to every user's OperationMix (`spaces=`), so that what
    one user inserted and the engine acknowledged can be named by the others.
    """
    ranges = {e.name: load.insert_range(e.count) if load is not None else (0, e.count)
              for e in workload.dataset.entities}  # the loaded records: insertstart / insertcount
    return {e.name: KeySpace(ranges[e.name][1] - ranges[e.name][0], e.count + insert_offset, first_slot, users,
                             total_users, first=ranges[e.name][0])
            for e in workload.dataset.entities}


def _nothing() -> None:
    """`acknowledge` of a driver whose calls create nothing."""


class OperationDriver:
    """Builds the call argument (see harness.engines.calls) of one operation, for one user.

    Contract with the user loop: `arguments()` gives the next call's argument; after the
    executor ran that argument and returned without error, call `acknowledge()` once (before
    this driver's next `arguments()`). For an insert it makes the record nameable by every
    operation of the process; for other kinds it does nothing (cheap: call it after every
    successful call). A call that failed, timed out or was never issued is not acknowledged,
    so its record is never named.
    """

    def __init__(self, op: Operation, factory: RecordFactory, space: KeySpace, chooser: KeyChooser,
                 user_slot: int) -> None:
        self.op = op
        self.factory = factory
        self.space = space
        self.chooser = chooser
        self._next = chooser.next
        self.kind = op.kind
        self._pending = -1  # record index of the last insert built and not yet acknowledged
        self._nonce = itertools.count(user_slot * 1_000_003)
        text = next((factory.entity.fields[f] for f in op.text_fields), None) if isinstance(op, SearchOp) else None
        self._vocabulary = vocabulary(text.vocabulary if isinstance(text, TextField) else 10)
        self.arguments: Callable[[], Any] = self._builder(op)
        self.acknowledge: Callable[[], None] = self._acknowledge_insert if isinstance(op, InsertOp) else _nothing

    def _builder(self, op: Operation) -> Callable[[], Any]:
        """The argument function of the operation's kind, chosen once (no per-call dispatch)."""
        if isinstance(op, InsertOp):
            return self._insert
        if op.kind is OperationKind.DELETE:
            return self._delete
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
        """The record index the key distribution picks among the records that may be named."""
        space = self.space
        live, loaded = space.live, space.loaded
        position = self._next(loaded + len(live))
        return space.first + position if position < loaded else live[position - loaded]

    def _key(self) -> Any:
        return self.factory.key_of(self._chosen())

    def _delete(self) -> Any:
        """One of the process's own acknowledged inserts, taken out of the nameable set before the call.

        With none (only `explain_plans` gets here: the mix never draws a delete then), a loaded record.
        """
        live = self.space.live
        if not live:
            return self._key()
        return self.factory.key_of(self.space.take(self._next(len(live))))

    def _match(self, index: int, fields: tuple[str, ...]) -> dict[str, Any]:
        return {field: self.factory.value(field, index) for field in fields}

    def _insert(self) -> dict[str, Any]:
        index = self._pending = self.space.next_insert()
        return self.factory.record(index)

    def _acknowledge_insert(self) -> None:
        if self._pending >= 0:
            self.space.live.append(self._pending)
            self._pending = -1

    def _window(self, op: RangeOp | AggregateOp) -> Window:
        """The window of `op.window` ending at the chosen record's `range_field` (so it holds that record)."""
        index = self._chosen()
        end = self.factory.value(op.range_field, index)
        width = timedelta(seconds=op.window) if isinstance(end, datetime) else op.window
        return Window(self._match(index, op.match), end - width, end)

    def _search_terms(self, count: int) -> tuple[str, ...]:
        words = self._vocabulary
        return tuple(zipf_word(words, mix64(next(self._nonce) * 0x9E37 + n)) for n in range(count))


MAX_REDRAWS = 64  # draws in a row that may fall on deletes with nothing to delete


def capacity(op: Operation, space: KeySpace, inserting: bool) -> int | None:
    """The item space an operation's key distribution spreads its popularity over (harness.dataset.keys).

    The loaded records, plus as many inserts of this process again when the workload inserts into
    the entity (`inserting`): the hot set stays put until the process has inserted as many records
    as were loaded (then the space doubles, once); positions not inserted yet are redrawn.
    A delete draws among the process's own inserts only: its space follows their number (None),
    as does an insert's into an entity loaded empty (the spec lets only inserts use one).
    """
    if op.kind is OperationKind.DELETE or not space.loaded:
        return None
    return 2 * space.loaded if inserting else space.loaded


class OperationMix:
    """Weighted choice of the next operation, then its arguments.

    `only` restricts the mix to some operations (a scenario's), their weights renormalised;
    `next_index` still indexes `drivers`, one per operation of the workload. `spaces` are the
    process's key spaces (`key_spaces`, shared by its users); without them the user is a
    process of its own (slot `user_slot` of `total_users`). A delete is drawn only when the
    process has an acknowledged insert of its entity to delete; until then the draw is
    repeated (so a mix that deletes must insert into the same entity: `check_deletes`).
    """

    def __init__(self, workload: Workload, user_slot: int, total_users: int, seed: int, insert_offset: int = 0,
                 only: tuple[str, ...] | None = None, spaces: dict[str, KeySpace] | None = None) -> None:
        rng = random.Random(seed * 7919 + user_slot)
        self._random = rng.random
        if spaces is None:
            spaces = key_spaces(workload, user_slot, 1, total_users, insert_offset)
        factories = dataset_factories(workload)
        inserting = {op.entity for op in workload.operations if op.kind is OperationKind.INSERT}
        self.drivers = [
            OperationDriver(op, factories[op.entity], spaces[op.entity],
                            chooser_for(op, rng, start=user_slot * 997,
                                        capacity=capacity(op, spaces[op.entity], op.entity in inserting)),
                            user_slot)
            for op in workload.operations
        ]
        chosen = [i for i, op in enumerate(workload.operations) if only is None or op.name in only]
        if not chosen:
            raise HarnessBug(f"no operation of the mix is among {only}")
        total = sum(workload.operations[i].weight for i in chosen)
        self._indexes = chosen
        self._cumulative = list(itertools.accumulate(workload.operations[i].weight / total for i in chosen))
        self._cumulative[-1] = 1.0
        self._deleting: list[array[int] | None] = [  # per operation: the inserts a delete takes from, or None
            spaces[op.entity].live if op.kind is OperationKind.DELETE else None for op in workload.operations]
        others = [i for i in chosen if self._deleting[i] is None]
        if not others:
            raise HarnessBug(f"a mix of deletes only ({only}) has nothing to delete")
        self._instead = others[0]
        self.next_index: Callable[[], int] = \
            self._next_index if len(others) == len(chosen) else self._next_index_deleting
        if len(chosen) == 1:  # one operation: no draw (the hot loop of a single-operation mix)
            only_index = chosen[0]
            self.next_index = lambda: only_index

    def _next_index(self) -> int:
        """Index of the next operation to run (into `drivers`)."""
        return self._indexes[bisect.bisect_right(self._cumulative, self._random())]

    def _next_index_deleting(self) -> int:
        """As `_next_index`, drawn again while it falls on a delete with nothing of the process to delete."""
        for _ in range(MAX_REDRAWS):
            index = self._indexes[bisect.bisect_right(self._cumulative, self._random())]
            live = self._deleting[index]
            if live is None or live:
                return index
        return self._instead


def check_deletes(workload: Workload, mixes: dict[str, tuple[str, ...] | None]) -> list[str]:
    """Problems (one line each) of mixes that delete from an entity they never insert into.

    A delete only removes a record its own process inserted during the run (see KeySpace), so
    a mix (`mixes`: label -> operation names, None for all) needs an insert into the entity.
    """
    problems = []
    for label, names in mixes.items():
        ops = [op for op in workload.operations if names is None or op.name in names]
        inserted = {op.entity for op in ops if op.kind is OperationKind.INSERT}
        for op in ops:
            if op.kind is OperationKind.DELETE and op.entity not in inserted:
                problems.append(f"{label}: delete {op.name!r} needs an insert into {op.entity!r} in the same mix "
                                "(deletes remove only records the run inserted, so that no read of a loaded "
                                "record misses)")
    return problems
