"""Records generated deterministically from (seed, entity, record index).

Every field value is a pure function of the seed, the entity, the field and the record's
index, so any process can regenerate record i (or just its email) without the others —
that is how a `find` by email or a `read` by key names an existing record without shared
state. Unique fields embed the index, so they stay unique at any scale.
"""

from __future__ import annotations

import bisect
import json
import string
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from itertools import repeat
from typing import Any

import numpy as np

from harness.dataset.lengths import hashed_length, hashed_lengths
from harness.dataset.zipf import Scramble, ZipfSampler
from harness.spec.models import (
    BoolField,
    ChoiceField,
    EmailField,
    Entity,
    FieldSpec,
    FloatField,
    IntField,
    JsonField,
    RefField,
    StringField,
    TagsField,
    TextField,
    TimestampField,
    UsernameField,
    UuidField,
    Workload,
)

MASK64 = (1 << 64) - 1
Record = dict[str, Any]


@dataclass(frozen=True)
class RecordBatch:
    """Consecutive records of one entity as columns: `columns[i]` holds field `names[i]` of every record.

    What the bulk load generates (`RecordFactory.columns`); an engine whose bulk path takes rows or
    columns (COPY, RESP) reads them as they are, the others take `records()`.
    """

    names: tuple[str, ...]
    columns: tuple[Sequence[Any], ...]

    @classmethod
    def of(cls, records: Sequence[Mapping[str, Any]]) -> RecordBatch | None:
        """`records` as columns when they share one field order (as generated records do); else None."""
        if not records:
            return None
        names = tuple(records[0])
        if any(tuple(record) != names for record in records):
            return None
        return cls(names, tuple(zip(*(record.values() for record in records))))

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Each record's values in `names` order."""
        return zip(*self.columns)

    def records(self) -> list[Record]:
        """Each record as a dict (field -> value), equal to `RecordFactory.record` of its index."""
        return list(map(dict, map(zip, repeat(self.names), self.rows())))  # a third faster than a comprehension


def mix64(value: int) -> int:
    """splitmix64 finaliser: a cheap, well-distributed hash of a 64-bit integer."""
    value = (value + 0x9E3779B97F4A7C15) & MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)


def salt_of(*parts: object) -> int:
    return zlib.crc32("\x1f".join(map(str, parts)).encode()) * 0x100000001B3 & MASK64


@lru_cache(maxsize=1)
def _char_pool() -> str:
    """A fixed pseudo-random text; strings are slices of it (cheap and deterministic)."""
    alphabet = string.ascii_letters + string.digits
    state = 12345
    chars = []
    for _ in range(1 << 16):
        state = mix64(state)
        chars.append(alphabet[state % len(alphabet)])
    return "".join(chars)


@lru_cache(maxsize=8)
def vocabulary(size: int) -> tuple[str, ...]:
    """`size` pronounceable pseudo-words; word rank r is used with Zipf frequency ~1/r."""
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
    words: list[str] = []
    state = 777
    seen: set[str] = set()
    while len(words) < size:
        state = mix64(state)
        syllables = 1 + state % 3
        word = ""
        s = state
        for _ in range(syllables + 1):
            word += consonants[s % len(consonants)] + vowels[(s >> 5) % len(vowels)]
            s >>= 9
        if word not in seen:
            seen.add(word)
            words.append(word)
    return tuple(words)


@lru_cache(maxsize=64)
def zipf_sampler(size: int, exponent: float = 1.0) -> ZipfSampler:
    """The O(1)-setup rejection-inversion sampler of ranks [0, size) (harness.dataset.zipf)."""
    return ZipfSampler(size, exponent)


def zipf_word(words: tuple[str, ...], h: int) -> str:
    """A word drawn with Zipf frequency (rank r with P ∝ 1/(r + 1)), a pure function of a 64-bit hash `h`."""
    return words[zipf_sampler(len(words)).rank_of_hash(h)]


ValueFn = Callable[[int], Any]


def _int(spec: IntField, salt: int) -> ValueFn:
    if spec.sequence:
        return lambda i: spec.min + i
    span = spec.max - spec.min + 1
    return lambda i: spec.min + mix64(salt ^ i) % span


def _float(spec: FloatField, salt: int) -> ValueFn:
    span = spec.max - spec.min
    return lambda i: spec.min + span * ((mix64(salt ^ i) >> 11) / float(1 << 53))


def _bool(spec: BoolField, salt: int) -> ValueFn:
    threshold = int(spec.true_ratio * 10_000)
    return lambda i: mix64(salt ^ i) % 10_000 < threshold


def _uuid(_: UuidField, salt: int) -> ValueFn:
    def make(i: int) -> str:
        high, low = mix64(salt ^ i), mix64((salt ^ i) + 1)
        raw = (high << 64 | low) & ~(0xF000 << 64) | (0x4000 << 64)  # version 4
        raw = raw & ~(0xC000 << 48) | (0x8000 << 48)  # RFC 4122 variant
        return str(uuid.UUID(int=raw))

    return make


