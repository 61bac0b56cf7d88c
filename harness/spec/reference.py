"""docs/spec-reference.md, generated from the spec models' JSON Schemas (harness.spec.schema).

One section per model reachable from a workload, a suite and a selection file, each a table of its
YAML keys: type, default (or "required"), unit, allowed values, description (from the model) and
an example: the first value the example specs (examples/specs/*.yaml, kept for this page, so that
editing the library does not change it) give, else the default.
`dbarena schema --write` rewrites the committed page; tests/spec/test_schema.py checks it is current.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from harness.spec import loader
from harness.spec.schema import SCHEMA_MODELS, duration_fields, json_schema, models_under

REFERENCE_PATH = Path("docs") / "spec-reference.md"
_TYPE_NAMES = {"integer": "integer", "number": "number", "string": "text", "boolean": "boolean", "null": "null"}
_RATE_KEYS = {"rate", "target_rate", "start_rate", "max_rate"}
_INTRO = """\
# Spec reference: workload, suite and selection files

Generated from the models (harness/spec/models.py, harness/spec/suite.py) by `dbarena schema --write`;
do not edit by hand. The same models give the JSON Schemas in schemas/ (`dbarena schema workload|suite|selection`),
which editors use through the first line of each shipped spec:

    # yaml-language-server: $schema=../schemas/workload.schema.json

Keys are as written in YAML. "required" marks a key without a default. Durations take seconds or text
such as `500ms`, `30s`, `2m`. Examples come from the complete example specs in examples/specs/
(workload.yaml, suite.yaml, selection.yaml), else the default. Unknown keys are errors.
"""


def reference_markdown(root: Path) -> str:
    """The reference page, from the models and the shipped specs under the project `root`."""
    examples = spec_examples(root)
    out = [_INTRO]
    for name, model in SCHEMA_MODELS.items():
        schema = json_schema(name)
        defs = schema.get("$defs", {})
        out.append(f"\n## {name.capitalize()} file ({model.__name__})\n")
        out.append(_section(model.__name__, schema, examples, durations=_durations(model)))
        for def_name in _reachable(schema, defs):
            if def_name in _written(out):
                continue
            out.append(f"\n### {def_name}\n")
            out.append(_section(def_name, defs[def_name], examples, durations=_durations_by_name(def_name)))
    return "\n".join(out).rstrip() + "\n"


def _written(parts: list[str]) -> set[str]:
    return {line[4:].strip() for part in parts for line in part.splitlines() if line.startswith("### ")}


def _durations(model: type[BaseModel]) -> set[str]:
    return {(model.model_fields[f].alias or f) for f in duration_fields(model)}


def _durations_by_name(name: str) -> set[str]:
    for model in _all_models():
        if model.__name__ == name:
            return _durations(model)
    return set()


def _all_models() -> Iterator[type[BaseModel]]:
    for model in SCHEMA_MODELS.values():
        yield from models_under(model)


def _reachable(schema: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    """$defs names in the order they are first referred to, breadth first from the root."""
    order: list[str] = []
    todo = [schema]
    while todo:
        node = todo.pop(0)
        for ref in _refs(node):
            if ref not in order and ref in defs:
                order.append(ref)
                todo.append(defs[ref])
    return order


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            elif key != "$defs":
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _section(name: str, schema: dict[str, Any], examples: dict[tuple[str, str], Any], durations: set[str]) -> str:
    lines = []
    if schema.get("description"):
        lines += [" ".join(schema["description"].split()), ""]
    if "enum" in schema:
        return "\n".join([*lines, "One of: " + ", ".join(f"`{v}`" for v in schema["enum"]) + "."])
    required = set(schema.get("required", ()))
    lines += ["| key | type | default | unit | allowed | description | example |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for key, prop in schema.get("properties", {}).items():
        default = "required" if key in required else _value(prop.get("default"))
        example = examples.get((name, key), prop.get("default"))
        lines.append("| " + " | ".join([
            f"`{key}`", type_of(prop), default, _unit(key, durations), _allowed(prop),
            _cell(prop.get("description", "")), _value(example) if example is not None else "",
        ]) + " |")
    return "\n".join(lines)


def type_of(prop: dict[str, Any]) -> str:
    """A property's type in words: `text`, `list of text`, `mapping of text to number`, a model link."""
    if "$ref" in prop:
        target = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{target}](#{target.lower()})"
    if "const" in prop:
        return f"`{prop['const']}`"
    if "enum" in prop:
        return "text"
    branches = prop.get("anyOf") or prop.get("oneOf")
    if branches:
        kinds = [type_of(b) for b in branches if b.get("type") != "null"]
        return " or ".join(dict.fromkeys(kinds))
    kind = prop.get("type")
    if kind == "array":
        if "prefixItems" in prop:
            return "[" + ", ".join(type_of(item) for item in prop["prefixItems"]) + "]"
        return f"list of {type_of(prop.get('items', {}))}"
    if kind == "object":
        values = prop.get("additionalProperties")
        return f"mapping of text to {type_of(values)}" if isinstance(values, dict) else "mapping"
    return _TYPE_NAMES.get(str(kind), "any")


def _allowed(prop: dict[str, Any]) -> str:
    found: list[str] = []
    for part in [prop, *(prop.get("anyOf") or [])]:
        if "enum" in part:
            found.append(", ".join(f"`{v}`" for v in part["enum"]))
        bounds = [(key, sign) for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                                                 ("exclusiveMaximum", "<")) if key in part]
        found += [f"{sign} {part[key]:g}" for key, sign in bounds]
        for key, words in (("minItems", "at least {} item(s)"), ("minLength", "at least {} character(s)"),
                           ("minProperties", "at least {} entry(ies)")):
            if key in part:
                found.append(words.format(part[key]))
        if "pattern" in part and part is prop:
            found.append(f"`{part['pattern']}`")
    return _cell(", ".join(found))


