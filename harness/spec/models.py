"""Frozen, typed models of a workload spec (workloads/*.yaml).

A workload says what a use case does, independent of any engine: a dataset of entities
with typed field generators, and a weighted mix of operations drawn from a small
vocabulary that every adapter maps to its engine's natural form.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from harness.errors import SpecError
from harness.models import Frozen
from harness.spec.expressions import Bound, ExpressionError, evaluate

SPEC_VERSION = 1
DEFAULT_OP_TIMEOUT_S = 10.0  # the longest one call may take unless the load or the operation says otherwise


class OperationKind(StrEnum):
    INSERT = "insert"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    FIND = "find"
    RANGE = "range"
    SCAN = "scan"
    SEARCH = "search"
    AGGREGATE = "aggregate"
    TRAVERSE = "traverse"
    NATIVE = "native"


class Distribution(StrEnum):
    UNIFORM = "uniform"
    ZIPFIAN = "zipfian"
    LATEST = "latest"
    HOTSPOT = "hotspot"
    SEQUENTIAL = "sequential"


# ---- field generators -------------------------------------------------------------


class IntField(Frozen):
    type: Literal["int"]
    min: int = 0
    max: int = 1_000_000
    sequence: bool = False  # the record's index (plus min): dense, unique keys


class FloatField(Frozen):
    type: Literal["float"]
    min: float = 0.0
    max: float = 1.0


class BoolField(Frozen):
    type: Literal["bool"]
    true_ratio: float = Field(0.5, ge=0.0, le=1.0)


class UuidField(Frozen):
    type: Literal["uuid"]


class StringField(Frozen):
    """Random characters after `prefix`; the length (without the prefix) is `length`, or drawn per record
    from `length_distribution` over [`min_length`, `length`] (YCSB fieldlength, minfieldlength,
    fieldlengthdistribution; deterministic by seed and record index)."""

    type: Literal["string"]
    length: int = Field(16, ge=1, le=1_000_000)
    min_length: int = Field(1, ge=1, le=1_000_000)  # uniform / zipfian: the shortest length
    length_distribution: Literal["constant", "uniform", "zipfian"] = "constant"  # zipfian: short strings likeliest
    prefix: str = ""
    unique: bool = False  # prefix + a 20-digit bijective hash of the index (YCSB-style keys)

    @model_validator(mode="after")
    def _lengths(self) -> StringField:
        if self.length_distribution != "constant" and self.min_length > self.length:
            raise ValueError(f"min_length {self.min_length} is above length {self.length}; "
                             "give a shortest length at or below the longest")
        return self


class EmailField(Frozen):
    type: Literal["email"]
    domains: tuple[str, ...] = ("example.com", "example.org", "mail.test")


class UsernameField(Frozen):
    type: Literal["username"]


class TextField(Frozen):
    type: Literal["text"]
    min_words: int = Field(3, ge=1)
    max_words: int = Field(12, ge=1)
    vocabulary: int = Field(5000, ge=10)  # distinct words, Zipf-distributed


class TimestampField(Frozen):
    type: Literal["timestamp"]
    start: str = "2024-01-01T00:00:00Z"
    spread_s: int = Field(86_400 * 365, ge=1)
    step_s: float | None = Field(None, gt=0)  # ordered: record i is at start + (i // step_every) * step_s
    step_every: int = Field(1, ge=1)  # records sharing one timestamp (e.g. one point per host per step)
    now: bool = False  # updates and inserts take the wall-clock time instead


class RefField(Frozen):
    """A reference to a record of another entity (graph edges, foreign keys), power-law by default."""

    type: Literal["ref"]
    entity: str
    distribution: Literal["uniform", "zipfian"] = "zipfian"
    zipf_constant: float = Field(0.9, gt=0, lt=10)


class ChoiceField(Frozen):
    """One of `values` per record: uniformly by default; in proportion to `weights` when given
    (`values: [active, closed]`, `weights: [0.9, 0.1]`: nine records in ten active); or in turn with
    `cycle`. Drawn from a hash of the seed and the record index, so deterministic by seed."""

    type: Literal["choice"]
    values: tuple[str, ...] = Field(min_length=1, description="the values a record may take")
    weights: tuple[float, ...] | None = Field(
        None, description="relative weight of each value, in the order of `values` (any positive scale: "
                          "[9, 1] is [0.9, 0.1]); omitted: all equally likely")
    cycle: bool = Field(False, description="record i takes values[i % n] (e.g. hosts reporting in turn) "
                                           "instead of a draw")

    @model_validator(mode="after")
    def _weights(self) -> ChoiceField:
        if self.weights is None:
            return self
        if len(self.weights) != len(self.values):
            raise ValueError(f"weights has {len(self.weights)} entries for {len(self.values)} values; "
                             "give one weight per value, in the same order")
        if any(not math.isfinite(w) or w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError("weights must be finite, zero or above, and not all zero")
        if self.cycle:
            raise ValueError("cycle takes the values in turn; remove weights or cycle")
        return self


class JsonField(Frozen):
    type: Literal["json"]
    keys: int = Field(4, ge=1, le=64)


class TagsField(Frozen):
    type: Literal["tags"]
    min_tags: int = Field(1, ge=0)
    max_tags: int = Field(5, ge=0)
    vocabulary: int = Field(200, ge=1)


FieldSpec = Annotated[
    IntField
    | FloatField
    | BoolField
    | UuidField
    | StringField
    | EmailField
    | UsernameField
    | TextField
    | TimestampField
    | ChoiceField
    | JsonField
    | TagsField
    | RefField,
    Field(discriminator="type"),
]

FIELD_TYPES = (
    "int", "float", "bool", "uuid", "string", "email", "username", "text", "timestamp",
    "choice", "json", "tags", "ref",
)


class Index(Frozen):
    fields: tuple[str, ...] = Field(min_length=1)
    unique: bool = False


class Entity(Frozen):
    """A record type (table, collection, key family, measurement, node label)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    count: int = Field(ge=0)  # 0: starts empty, filled by the run (a history table)
    key: str
    primary_key: bool = True  # False: no uniqueness constraint on the key (an append-only log, pgbench_history)
    fields: dict[str, FieldSpec] = Field(min_length=1)
    indexes: tuple[Index, ...] = ()
    series: tuple[str, ...] = ()  # time-series identity (tags): time-series engines key points by these


