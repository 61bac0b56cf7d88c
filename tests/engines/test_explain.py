"""`explain` renders exactly what the engines' golden files say each library operation sends (the golden
files are checked against the adapters by the engines' own tests), and each refusal with its reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.engines.explain import explain
from harness.errors import UserError
from harness.spec.loader import load_workload
from tests.engines.helpers import ROOT, workload

ENGINES = Path(__file__).parent
LIBRARY = sorted(path.stem for path in (ROOT / "workloads").glob("*.yaml"))


def test_postgres_setup_and_statements_are_the_golden_sql() -> None:
    golden = (ENGINES / "postgres" / "statements.golden.sql").read_text(encoding="utf-8")
    for name in LIBRARY:
        explained = explain(load_workload(ROOT / "workloads" / f"{name}.yaml"), "postgres")
        assert explained.setup and all(f"{ddl};\n" in golden for ddl in explained.setup), name
        for op in explained.operations:
            if op.unsupported is not None:
                assert f"-- {name}/{op.name}: n/a ({op.unsupported})\n" in golden
            for text in op.sends:
                assert f"\n{text};\n" in golden, (name, op.name, text)


@pytest.mark.parametrize(("engine", "golden_name"), [("mongodb", "mongodb"), ("opensearch", "search")])
def test_document_engines_send_the_golden_documents(engine: str, golden_name: str) -> None:
    golden = json.loads((ENGINES / golden_name / "statements.golden.json").read_text(encoding="utf-8"))
    compared = 0
    for name in LIBRARY:
        for op in explain(workload(name, 100), engine).operations:
            entry = golden[name][op.name]
            if op.unsupported is not None:
                assert entry == {"refused": op.unsupported}
                continue
            (text,) = op.sends
            sent = json.loads(text.split(": ", 1)[1] if engine == "mongodb" else text)
            assert sent == entry["sends"], (name, op.name)
            compared += 1
    assert compared >= 20


def test_influxdb_sends_the_golden_flux_and_line_protocol() -> None:
    golden = (ENGINES / "influxdb" / "statements.golden.txt").read_text(encoding="utf-8")
    blocks = dict(block.split("\n", 1) for block in re.split(r"^== ", golden, flags=re.MULTILINE)[1:])
    for name in LIBRARY:
        for op in explain(workload(name, 100), "influxdb").operations:
            body = blocks[f"{name} / {op.name} ({op.kind})"].strip()
            assert body == (f"refused: {op.unsupported}" if op.unsupported else op.sends[0]), (name, op.name)


def test_neo4j_cypher_and_constraints_are_the_golden_cypher() -> None:
    golden = (ENGINES / "neo4j" / "statements.golden.txt").read_text(encoding="utf-8")
    explained = explain(workload("social-graph", 100), "neo4j")
    assert any("CONSTRAINT" in s for s in explained.setup)
    sent = [op for op in explained.operations if op.sends]
    assert {op.name for op in sent} == {"friends-of-friends", "mutual-follows", "connection-path", "follow",
                                        "profile"} & {op.name for op in explained.operations}
    for op in sent:
        assert f"\n{op.sends[0]}\n" in golden and json.loads(op.parameters[0]), op.name


def test_redis_sends_the_golden_commands() -> None:
    """The same commands in the same order, one pipeline or not, as the golden file (which samples other records)."""
    golden = (ENGINES / "redis" / "statements.golden.txt").read_text(encoding="utf-8")
    blocks = {block.split(" (")[0]: block for block in re.split(r"^== ", golden, flags=re.MULTILINE)[1:]}
    for name in LIBRARY:
        for op in explain(workload(name, 100), "redis").operations:
            block = blocks[f"{name} / {op.name}"]
            if op.unsupported is not None:
                assert f"\nrefused: {op.unsupported}\n" in block
                continue
            expected = [line.split(" ")[:2] for line in block.splitlines()[1:] if line[:2] in ("> ", "| ")]
            assert [line.split(" ")[:2] for line in op.sends] == expected, (name, op.name)


def test_the_fake_engine_is_one_line() -> None:
    with pytest.raises(UserError, match=r"^explain does not render fake \(an in-memory test engine, no statements\); "
                                        r"it renders postgres, "):
        explain(workload("kv-cache", 100), "fake")
