"""The spec loader's bounds: nesting depth, file size, alias expansion, finite numbers — one line each."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.spec.loader import MAX_DEPTH, MAX_SPEC_BYTES, validate_file
from harness.spec.suite import CapacitySearch, LoadProfile, parse_duration

SUITE = "version: 1\nname: s\nruns:\n  - workload: kv-cache\n    engines: [fake]\n"


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    problems = validate_file(path)
    assert time.monotonic() - started < 10, "a bound must answer quickly"
    assert problems and all("\n" not in line for line in problems), problems
    return problems


@pytest.mark.parametrize("text", [
    "version: 1\nname: x\na: " + "[" * 3000 + "]" * 3000 + "\n",
    "version: 1\nname: x\na: " + "{b: " * 3000 + "1" + "}" * 3000 + "\n",
    "version: 1\nname: x\n" + "".join(" " * i + "k:\n" for i in range(2000)) + " " * 2000 + "k: 1\n",
    "version: 1\nname: x\na: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n",
], ids=["flow-lists-3000", "flow-maps-3000", "block-maps-2000", "just-over-the-bound"])
def test_deep_nesting_is_one_line(tmp_path: Path, text: str) -> None:
    (line,) = problems_of(tmp_path, text)
    assert f"nested deeper than {MAX_DEPTH} levels" in line


def test_nesting_within_the_bound_is_checked_as_usual(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "version: 1\nname: x\na: " + "[" * 20 + "]" * 20 + "\n")
    assert any("a: unknown key" in line for line in problems)


def test_an_alias_bomb_is_one_line(tmp_path: Path) -> None:
    text = "version: 1\nname: x\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10))
    (line,) = problems_of(tmp_path, text)
    assert "once its YAML aliases are expanded" in line


def test_a_huge_file_is_one_line(tmp_path: Path) -> None:
    (line,) = problems_of(tmp_path, "version: 1\nname: x\ndescription: '" + "x" * (MAX_SPEC_BYTES + 10) + "'\n")
    assert "a spec file is at most 5 MiB" in line


def test_a_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"version: 1\n\xff\xfe\n")
    (line,) = validate_file(path)
    assert "cannot be read" in line


@pytest.mark.parametrize(("load", "expected"), [
    ("duration: .inf", "not a finite duration"),
    ("duration: .nan", "not a finite duration"),
    ("warmup: -.inf", "not a finite duration"),
    (f"duration: {'9' * 400}", "not a finite duration"),
    ("duration: 100000h", "longer than a year"),
    ("target_rate: .nan", "finite number"),
    ("target_rate: -5", "greater than 0"),
    ("users: 0", "greater than or equal to 1"),
    ("stages: [{duration: 5s, rate: .inf}]", "finite number"),
    ("stages: nonsense", "stages"),
    ("stages: [{users: 3}]", "duration: is required"),
], ids=lambda v: v[:24] if isinstance(v, str) and ":" in v else "")
def test_suite_load_values_are_finite_and_in_range(tmp_path: Path, load: str, expected: str) -> None:
    problems = problems_of(tmp_path, SUITE + f"    load: {{{load}}}\n")
    assert any(expected in line for line in problems), problems


@pytest.mark.parametrize("scale", ["0", "-1", ".nan", ".inf", "1e400"])
def test_suite_scale_is_finite_and_positive(tmp_path: Path, scale: str) -> None:
    problems = problems_of(tmp_path, SUITE + f"    scale: {scale}\n")
    assert any("scale" in line for line in problems), problems


def test_durations_and_capacity_search_in_the_models() -> None:
    assert parse_duration("1.5m") == 90.0
    for bad in (float("nan"), float("inf"), "inf", "nan", True, None, [1]):
        with pytest.raises(ValueError):
            parse_duration(bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="start_rate 1000 is above max_rate 10"):
        CapacitySearch(start_rate=1000, max_rate=10)
    with pytest.raises(ValidationError, match="finite"):
        CapacitySearch(start_rate=float("inf"))
    with pytest.raises(ValidationError, match="finite"):
        LoadProfile.model_validate({"target_rate": float("nan")})
