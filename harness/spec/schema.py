"""JSON Schema of the spec files, and the reference page generated from the same models.

`json_schema("workload" | "suite" | "selection")` is pydantic's `model_json_schema` of the model
(harness.spec.models.Workload, harness.spec.suite.Suite, harness.spec.suite.Selection) by alias, so
its keys are the YAML keys (`duration`, `timeout`, `op_timeout`); each property carries the
description written beside the field in the model (its `description=`, else the `#` comment on or
above its line) and durations accept "30s" as well as seconds, as the loader does. Editors given
the file (`# yaml-language-server: $schema=...` on a spec's first line) validate and complete it.

`reference_markdown()` renders docs/spec-reference.md from the schemas: per model its fields with
type, default, unit, allowed values, description and an example taken from the shipped specs.
Both are pure functions of the models (and, for examples, of workloads/ and benchmarks/), so the
committed copies are checked in the tests to be current; `dbarena schema --write` rewrites them.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import textwrap
import tokenize
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from harness.errors import UserError
from harness.spec import models, suite
from harness.spec.hints import did_you_mean

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "workload": models.Workload, "suite": suite.Suite, "selection": suite.Selection,
}
SCHEMA_DIR = "schemas"  # under the project root: schemas/<name>.schema.json
DURATION = {"anyOf": [{"type": "number", "minimum": 0},
                      {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(us|µs|ms|s|m|h)?\s*$"}],
            "description": "a duration: seconds, or text such as 500ms, 30s, 2m, 1h"}


# What a field is, for the fields the models leave without a description or comment: by YAML key,
# or by (model, key) where one key means different things in different models.
_NOTES: dict[str | tuple[str, str], str] = {
    "version": "spec format version; 1", "description": "free text shown in listings and reports",
    ("Workload", "name"): "the workload's name (its file name without .yaml)",
    ("Suite", "name"): "the suite's name", ("Selection", "name"): "the selection study's name",
    "dataset": "the entities and how their records are generated",
    ("Workload", "operations"): "the operation mix (weights relative)",
    "presets": "named weight sets: preset -> operation name -> weight (operations left out get 0)",
    "seed": "seed of every generated value (the same seed gives the same records)",
    "entities": "the record types", ("Entity", "name"): "the entity's name (table, collection, key prefix)",
    "key": "the field that identifies a record", ("Entity", "fields"): "field name -> its generator",
    "indexes": "secondary indexes the adapters create", ("Index", "fields"): "the indexed fields, in order",
    ("Index", "unique"): "a uniqueness constraint on the fields",
    "type": "the field generator", "kind": "the operation kind",
    ("OperationBase", "name"): "the operation's name, as reports show it",
    ("OperationBase", "entity"): "the entity the operation works on",
    ("OperationBase", "distribution"): "how the record is chosen (YCSB request distributions)",
    ("OperationBase", "zipf_constant"): "zipfian: the skew (YCSB's 0.99)",
    "match": "fields whose values come from a chosen record (equality)",
    "filter": "field -> constant value (equality)", "project": "fields to return; empty = all",
    "sort": "order of the results", "limit": "the most records returned",
    "range_field": "the ordered field the window bounds", "window": "the width of the range, ending at the "
    "chosen record's value (seconds for timestamps)", "value_field": "the field aggregated",
    "function": "the aggregate function", "bucket_s": "the width of one time bucket",
    "group_by": "fields grouping the buckets", "text_fields": "the fields searched",
    "terms": "words per query, drawn (Zipf) from the vocabulary", "edges": "the entity of edges (two ref fields)",
    "pattern": "k-hop: records within `hops` edges; mutual: shared neighbours; shortest-path: to another record",
    "hops": "edges followed at most", "set": "the fields (or json_field.key paths) an update writes",
    "write": "all: every field of `set` per call; one: one field drawn per call (YCSB writeallfields)",
    ("ScanOp", "min_length"): "the shortest scan (records)",
    ("ScanOp", "length_distribution"): "how each scan's length is drawn",
    ("ParamSpec", "uniform"): "[low, high]: uniform over the range", ("ParamSpec", "zipfian"):
    "[low, high]: zipfian, low the most popular", ("ParamSpec", "exponential"): "[low, high]: exponential",
    ("SortSpec", "field"): "the field sorted on", ("SortSpec", "order"): "ascending or descending",
    ("RefField", "entity"): "the entity referred to", ("RefField", "distribution"): "how the record referred to "
    "is chosen", ("RefField", "zipf_constant"): "zipfian: the skew",
    "min_tags": "fewest tags per record", "max_tags": "most tags per record",
    ("TagsField", "vocabulary"): "distinct tags, Zipf-distributed", "keys": "keys of each JSON document",
    "start": "the earliest timestamp (ISO 8601)", "spread_s": "timestamps are spread over this long after start",
    "min_words": "fewest words per text", "max_words": "most words per text",
    "domains": "the e-mail domains drawn from", "length": "the longest string (characters, without prefix)",
    "prefix": "text every value starts with", "true_ratio": "share of records that are true",
    "min": "the smallest value", "max": "the largest value", "runs": "the runs to perform, in order",
    "slo": "the service-level objective", "percentile": "the latency percentile bounded",
    "max_ms": "the bound on that percentile", "workload": "the workload's name (workloads/) or file",
    "preset": "a preset of the workload (operation weights)", "engines": "the engines to run it on",
    "scale": "multiplies every entity's record count", "load": "how hard and how long to drive each engine",
    "users": "concurrent users (closed loop) or the users sharing the rate", "processes": "worker processes",
    "duration": "measured time", "warmup": "time run before measuring, not counted",
    "schedule": "open loop: Poisson (random) or evenly spaced intended starts",
    "stages": "steps of users or rate in one run (the duration is their sum)",
    "scenarios": "groups of operations with their own users and rate",
    "insertcount": "records loaded and named from insertstart on (YCSB's insertcount); omitted: to the last",
    ("Scenario", "name"): "the scenario's name", "use_case": "the use case in words, shown in the result",
    "capacity": "how the capacity search steps its rate", "start_rate": "the first open-loop rate",
    "max_rate": "the highest rate tried",
}


def note_of(cls: type[BaseModel], name: str, key: str) -> str | None:
    """A field's description: `description=`, else its comment in the model, else the note kept here."""
    info = cls.model_fields[name]
    found = info.description or field_notes(cls).get(name)
    if found:
        return found
    for owner in cls.__mro__:
        if (owner.__name__, key) in _NOTES:
            return _NOTES[(owner.__name__, key)]
    return _NOTES.get(key)


