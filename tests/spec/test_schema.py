"""The JSON Schemas and the reference page are the models' own (committed copies current), and every
shipped spec carries its editor hint and validates against its schema as the loader validates it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from harness.errors import UserError
from harness.spec.reference import REFERENCE_PATH, reference_markdown, shipped_specs, spec_kind
from harness.spec.schema import SCHEMA_MODELS, committed_schema, json_schema, model_of, models_under, note_of, schema_text

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "run `.venv/bin/dbarena schema --write` and commit schemas/ and docs/spec-reference.md"
SPECS = shipped_specs(ROOT)


@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
def test_committed_schema_is_current(name: str) -> None:
    path = committed_schema(ROOT, name)
    assert path.read_text(encoding="utf-8") == schema_text(name), f"{path} is stale: {REGENERATE}"
    jsonschema.Draft202012Validator.check_schema(json.loads(schema_text(name)))


def test_committed_reference_is_current() -> None:
    page = ROOT / REFERENCE_PATH
    assert page.read_text(encoding="utf-8") == reference_markdown(ROOT), f"{page} is stale: {REGENERATE}"


def test_reference_documents_every_key_of_every_model() -> None:
    page = reference_markdown(ROOT)
    for model in SCHEMA_MODELS.values():
        for cls in models_under(model):
            for name, info in cls.model_fields.items():
                key = info.alias or name
                assert note_of(cls, name, key), f"{cls.__name__}.{key} has no description"
                assert f"| `{key}` |" in page, key
    assert "| `weights` | list of number |" in page  # the weighted choice, with its description
    assert "| `duration` | number or text | `10.0` | s |" in page  # durations: seconds or "30s", unit s


def test_ten_shipped_specs_or_more_are_found() -> None:
    kinds = {spec_kind(path) for path in SPECS}
    assert len(SPECS) >= 10 and kinds == {"workload", "suite", "selection"}, SPECS


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_spec_has_its_editor_hint_and_validates(path: Path) -> None:
    kind = spec_kind(path)
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema="), first
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target == committed_schema(ROOT, kind).resolve(), (first, kind)
    schema = json.loads(target.read_text(encoding="utf-8"))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    assert errors == []


def _mutations(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Mistakes both the loader and the schema must refuse: an unknown key, a bad enum, a wrong type."""
    typo = copy.deepcopy(data)
    typo["nmae"] = "x"
    bad_kind = copy.deepcopy(data)
    bad_kind["operations"][0]["kind"] = "fetch"
    bad_weight = copy.deepcopy(data)
    bad_weight["operations"][0]["weight"] = -1
    bad_choice = copy.deepcopy(data)
    bad_choice["dataset"]["entities"][0]["fields"]["extra"] = {"type": "choice", "values": "abc"}
    return [("typo", typo), ("kind", bad_kind), ("weight", bad_weight), ("choice", bad_choice)]


@pytest.mark.parametrize("which", ["typo", "kind", "weight", "choice"])
def test_schema_refuses_what_the_loader_refuses(which: str) -> None:
    data = yaml.safe_load((ROOT / "workloads" / "user-accounts.yaml").read_text(encoding="utf-8"))
    mutated = dict(_mutations(data))[which]
    assert list(jsonschema.Draft202012Validator(json_schema("workload")).iter_errors(mutated))
    with pytest.raises(Exception):  # noqa: B017 - pydantic's ValidationError: the loader says it in words
        model_of("workload").model_validate(mutated)


def test_unknown_schema_name_is_one_line() -> None:
    with pytest.raises(UserError, match=r"^no schema 'workloads'; known: selection, suite, workload \(did you mean"):
        model_of("workloads")