class Dataset(Frozen):
    seed: int = 42
    entities: tuple[Entity, ...] = Field(min_length=1)


# ---- operations ---------------------------------------------------------------------


class SortSpec(Frozen):
    field: str
    order: Literal["asc", "desc"] = "asc"


class OperationBase(Frozen):
    """What every operation of the mix has: a name, its entity, a weight and how it picks a record."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    entity: str
    weight: float = Field(ge=0)  # 0 keeps the operation defined but out of the mix (presets turn it on)
    distribution: Distribution = Distribution.UNIFORM
    zipf_constant: float = Field(0.99, gt=0, lt=10)
    hot_fraction: float = Field(0.2, gt=0, lt=1)  # hotspot: share of keys that are hot
    hot_share: float = Field(0.8, gt=0, lt=1)  # hotspot: share of operations on hot keys
    timeout_s: float | None = Field(None, gt=0, le=3600, alias="timeout")  # s; None: the load's op_timeout


class InsertOp(OperationBase):
    """Write a new record (the next index of this user's share of the insert key space)."""

    kind: Literal[OperationKind.INSERT]
    ttl_s: float | None = Field(None, gt=0)  # the record expires this long after the write


class ReadOp(OperationBase):
    """Fetch one record by its key."""

    kind: Literal[OperationKind.READ]
    project: tuple[str, ...] = ()  # fields to return; empty = all


class UpdateOp(OperationBase):
    """Give `set` fields of one record (by key) new values; "json_field.key" sets one nested key.

    `write: one` sets one field of `set` per call, drawn uniformly (YCSB writeallfields=false, YCSB's
    default); `write: all` sets every field of `set` (writeallfields=true).
    """

    kind: Literal[OperationKind.UPDATE]
    set: tuple[str, ...] = Field(min_length=1)
    write: Literal["all", "one"] = "all"
    read_first: bool = False  # read the record, then write it (YCSB's read-modify-write), timed as one
    ttl_s: float | None = Field(None, gt=0)  # the record expires this long after the write


class DeleteOp(OperationBase):
    """Remove one record by its key."""

    kind: Literal[OperationKind.DELETE]


SCAN_MAX_LENGTH = 100  # a scan's longest length without a `limit` (YCSB workloade's maxscanlength)


class ScanOp(OperationBase):
    """Records in key order from the chosen key (YCSB's scan): each call asks for as many records as a
    length drawn from `length_distribution` over [`min_length`, `limit`] (YCSB minscanlength,
    maxscanlength, scanlengthdistribution): uniform (YCSB's default, mean (min + max) / 2), zipfian
    (short scans likeliest, constant 0.99) or constant (always `limit`)."""

    kind: Literal[OperationKind.SCAN]
    project: tuple[str, ...] = ()
    limit: int | None = Field(None, ge=1, le=10_000)  # the longest scan; None: SCAN_MAX_LENGTH
    min_length: int = Field(1, ge=1, le=10_000)
    length_distribution: Literal["uniform", "zipfian", "constant"] = "uniform"

    @property
    def max_length(self) -> int:
        """The longest scan (records): `limit`, else SCAN_MAX_LENGTH."""
        return self.limit or SCAN_MAX_LENGTH

    @model_validator(mode="after")
    def _lengths(self) -> ScanOp:
        if self.min_length > self.max_length:
            raise ValueError(f"min_length {self.min_length} is above the longest scan {self.max_length} (limit); "
                             "give a shortest length at or below it")
        return self


class Selecting(OperationBase):
    """Operations that select records by equality: `match` values come from a chosen record, `filter`
    values are constants."""

    match: tuple[str, ...] = ()
    filter: dict[str, str | int | float | bool] = Field(default_factory=dict)


class FindOp(Selecting):
    """Records equal on `match` (and `filter`), optionally sorted and limited (pagination)."""

    kind: Literal[OperationKind.FIND]
    project: tuple[str, ...] = ()
    sort: SortSpec | None = None
    limit: int | None = Field(None, ge=1, le=10_000)


class RangeOp(Selecting):
    """Records whose `range_field` lies in the `window` ending at the chosen record's value (seconds
    for timestamps, the field's own units otherwise), plus equality on `match` and `filter`."""

    kind: Literal[OperationKind.RANGE]
    range_field: str
    window: float = Field(gt=0)
    project: tuple[str, ...] = ()
    sort: SortSpec | None = None
    limit: int | None = Field(None, ge=1, le=10_000)


class AggregateOp(Selecting):
    """`function` of `value_field` per `bucket_s` bucket of `range_field`, grouped by `group_by`,
    over the records a range with the same `range_field`, `window` and `match` selects."""

    kind: Literal[OperationKind.AGGREGATE]
    range_field: str
    window: float = Field(gt=0)
    value_field: str
    function: Literal["mean", "sum", "count", "min", "max"]
    bucket_s: float = Field(gt=0)
    group_by: tuple[str, ...] = ()


class SearchOp(Selecting):
    """Full text: `terms` words drawn (Zipf) from the vocabulary of `text_fields`, top `limit` by
    relevance, optionally restricted by `match` (values from a chosen record) and `filter`."""

    kind: Literal[OperationKind.SEARCH]
    text_fields: tuple[str, ...] = Field(min_length=1)
    terms: int = Field(2, ge=1, le=16)
    project: tuple[str, ...] = ()
    limit: int | None = Field(None, ge=1, le=10_000)


class TraverseOp(OperationBase):
    """From the chosen record along the `edges` entity (its two ref fields: from, to)."""

    kind: Literal[OperationKind.TRAVERSE]
    edges: str
    pattern: Literal["k-hop", "mutual", "shortest-path"] = "k-hop"
    hops: int = Field(2, ge=1, le=6)
    project: tuple[str, ...] = ()
    limit: int | None = Field(None, ge=1, le=10_000)


class ParamSpec(Frozen):
    """One parameter of a native operation, drawn per call from [low, high] (both included).

    Exactly one of `uniform`, `zipfian` or `exponential` gives the range; each bound is an
    integer or arithmetic in `scale` ("100000 * scale", see harness.spec.expressions), so
    `--scale` grows the range with the dataset. As pgbench's `\\set x random(lb, ub)`,
    `random_zipfian(lb, ub, zipf_constant)` (lb is the most popular value) and
    `random_exponential(lb, ub, parameter)`.
    """

    uniform: tuple[Bound, Bound] | None = None
    zipfian: tuple[Bound, Bound] | None = None
    exponential: tuple[Bound, Bound] | None = None
    zipf_constant: float | None = Field(None, gt=0, lt=10)  # zipfian only (default 0.99): P(lb + r) ~ (r + 1)^-it
    parameter: float | None = Field(None, gt=0, le=1000)  # exponential only: its rate over the range

    @model_validator(mode="after")
    def _one_range(self) -> ParamSpec:
        given = [name for name in PARAM_DISTRIBUTIONS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(PARAM_DISTRIBUTIONS)} with its [low, high] range"
                             + (f" (got {', '.join(given)})" if given else ""))
        if given[0] == "exponential" and self.parameter is None:
            raise ValueError("an exponential parameter needs its 'parameter' (> 0), as pgbench's random_exponential")
        if given[0] != "exponential" and self.parameter is not None:
            raise ValueError("'parameter' belongs to exponential ranges only")
        if given[0] != "zipfian" and self.zipf_constant is not None:
            raise ValueError("'zipf_constant' belongs to zipfian ranges only")
        return self

    @property
    def distribution(self) -> str:
        """uniform, zipfian or exponential."""
        return next(name for name in PARAM_DISTRIBUTIONS if getattr(self, name) is not None)

    @property
    def bounds(self) -> tuple[Bound, Bound]:
        """The [low, high] range as written (integers or expressions in `scale`)."""
        bounds: tuple[Bound, Bound] = getattr(self, self.distribution)
        return bounds


