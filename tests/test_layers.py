"""The package's import graph: no cycles, and every import goes down the layer order.

    base (errors, models, paths, redact, signals) -> spec -> dataset -> metrics -> engines -> provision
    -> runner -> results -> compare -> studies -> report -> cli

A module may import modules of its own layer or of layers before it, never after. Imports
inside functions count too (a lazy import is still a dependency); "module:Class" strings
resolved at run time (the engine table) are not imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "harness"
LAYERS = ("base", "spec", "dataset", "metrics", "engines", "provision", "runner", "results", "compare",
          "studies", "report", "cli")
BASE = {"harness", "harness.errors", "harness.models", "harness.paths", "harness.redact", "harness.signals"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    if module in BASE:
        return 0
    top = module.split(".")[1]
    assert top in LAYERS, f"{module}: harness/{top} is in no layer; add it to LAYERS in {__file__}"
    return LAYERS.index(top)


def imports_of(module: str) -> Iterator[str]:
    """The harness modules `module` imports (a `from pkg import sub` names the submodule)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] == "harness")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "harness":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield sub if sub in MODULES else node.module


GRAPH = {module: {target for target in imports_of(module) if target != module} for module in MODULES}


def test_every_import_goes_down_the_layer_order() -> None:
    wrong = sorted(f"{module} ({LAYERS[layer_of(module)]}) imports {target} ({LAYERS[layer_of(target)]})"
                   for module, targets in GRAPH.items() for target in targets
                   if layer_of(target) > layer_of(module))
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components of more than one module (each one is a cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    cycles = strongly_connected(GRAPH)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []
