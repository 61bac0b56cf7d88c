"""Fuzzing the spec loader: whatever a spec file holds, `validate_file` answers with problem lines.

Hypothesis mutates the shipped specs (workloads, suites, the selection): it deletes keys,
changes a value's type, nests a value thousands of levels deep, puts in huge or non-finite
numbers and unicode, and splices arbitrary text into the YAML. The loader must never raise
(no RecursionError, no AttributeError from a validator, no OverflowError) and every problem
it returns is one non-empty line. The budget is fixed and the examples derandomized, so
`make test` and CI run the same cases every time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.spec.loader import validate_file

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "workloads").glob("*.yaml")) + sorted((ROOT / "benchmarks").glob("*.yaml")) + sorted(
    (ROOT / "benchmarks" / "selection").glob("*.yaml"))
SPECS = {path.name: yaml.safe_load(path.read_text(encoding="utf-8")) for path in SHIPPED}
DEEP = "DBARENA-DEEP-NEST-"  # a placeholder value, replaced in the YAML text by that many nested lists

BUDGET = settings(max_examples=150, deadline=5000, derandomize=True, database=None, print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

HUGE = st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1, 1e308, -1e308, float("inf"), float("-inf"),
                        float("nan"), 10**19, 0, -1])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), HUGE,
                    st.text(max_size=40), st.text(alphabet=st.characters(min_codepoint=0x80), max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)


def paths_of(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in a parsed spec (mapping keys and list indexes), the root first."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths_of(value, (*prefix, index))
    return found


def replace_at(data: Any, path: tuple[Any, ...], change: Callable[[Any], Any]) -> Any:
    """A copy of `data` with the value at `path` replaced by `change(value)` (a `_DELETE` result removes it)."""
    if not path:
        return change(data)
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        copy = dict(data)
        new = replace_at(copy[head], rest, change)
        if new is _DELETE:
            del copy[head]
        else:
            copy[head] = new
        return copy
    items = list(data)
    new = replace_at(items[head], rest, change)
    if new is _DELETE:
        del items[head]
    else:
        items[head] = new
    return items


_DELETE = object()


@st.composite
def mutation(draw: st.DrawFn, data: Any) -> Any:
    """One change at one location of `data`."""
    locations = paths_of(data)
    path = locations[draw(st.integers(0, len(locations) - 1))]
    how = draw(st.sampled_from(["delete", "retype", "nest", "huge", "unicode", "wrap"]))
    if how == "delete" and path:
        return replace_at(data, path, lambda _: _DELETE)
    if how == "nest":
        depth = draw(st.sampled_from([30, 60, 200, 1000, 3000]))
        return replace_at(data, path, lambda _: f"{DEEP}{depth}")
    if how == "huge":
        return replace_at(data, path, lambda _: draw(HUGE))
    if how == "unicode":
        return replace_at(data, path, lambda _: draw(st.text(alphabet=st.characters(min_codepoint=0x80), min_size=1)))
    if how == "wrap":
        return replace_at(data, path, lambda value: draw(st.sampled_from([[value], {"x": value}, [value, value]])))
    return replace_at(data, path, lambda _: draw(VALUES))


def to_text(data: Any) -> str:
    """YAML for `data`, deep-nesting placeholders expanded into nested flow lists."""
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    for depth in (30, 60, 200, 1000, 3000):
        text = text.replace(f"{DEEP}{depth}", "[" * depth + "]" * depth)
    return text


@st.composite
def mutated_spec(draw: st.DrawFn) -> str:
    """A shipped spec after a few mutations, maybe with text spliced into its YAML."""
    data = SPECS[draw(st.sampled_from(sorted(SPECS)))]
    for _ in range(draw(st.integers(1, 4))):
        data = draw(mutation(data))
    text = to_text(data)
    if draw(st.booleans()) and draw(st.booleans()):  # a quarter of the cases: text-level damage
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 20))
        text = text[:at] + draw(st.text(max_size=12)) + text[at + cut:]
    return text


def check(text: str) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        problems = validate_file(path)
    assert isinstance(problems, list)
    for line in problems:
        assert isinstance(line, str) and line.strip(), problems
        assert "\n" not in line and "\r" not in line, line
    return problems


@BUDGET
@given(mutated_spec())
def test_mutated_specs_give_problem_lines_never_an_exception(text: str) -> None:
    check(text)


@BUDGET
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_problem_lines(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_bytes(raw)
        problems = validate_file(path)
    assert all(isinstance(line, str) and line.strip() and "\n" not in line for line in problems), problems


def test_the_shipped_specs_are_the_seeds() -> None:
    assert len(SPECS) >= 10 and all(check(to_text(data)) == [] for data in SPECS.values())