PARAM_DISTRIBUTIONS = ("uniform", "zipfian", "exponential")


class NativeOp(OperationBase):
    """The user's own statements per engine, with parameters drawn per call.

    `statements` maps an engine to one statement, or to a list of statements run in order as
    one transaction and timed as one operation (committed at the end, rolled back on any
    error). `{key}` / `$key` / `%(key)s` stand for the chosen key; each name of `params`
    (drawn per call, see ParamSpec) is written the same way.
    """

    kind: Literal[OperationKind.NATIVE]
    statements: dict[str, str | tuple[str, ...]] = Field(min_length=1)  # engine -> statement(s)
    params: dict[str, ParamSpec] = Field(default_factory=dict)  # name -> its per-call distribution

    def statement_list(self, engine: str) -> tuple[str, ...]:
        """The statements of `engine` as a tuple (one statement: a 1-tuple); () when it has none."""
        given = self.statements.get(engine, ())
        return (given,) if isinstance(given, str) else given

    def is_transaction(self, engine: str) -> bool:
        """Whether `engine`'s statements are a list (run as one transaction)."""
        return isinstance(self.statements.get(engine), tuple)


Operation = Annotated[
    InsertOp | ReadOp | UpdateOp | DeleteOp | ScanOp | FindOp | RangeOp | AggregateOp | SearchOp | TraverseOp | NativeOp,
    Field(discriminator="kind"),
]
# kind -> the model of that kind (for code that builds operations, e.g. a read-modify-write's read)
OPERATION_TYPES: dict[OperationKind, type[OperationBase]] = {
    OperationKind.INSERT: InsertOp, OperationKind.READ: ReadOp, OperationKind.UPDATE: UpdateOp,
    OperationKind.DELETE: DeleteOp, OperationKind.SCAN: ScanOp, OperationKind.FIND: FindOp,
    OperationKind.RANGE: RangeOp, OperationKind.AGGREGATE: AggregateOp, OperationKind.SEARCH: SearchOp,
    OperationKind.TRAVERSE: TraverseOp, OperationKind.NATIVE: NativeOp,
}


