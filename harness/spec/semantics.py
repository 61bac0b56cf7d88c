"""Semantic checks of a schema-valid workload: references resolve, combinations make sense."""

from __future__ import annotations

from harness.spec.hints import did_you_mean
from harness.spec.models import (
    Entity,
    Operation,
    OperationKind,
    TagsField,
    TextField,
    Workload,
)

# Which optional keys make sense for which kind; anything else is flagged.
_NEEDS_MATCH = {OperationKind.FIND}
_USES_SET = {OperationKind.UPDATE}


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


def _check_operation(where: str, op: Operation, entity: Entity) -> list[str]:
    problems: list[str] = []
    fields = list(entity.fields)

    def unknown(key: str, names: tuple[str, ...] | list[str]) -> None:
        for name in names:
            if name not in entity.fields:
                problems.append(f"{where}.{key}: {name!r} is not a field of {entity.name}{did_you_mean(name, fields)}")

    unknown("match", op.match)
    unknown("set", op.set)
    unknown("project", op.project)
    unknown("filter", list(op.filter))
    if op.sort is not None:
        unknown("sort.field", [op.sort.field])
    if op.kind in _NEEDS_MATCH and not op.match and not op.filter:
        problems.append(f"{where}.match: a find needs 'match' fields or a 'filter' to select records")
    if op.set and op.kind not in _USES_SET:
        problems.append(f"{where}.set: only an update sets fields; remove 'set' from this {op.kind.value}")
    if op.kind == OperationKind.UPDATE and not op.set:
        problems.append(f"{where}.set: an update needs the fields it changes, e.g. set: [{fields[-1]}]")
    if op.kind == OperationKind.UPDATE and entity.key in op.set:
        problems.append(f"{where}.set: the key field {entity.key!r} cannot be updated")
    if op.kind == OperationKind.NATIVE and not op.statements:
        problems.append(f"{where}.statements: a native operation needs a statement per engine, e.g. statements: {{postgres: 'SELECT 1'}}")
    if op.statements and op.kind != OperationKind.NATIVE:
        problems.append(f"{where}.statements: only a native operation takes statements")
    return problems
