"""Semantic checks of a schema-valid workload: references resolve, combinations make sense."""

from __future__ import annotations

from harness.spec.hints import did_you_mean
from harness.spec.models import (
    AggregateOp,
    DeleteOp,
    Entity,
    FindOp,
    InsertOp,
    JsonField,
    NativeOp,
    Operation,
    RangeOp,
    ReadOp,
    RefField,
    ScanOp,
    SearchOp,
    Selecting,
    TagsField,
    TextField,
    TraverseOp,
    UpdateOp,
    Workload,
)
from harness.spec.native import native_problems


def check_workload(workload: Workload) -> list[str]:
    """Problems as 'field.path: message' lines; empty when the workload is sound."""
    problems: list[str] = []
    names = [e.name for e in workload.dataset.entities]
    for dup in {n for n in names if names.count(n) > 1}:
        problems.append(f"dataset.entities: entity {dup!r} is defined twice")
    for i, entity in enumerate(workload.dataset.entities):
        problems += _check_entity(f"dataset.entities[{i}]", entity)
    op_names = [op.name for op in workload.operations]
    for dup in {n for n in op_names if op_names.count(n) > 1}:
        problems.append(f"operations: operation name {dup!r} is used twice")
    for i, op in enumerate(workload.operations):
        where = f"operations[{i}]"
        if op.entity not in names:
            problems.append(f"{where}.entity: unknown entity {op.entity!r}; defined: {', '.join(names)}{did_you_mean(op.entity, names)}")
            continue
        problems += _check_operation(where, op, workload.entity(op.entity))
        problems += _check_storage(where, op, workload.entity(op.entity))
    if all(op.weight == 0 for op in workload.operations):
        problems.append("operations: every weight is zero; give at least one operation a positive weight")
    for i, entity in enumerate(workload.dataset.entities):
        for field in entity.series:
            if field not in entity.fields:
                hint = did_you_mean(field, list(entity.fields))
                problems.append(f"dataset.entities[{i}].series: {field!r} is not one of its fields{hint}")
    problems += check_references(workload)
    problems += _check_presets(workload, op_names)
    return problems


def _check_presets(workload: Workload, op_names: list[str]) -> list[str]:
    problems: list[str] = []
    for preset, weights in workload.presets.items():
        for op_name, weight in weights.items():
            if op_name not in op_names:
                hint = did_you_mean(op_name, op_names)
                problems.append(f"presets.{preset}.{op_name}: unknown operation; defined: {', '.join(op_names)}{hint}")
            elif weight < 0:
                problems.append(f"presets.{preset}.{op_name}: weight must be >= 0 (got {weight})")
        if weights and all(w <= 0 for w in weights.values()):
            problems.append(f"presets.{preset}: every weight is zero; give at least one operation a positive weight")
    return problems


def _check_entity(where: str, entity: Entity) -> list[str]:
    problems: list[str] = []
    fields = list(entity.fields)
    if entity.key not in entity.fields:
        problems.append(f"{where}.key: {entity.key!r} is not one of its fields ({', '.join(fields)}){did_you_mean(entity.key, fields)}")
    for name, spec in entity.fields.items():
        if isinstance(spec, (TextField,)) and spec.min_words > spec.max_words:
            problems.append(f"{where}.fields.{name}: min_words ({spec.min_words}) exceeds max_words ({spec.max_words})")
        if isinstance(spec, TagsField) and spec.min_tags > spec.max_tags:
            problems.append(f"{where}.fields.{name}: min_tags ({spec.min_tags}) exceeds max_tags ({spec.max_tags})")
        lo, hi = getattr(spec, "min", None), getattr(spec, "max", None)
        if lo is not None and hi is not None and lo > hi:
            problems.append(f"{where}.fields.{name}: min ({lo}) exceeds max ({hi})")
    for j, index in enumerate(entity.indexes):
        for field in index.fields:
            if field not in entity.fields:
                problems.append(f"{where}.indexes[{j}].fields: unknown field {field!r}{did_you_mean(field, fields)}")
    return problems