def timeout_of(op: Operation, default_s: float = DEFAULT_OP_TIMEOUT_S) -> float:
    """The longest one call of `op` may take (s): its own `timeout`, else `default_s` (the load's op_timeout)."""
    return op.timeout_s if op.timeout_s is not None else default_s


def ttl_of(op: Operation) -> float | None:
    """The expiry an insert or update sets, else None."""
    return op.ttl_s if isinstance(op, (InsertOp, UpdateOp)) else None


def single_field_updates(op: UpdateOp) -> dict[str, UpdateOp]:
    """`set` path -> the update of that one path (named `<name>-set<i>`): what a `write: one` call runs."""
    return {path: op.model_copy(update={"name": f"{op.name}-set{i}", "set": (path,), "write": "all"})
            for i, path in enumerate(op.set)}


def nested_paths(op: Operation) -> tuple[str, ...]:
    """The "json_field.key" paths an update sets inside json fields."""
    return tuple(path for path in op.set if "." in path) if isinstance(op, UpdateOp) else ()


class Workload(Frozen):
    version: int
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    description: str = ""
    dataset: Dataset
    operations: tuple[Operation, ...] = Field(min_length=1)
    presets: dict[str, dict[str, float]] = Field(default_factory=dict)

    def entity(self, name: str) -> Entity:
        return next(e for e in self.dataset.entities if e.name == name)

    def with_preset(self, preset: str) -> Workload:
        """The same workload with operation weights taken from a preset (zero drops an op)."""
        weights = self.presets[preset]
        ops = tuple(op.model_copy(update={"weight": weights.get(op.name, 0.0)}) for op in self.operations)
        return self.model_copy(update={"operations": ops}).active()

    def active(self) -> Workload:
        """The workload with zero-weight operations left out of the mix."""
        return self.model_copy(update={"operations": tuple(op for op in self.operations if op.weight > 0)})

    def scaled(self, factor: float) -> Workload:
        """The same workload with every entity's record count multiplied by `factor` (an empty one stays
        empty), and native parameter bounds written in `scale` computed at `factor` (integers from then on).

        Raises SpecError (one line) when a parameter's range is empty at that scale.
        """
        entities = tuple(
            e.model_copy(update={"count": max(1, int(e.count * factor)) if e.count else 0})
            for e in self.dataset.entities
        )
        ops = tuple(_scaled_params(op, factor) if isinstance(op, NativeOp) else op for op in self.operations)
        return self.model_copy(update={"dataset": self.dataset.model_copy(update={"entities": entities}),
                                       "operations": ops})