def schema_file_name(name: str) -> str:
    """The committed file of schema `name`: `<name>.schema.json`."""
    return f"{name}.schema.json"


def model_of(name: str) -> type[BaseModel]:
    """The model of schema `name`; UserError (one line) naming the known ones otherwise."""
    if name not in SCHEMA_MODELS:
        known = sorted(SCHEMA_MODELS)
        raise UserError(f"no schema {name!r}; known: {', '.join(known)}{did_you_mean(name, known)}")
    return SCHEMA_MODELS[name]


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of spec kind `name`, keys as written in YAML."""
    model = model_of(name)
    schema = model.model_json_schema(by_alias=True, mode="validation")
    for cls in models_under(model):
        target = schema if cls is model else schema.get("$defs", {}).get(cls.__name__)
        if target is not None:
            _annotate(cls, target)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://dbarena.dev/schemas/{schema_file_name(name)}", **schema}


def schema_text(name: str) -> str:
    """`json_schema(name)` as the committed file holds it: indented JSON, sorted keys, final newline."""
    return json.dumps(json_schema(name), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _annotate(cls: type[BaseModel], target: dict[str, Any]) -> None:
    """Descriptions from the model's source, and the duration form of fields parsed as durations."""
    durations = duration_fields(cls)
    for name, info in cls.model_fields.items():
        key = info.alias or name
        prop = target.get("properties", {}).get(key)
        if prop is None:
            continue
        if name in durations:
            default = prop.get("default")
            prop.clear()
            prop.update(json.loads(json.dumps(DURATION)))
            if default is not None:
                prop["default"] = default
        note = note_of(cls, name, key)
        if note:
            prop["description"] = f"{note} ({DURATION['description']})" if name in durations else note
    if cls.__doc__ and "description" not in target:
        target["description"] = inspect.cleandoc(cls.__doc__)


def duration_fields(cls: type[BaseModel]) -> set[str]:
    """Fields read through a `_duration` validator (harness.spec.suite.parse_duration): "30s" or seconds."""
    decorators = cls.__pydantic_decorators__.field_validators.values()
    return {field for dec in decorators if dec.func.__name__ == "_duration" for field in dec.info.fields}


def field_notes(cls: type[BaseModel]) -> dict[str, str]:
    """Field name -> the `#` comment on its line in the class body, else the comment lines just above it.

    The models document their fields with such comments; this reads them from the source so the
    schema and the reference say the same thing without a second copy. Inherited fields come from
    the class that declares them.
    """
    notes: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if isinstance(base, type) and issubclass(base, BaseModel) and base.__module__.startswith("harness."):
            notes.update(_own_notes(base))  # cached: the source of each class is read once
    return notes


@cache
def _own_notes(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    lines = source.splitlines()
    notes: dict[str, str] = {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    for stmt in body.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            end = stmt.end_lineno or stmt.lineno
            if end in comments and not lines[end - 1].lstrip().startswith("#"):
                notes[stmt.target.id] = comments[end]
                continue
            above: list[str] = []
            line = stmt.lineno - 1
            while line in comments and lines[line - 1].lstrip().startswith("#"):
                above.insert(0, comments[line])
                line -= 1
            if above:
                notes[stmt.target.id] = " ".join(above)
    return notes


def models_under(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    """`model` and every model class its fields reach (unions, tuples, dicts), each once."""
    seen: set[type[BaseModel]] = set()
    todo = [model]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        for info in cls.model_fields.values():
            todo.extend(_model_types(info.annotation))


def _model_types(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):  # unions, tuple[...], dict[...], Annotated[union, Field(...)]
        yield from _model_types(arg)


def committed_schema(root: Path, name: str) -> Path:
    """Where the committed copy of schema `name` lives under the project `root`."""
    return root / SCHEMA_DIR / schema_file_name(name)