def _field_names(op: Operation) -> list[tuple[str, list[str]]]:
    """(spec key, field names it refers to) for every key of `op` that names fields of its entity."""
    named: list[tuple[str, list[str]]] = []
    if isinstance(op, Selecting):
        named += [("match", list(op.match)), ("filter", list(op.filter))]
    project = getattr(op, "project", ())
    named.append(("project", list(project)))
    sort = getattr(op, "sort", None)
    if sort is not None:
        named.append(("sort.field", [sort.field]))
    if isinstance(op, UpdateOp):
        named.append(("set", [path.partition(".")[0] for path in op.set]))
    if isinstance(op, (RangeOp, AggregateOp)):
        named.append(("range_field", [op.range_field]))
    if isinstance(op, AggregateOp):
        named += [("value_field", [op.value_field]), ("group_by", list(op.group_by))]
    return named


def _check_operation(where: str, op: Operation, entity: Entity) -> list[str]:
    """Every field an operation names exists on its entity, and the combination makes sense.

    What a kind may carry is the schema's job (each kind is its own model); this checks what
    needs the workload: field names, field types, keys that cannot change.
    """
    problems: list[str] = []
    fields = list(entity.fields)
    for key, names in _field_names(op):
        for name in names:
            if name not in entity.fields:
                problems.append(f"{where}.{key}: {name!r} is not a field of {entity.name}{did_you_mean(name, fields)}")
    if isinstance(op, UpdateOp):
        for path in op.set:
            base, _, nested = path.partition(".")
            if nested and base in entity.fields and not isinstance(entity.fields[base], JsonField):
                problems.append(f"{where}.set: {path!r}: only json fields have nested keys ({base!r} is not one)")
        if entity.key in op.set:
            problems.append(f"{where}.set: the key field {entity.key!r} cannot be updated")
    if isinstance(op, FindOp) and not op.match and not op.filter:
        problems.append(f"{where}.match: a find needs 'match' fields or a 'filter' to select records")
    if isinstance(op, SearchOp):
        for name in op.text_fields:
            if not isinstance(entity.fields.get(name), TextField):
                problems.append(f"{where}.text_fields: {name!r} is not a text field of {entity.name}{did_you_mean(name, fields)}")
    return problems


def _check_storage(where: str, op: Operation, entity: Entity) -> list[str]:
    """Native statements are sound; an empty entity or one with no primary key is not chosen by key."""
    if isinstance(op, NativeOp):
        empty = [f"{where}.entity: {entity.name} starts empty (count: 0); a native operation chooses its key "
                 "there: name an entity that is loaded"] if entity.count == 0 else []
        return empty + native_problems(where, op)
    if isinstance(op, InsertOp):
        return []
    if entity.count == 0:
        return [f"{where}.entity: {entity.name} starts empty (count: 0); only inserts and native operations may use it"]
    if not entity.primary_key and isinstance(op, (ReadOp, UpdateOp, DeleteOp, ScanOp)):
        return [f"{where}.entity: a {op.kind.value} selects by key, but {entity.name} has no primary key "
                "(primary_key: false)"]
    return []


def check_references(workload: Workload) -> list[str]:
    """Ref fields and traversals name entities that exist, and edges have two refs to the nodes."""
    problems: list[str] = []
    names = [e.name for e in workload.dataset.entities]
    for i, entity in enumerate(workload.dataset.entities):
        for field, spec in entity.fields.items():
            if isinstance(spec, RefField) and spec.entity not in names:
                problems.append(f"dataset.entities[{i}].fields.{field}.entity: unknown entity {spec.entity!r}"
                                f"{did_you_mean(spec.entity, names)}")
    for i, op in enumerate(workload.operations):
        if not isinstance(op, TraverseOp):
            continue
        if op.edges not in names:
            problems.append(f"operations[{i}].edges: unknown entity {op.edges!r}{did_you_mean(op.edges, names)}")
            continue
        refs = [s for s in workload.entity(op.edges).fields.values() if isinstance(s, RefField) and s.entity == op.entity]
        if len(refs) < 2:
            problems.append(f"operations[{i}].edges: {op.edges} needs two ref fields to {op.entity} (from, to)")
    return problems