def _scaled_params(op: NativeOp, factor: float) -> NativeOp:
    """`op` with every parameter bound computed at scale `factor`; SpecError when a range becomes empty.

    A bound written in `scale` that is positive at scale 1 never scales below 1, as a record
    count never does: "1 * scale" stays the number of pgbench_branches at any scale.
    """
    params = {}
    for name, spec in op.params.items():
        try:
            low, high = (_scaled_bound(bound, factor) for bound in spec.bounds)
        except ExpressionError as exc:
            raise SpecError([f"operations.{op.name}.params.{name}: {exc}"]) from None
        if low > high:
            raise SpecError([f"operations.{op.name}.params.{name}: at scale {factor:g} its range "
                             f"{list(spec.bounds)} is [{low}, {high}], which is empty; use a larger --scale"])
        params[name] = spec.model_copy(update={spec.distribution: (low, high)})
    return op.model_copy(update={"params": params})


def _scaled_bound(bound: Bound, factor: float) -> int:
    value = evaluate(bound, factor)
    return max(1, value) if isinstance(bound, str) and evaluate(bound) >= 1 else value


def raw_dump(model: BaseModel) -> dict[str, Any]:
    """JSON-compatible dict of a model, for hashing and for the run record."""
    return model.model_dump(mode="json")