def _unit(key: str, durations: set[str]) -> str:
    if key in durations or key.endswith("_s") or key in ("timeout", "op_timeout"):
        return "s"
    if key.endswith("_ms"):
        return "ms"
    return "ops/s" if key in _RATE_KEYS else ""


def _value(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return _cell(f"`{text if len(text) <= 60 else text[:57] + '...'}`")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


EXAMPLES_DIR = Path("examples") / "specs"


def spec_examples(root: Path) -> dict[tuple[str, str], Any]:
    """(model name, YAML key) -> the first value an example spec (examples/specs/) gives it explicitly."""
    found: dict[tuple[str, str], Any] = {}
    for path in sorted((root / EXAMPLES_DIR).glob("*.yaml")):
        _collect(_load(path), found)  # an invalid example is a SpecError: the page never hides it
    return found


def shipped_specs(root: Path) -> list[Path]:
    """The spec files the project ships: workloads/*.yaml, benchmarks/**/*.yaml, examples/specs/*.yaml."""
    return [*sorted((root / "workloads").glob("*.yaml")), *sorted((root / "benchmarks").glob("**/*.yaml")),
            *sorted((root / EXAMPLES_DIR).glob("*.yaml"))]


def spec_kind(path: Path) -> str:
    """Which schema a spec file follows: workload, suite or selection (as `dbarena validate` decides)."""
    data = loader.read_yaml(path)
    if loader.looks_like_selection(data):
        return "selection"
    return "suite" if loader.looks_like_suite(data) else "workload"


def _load(path: Path) -> BaseModel:
    kind = spec_kind(path)
    if kind == "selection":
        return loader.load_selection(path)
    return loader.load_suite(path) if kind == "suite" else loader.load_workload(path)


def _collect(node: Any, found: dict[tuple[str, str], Any]) -> None:
    if isinstance(node, BaseModel):
        for name in sorted(node.model_fields_set, key=list(type(node).model_fields).index):
            info = type(node).model_fields[name]
            value = getattr(node, name)
            found.setdefault((type(node).__name__, info.alias or name), _plain(value))
            _collect(value, found)
    elif isinstance(node, (tuple, list)):
        for item in node:
            _collect(item, found)
    elif isinstance(node, dict):
        for item in node.values():
            _collect(item, found)


def _plain(value: Any) -> Any:
    """A value as JSON: models by alias, enums by value."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return getattr(value, "value", value)