LENGTH_SALT = 0x5BD1E995  # a string's length hashes (salt ^ index) with this, apart from its characters


def _string(spec: StringField, salt: int) -> ValueFn:
    if spec.unique:
        return lambda i: f"{spec.prefix}{mix64(salt ^ i):020d}"
    if spec.length_distribution != "constant":
        return _varying_string(spec, salt)
    pool = _char_pool()
    room = len(pool) - spec.length
    if room <= 0:
        return lambda i: (spec.prefix + (pool * (spec.length // len(pool) + 1)))[: spec.length]

    def make(i: int) -> str:
        start = mix64(salt ^ i) % room
        return spec.prefix + pool[start : start + spec.length]

    return make


def _varying_string(spec: StringField, salt: int) -> ValueFn:
    """Strings whose length is drawn per record (YCSB fieldlengthdistribution), from a hash of the index."""
    pool, length_of = _char_pool(), hashed_length(spec.min_length, spec.length, spec.length_distribution)
    tiled = pool * (spec.length // len(pool) + 2)
    room = len(pool)

    def make(i: int) -> str:
        start = mix64(salt ^ i) % room
        return spec.prefix + tiled[start : start + length_of(mix64(salt ^ i ^ LENGTH_SALT))]

    return make


def _email(spec: EmailField, salt: int) -> ValueFn:
    words = vocabulary(2000)
    return lambda i: f"{words[mix64(salt ^ i) % len(words)]}.{i}@{spec.domains[i % len(spec.domains)]}"


def _username(_: UsernameField, salt: int) -> ValueFn:
    words = vocabulary(2000)
    return lambda i: f"{words[mix64(salt ^ i) % len(words)]}_{i}"


def _text(spec: TextField, salt: int) -> ValueFn:
    words = vocabulary(spec.vocabulary)
    span = spec.max_words - spec.min_words + 1

    def make(i: int) -> str:
        h = mix64(salt ^ i)
        n = spec.min_words + h % span
        out = []
        for _ in range(n):
            h = mix64(h)
            out.append(zipf_word(words, h))
        return " ".join(out)

    return make


def _timestamp(spec: TimestampField, salt: int) -> ValueFn:
    start = datetime.fromisoformat(spec.start.replace("Z", "+00:00"))
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    if spec.step_s is not None:
        step, every = spec.step_s, spec.step_every
        return lambda i: start + timedelta(seconds=(i // every) * step)
    return lambda i: start + timedelta(seconds=mix64(salt ^ i) % spec.spread_s)


def _choice(spec: ChoiceField, salt: int) -> ValueFn:
    if spec.cycle:
        return lambda i: spec.values[i % len(spec.values)]
    if spec.weights is not None:
        bounds, last = choice_bounds(spec.weights), len(spec.values) - 1
        return lambda i: spec.values[min(bisect.bisect_right(bounds, unit_of(mix64(salt ^ i))), last)]
    return lambda i: spec.values[mix64(salt ^ i) % len(spec.values)]


def unit_of(hashed: int) -> float:
    """A 64-bit hash as a number in [0, 1): its top 53 bits over 2**53."""
    return (hashed >> 11) / float(1 << 53)


def choice_bounds(weights: tuple[float, ...]) -> list[float]:
    """The cumulative share of each weighted choice value but the last: value k is drawn for a unit
    number u in [bounds[k-1], bounds[k]) (inverse-CDF sampling over the normalised weights)."""
    total = sum(weights)
    running, bounds = 0.0, []
    for weight in weights[:-1]:
        running += weight
        bounds.append(running / total)
    return bounds


def _json(spec: JsonField, salt: int) -> ValueFn:
    words = vocabulary(500)

    def make(i: int) -> str:
        h = mix64(salt ^ i)
        doc: dict[str, Any] = {}
        for k in range(spec.keys):
            h = mix64(h)
            doc[f"k{k}"] = words[h % len(words)] if k % 2 == 0 else h % 1000
        return json.dumps(doc, separators=(",", ":"))

    return make


def _tags(spec: TagsField, salt: int) -> ValueFn:
    words = vocabulary(spec.vocabulary)
    span = spec.max_tags - spec.min_tags + 1

    def make(i: int) -> list[str]:
        h = mix64(salt ^ i)
        out: list[str] = []
        for _ in range(spec.min_tags + h % span):
            h = mix64(h)
            tag = zipf_word(words, h)
            if tag not in out:
                out.append(tag)
        return out

    return make


_BUILDERS: dict[type, Callable[[Any, int], ValueFn]] = {
    IntField: _int,
    FloatField: _float,
    BoolField: _bool,
    UuidField: _uuid,
    StringField: _string,
    EmailField: _email,
    UsernameField: _username,
    TextField: _text,
    TimestampField: _timestamp,
    ChoiceField: _choice,
    JsonField: _json,
    TagsField: _tags,
}


def value_function(spec: FieldSpec, salt: int) -> ValueFn:
    return _BUILDERS[type(spec)](spec, salt)


class ReferenceTarget:
    """The referenced entity of a `ref` field: its size and how to name record i."""

    def __init__(self, count: int, key_of: ValueFn) -> None:
        self.count = count
        self.key_of = key_of


def _ref(spec: RefField, salt: int, target: ReferenceTarget) -> ValueFn:
    """Power-law references: a zipfian rank per record (from its hash), scrambled over the target's keys.

    Rank r of the target's `count` records is referenced with P ∝ (r + 1)^-zipf_constant
    (any constant > 0, rejection-inversion), and ranks map to records by a fixed bijection
    keyed by the field, so every target record has exactly one rank.
    """
    if spec.distribution == "uniform":
        return lambda i: target.key_of(mix64(salt ^ i) % target.count)
    zipf, scramble = zipf_sampler(target.count, spec.zipf_constant), Scramble(target.count, key=salt)
    return lambda i: target.key_of(scramble(zipf.rank_of_hash(mix64(salt ^ i))))


class RecordFactory:
    """Regenerates any record (or one field of it) of an entity from its index.

    `targets` resolves `ref` fields: entity name -> the referenced entity's size and keys.
    """

    def __init__(self, entity: Entity, seed: int, targets: dict[str, ReferenceTarget] | None = None) -> None:
        self.entity = entity
        self.key_field = entity.key

        def build(name: str, spec: FieldSpec, *salt_parts: object) -> ValueFn:
            salt = salt_of(seed, entity.name, name, *salt_parts)
            if isinstance(spec, RefField):
                if not targets or spec.entity not in targets:
                    raise ValueError(f"{entity.name}.{name} refers to {spec.entity}; build it with dataset_factories()")
                return _ref(spec, salt, targets[spec.entity])
            return value_function(spec, salt)

        self._fns = {name: build(name, spec) for name, spec in entity.fields.items()}
        self._columns = {name: column_function(spec, salt_of(seed, entity.name, name))
                         for name, spec in entity.fields.items() if not isinstance(spec, RefField)}
        self._update_fns = {name: build(name, spec, "update") for name, spec in entity.fields.items()}
        self._now_fields = {
            name for name, spec in entity.fields.items() if isinstance(spec, TimestampField) and spec.now
        }
        self.key_of: ValueFn = self._fns[entity.key]

    def record(self, index: int) -> Record:
        return {name: fn(index) for name, fn in self._fns.items()}

    def value(self, field: str, index: int) -> Any:
        return self._fns[field](index)

    def new_values(self, fields: tuple[str, ...], nonce: int) -> Record:
        """Fresh values for an update; `nonce` varies them between updates.

        A nested path ("attributes.color") gets a word: the new value of that one key.
        """
        out: Record = {}
        for name in fields:
            if "." in name:
                words = vocabulary(500)
                out[name] = words[mix64(nonce ^ salt_of(name)) % len(words)]
            elif name in self._now_fields:
                out[name] = datetime.now(timezone.utc)
            else:
                out[name] = self._update_fns[name](nonce)
        return out

    def records(self, start: int, stop: int) -> Iterator[Record]:
        for index in range(start, stop):
            yield self.record(index)

    def columns(self, start: int, stop: int) -> RecordBatch:
        """Records [start, stop) as columns, in the entity's field order, generated a column at a time (numpy
        where it can: about 3x faster than record by record, the bulk load's generator)."""
        indexes = range(start, stop)
        array = np.arange(start, max(start, stop), dtype=np.uint64)
        columns = []
        for name in self._fns:
            column = self._columns.get(name)
            columns.append(column(array) if column is not None else [self._fns[name](i) for i in indexes])
        return RecordBatch(tuple(self._fns), tuple(columns))

    def batch(self, start: int, stop: int) -> list[Record]:
        """Records [start, stop), the same as `records(start, stop)`, generated a column at a time (`columns`)."""
        return self.columns(start, stop).records()

    def batches(self, count: int, batch_size: int) -> Iterator[list[Record]]:
        """Records [0, count) in batches, generated a column at a time (numpy where it can)."""
        for start in range(0, count, batch_size):
            yield self.batch(start, min(count, start + batch_size))


def mix64_array(values: np.ndarray) -> np.ndarray:
    """`mix64` over a uint64 array (numpy wraps modulo 2**64, as the masks do in Python)."""
    with np.errstate(over="ignore"):
        x = values + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


Column = Callable[[np.ndarray], list[Any]]


def column_function(spec: FieldSpec, salt: int) -> Column | None:
    """A whole-batch version of a field's generator (same values as the scalar one), or None."""
    hashed = lambda idx: mix64_array(np.uint64(salt) ^ idx)  # noqa: E731
    if isinstance(spec, IntField):
        if spec.sequence:
            return lambda idx: (idx.astype(np.int64) + spec.min).tolist()
        span = np.uint64(spec.max - spec.min + 1)
        return lambda idx: ((hashed(idx) % span).astype(np.int64) + spec.min).tolist()
    if isinstance(spec, FloatField):
        lo, width = spec.min, spec.max - spec.min
        return lambda idx: (lo + width * ((hashed(idx) >> np.uint64(11)).astype(np.float64) / float(1 << 53))).tolist()
    if isinstance(spec, BoolField):
        threshold = int(spec.true_ratio * 10_000)
        return lambda idx: (hashed(idx) % np.uint64(10_000) < threshold).tolist()
    if isinstance(spec, ChoiceField):
        return _choice_column(spec, hashed)
    if isinstance(spec, StringField):
        return _string_column(spec, hashed)
    if isinstance(spec, (EmailField, UsernameField)):
        return _name_column(spec, hashed)
    if isinstance(spec, TimestampField) and spec.step_s is None:
        start = datetime.fromisoformat(spec.start.replace("Z", "+00:00"))
        start = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
        return lambda idx: [start + timedelta(seconds=s) for s in (hashed(idx) % np.uint64(spec.spread_s)).tolist()]
    return None


def _choice_column(spec: ChoiceField, hashed: Callable[[np.ndarray], np.ndarray]) -> Column:
    """The column form of `_choice`: the same value for the same index."""
    values = spec.values
    if spec.cycle:
        return lambda idx: [values[k] for k in (idx % np.uint64(len(values))).tolist()]
    if spec.weights is not None:
        bounds = np.asarray(choice_bounds(spec.weights))
        unit = lambda idx: (hashed(idx) >> np.uint64(11)).astype(np.float64) / float(1 << 53)  # noqa: E731
        return lambda idx: [values[k] for k in np.searchsorted(bounds, unit(idx), side="right").tolist()]
    return lambda idx: [values[k] for k in (hashed(idx) % np.uint64(len(values))).tolist()]


def _string_column(spec: StringField, hashed: Callable[[np.ndarray], np.ndarray]) -> Column | None:
    if spec.unique:
        return lambda idx: [f"{spec.prefix}{h:020d}" for h in hashed(idx).tolist()]
    if spec.length_distribution != "constant":
        return _varying_string_column(spec, hashed)
    pool, room = _char_pool(), len(_char_pool()) - spec.length
    if room <= 0:
        return None
    return lambda idx: [spec.prefix + pool[s : s + spec.length] for s in (hashed(idx) % np.uint64(room)).tolist()]


def _varying_string_column(spec: StringField, hashed: Callable[[np.ndarray], np.ndarray]) -> Column:
    """`_varying_string` over a batch (the same strings)."""
    pool = _char_pool()
    tiled, room = pool * (spec.length // len(pool) + 2), np.uint64(len(pool))
    lengths_of = hashed_lengths(spec.min_length, spec.length, spec.length_distribution)

    def column(idx: np.ndarray) -> list[str]:
        starts = (hashed(idx) % room).tolist()
        lengths = lengths_of(hashed(idx ^ np.uint64(LENGTH_SALT))).tolist()
        return [spec.prefix + tiled[s : s + n] for s, n in zip(starts, lengths, strict=True)]

    return column


def _name_column(spec: EmailField | UsernameField, hashed: Callable[[np.ndarray], np.ndarray]) -> Column:
    words = vocabulary(2000)
    picks = lambda idx: (hashed(idx) % np.uint64(len(words))).tolist()  # noqa: E731
    if isinstance(spec, UsernameField):
        return lambda idx: [f"{words[w]}_{i}" for w, i in zip(picks(idx), idx.tolist(), strict=True)]
    domains = spec.domains
    return lambda idx: [f"{words[w]}.{i}@{domains[i % len(domains)]}"
                        for w, i in zip(picks(idx), idx.tolist(), strict=True)]


def dataset_factories(workload: Workload) -> dict[str, RecordFactory]:
    """A factory per entity, with `ref` fields wired to the entities they reference."""
    seed = workload.dataset.seed
    plain = {e.name: RecordFactory(e, seed) for e in workload.dataset.entities
             if not any(isinstance(s, RefField) for s in e.fields.values())}
    targets = {name: ReferenceTarget(f.entity.count, f.key_of) for name, f in plain.items()}
    return {e.name: plain.get(e.name) or RecordFactory(e, seed, targets) for e in workload.dataset.entities}
