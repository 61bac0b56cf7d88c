"""`explain` renders exactly what the engines' golden files say each library operation sends (the golden
files are checked against the adapters by the engines' own tests), and each refusal with its reason.

A call that is more than its operation's own statement (a `read_first` update reads first; a `write: one`
update sends the single-field statement of the field it draws: kv-cache's update and read-modify-write,
YCSB A and F) is spelled out below for every engine, and checked against what the runner's executor
really sends: PostgreSQL's pg_stat_statements and Redis's MONITOR.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from harness.dataset.generate import dataset_factories
from harness.engines.calls import Change
from harness.engines.explain import Explained, ExplainedOperation, explain
from harness.engines.registry import create_adapter
from harness.engines.updates import bind_call, one_field_update, read_before
from harness.errors import UserError
from harness.spec.loader import load_workload
from tests.engines.helpers import ROOT, load_all, workload

ENGINES = Path(__file__).parent
LIBRARY = sorted(path.stem for path in (ROOT / "workloads").glob("*.yaml"))
ENGINES_SHOWN = ("postgres", "mongodb", "ferretdb", "redis", "elasticsearch", "opensearch", "influxdb", "neo4j")


def one_statement(name: str, op: ExplainedOperation) -> bool:
    """Whether a call of the library operation sends its own statement alone (the golden files hold those)."""
    spec_op = next(o for o in load_workload(ROOT / "workloads" / f"{name}.yaml").operations if o.name == op.name)
    return read_before(spec_op) is None and one_field_update(spec_op) is None


def test_the_library_has_composed_calls_only_in_kv_cache() -> None:
    """The calls spelled out below are every library call that is more than its operation's statement."""
    composed = {(name, op.name) for name in LIBRARY for op in explain(workload(name, 100), "postgres").operations
                if not one_statement(name, op)}
    assert composed == {("kv-cache", "update"), ("kv-cache", "read-modify-write")}


def test_postgres_setup_and_statements_are_the_golden_sql() -> None:
    golden = (ENGINES / "postgres" / "statements.golden.sql").read_text(encoding="utf-8")
    for name in LIBRARY:
        explained = explain(load_workload(ROOT / "workloads" / f"{name}.yaml"), "postgres")
        assert explained.setup and all(f"{ddl};\n" in golden for ddl in explained.setup), name
        for op in explained.operations:
            if op.unsupported is not None:
                assert f"-- {name}/{op.name}: n/a ({op.unsupported})\n" in golden
            for text in op.sends if one_statement(name, op) else ():
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
            if not one_statement(name, op):
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
            if op.sends and not one_statement(name, op):
                continue
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
            if not one_statement(name, op):
                continue
            expected = [line.split(" ")[:2] for line in block.splitlines()[1:] if line[:2] in ("> ", "| ")]
            assert [line.split(" ")[:2] for line in op.sends] == expected, (name, op.name)


def test_the_fake_engine_is_one_line() -> None:
    with pytest.raises(UserError, match=r"^explain does not render fake \(an in-memory test engine, no statements\); "
                                        r"it renders postgres, "):
        explain(workload("kv-cache", 100), "fake")


# ---- calls that are more than one statement: kv-cache's update (write: one) and read-modify-write -----------


def kv_sample() -> tuple[str, str]:
    """The sample call's key (record 0) and the new field0 value (record 1's), as explain's argument takes them."""
    factory = dataset_factories(workload("kv-cache", 100))["usertable"]
    return factory.key_of(0), factory.value("field0", 1)


def expected_kv_calls(engine: str) -> tuple[list[str], list[str]]:
    """(read, write) as each engine's executor sends them for the sample call: the read of every field, the
    write of field0 alone (regular expressions: Redis's script digest is the server's SHA-1 of the script)."""
    key, value = kv_sample()
    fields = ", ".join(f'"usertable"."{f}"' for f in ["ycsb_key", *(f"field{i}" for i in range(10))])
    document = {"postgres": (f'SELECT {fields} FROM "usertable" WHERE "ycsb_key" = %s',
                             'UPDATE "usertable" SET "field0" = %s WHERE "ycsb_key" = %s'),
                "neo4j": ("MATCH (n:`usertable` {`ycsb_key`: $key}) RETURN n {.*} AS record",
                          "MATCH (n:`usertable` {`ycsb_key`: $key}) SET n.`field0` = $v0 RETURN count(n) AS updated"),
                "redis": (f"> HGETALL dbarena:usertable:{key}",
                          f"> EVALSHA [0-9a-f]{{40}} 1 dbarena:usertable:{key} 0 1 field0 {value}")}
    mongo = (f'usertable: {{"find_one": {{"_id": "{key}"}}, "projection": null}}',
             f'usertable: {{"update_one": {{"_id": "{key}"}}, "update": {{"$set": {{"field0": "{value}"}}}}}}')
    search = (json.dumps({"get": "dbarena-usertable", "id": key, "_source_includes": None}),
              json.dumps({"update": "dbarena-usertable", "id": key, "body": {"doc": {"field0": value}}}))
    flux = ('flux: from(bucket: "dbarena/autogen") |> range(start: 0) |> filter(fn: (r) => r._measurement == '
            f'"usertable" and r["ycsb_key"] == "{key}") |> last() |> pivot(rowKey: ["ycsb_key"], '
            'columnKey: ["_field"], valueColumn: "_value")',
            f'write: usertable,ycsb_key={key} field0="{value}" 1767225600000000000')
    read, write = {**document, "mongodb": mongo, "ferretdb": mongo, "elasticsearch": search, "opensearch": search,
                   "influxdb": flux}[engine]
    return [re.escape(read) if engine != "redis" else read], [write if engine == "redis" else re.escape(write)]


def expected_kv_parameters(engine: str) -> tuple[list[Any], list[Any]]:
    key, value = kv_sample()
    if engine == "postgres":
        return [[key]], [[value, key]]
    if engine == "neo4j":
        return [{"key": key}], [{"key": key, "v0": value}]
    return [], []  # the text is the whole command


@pytest.mark.parametrize("engine", ENGINES_SHOWN)
def test_an_update_sends_one_drawn_field_and_read_modify_write_reads_first(engine: str) -> None:
    ops = {op.name: op for op in explain(workload("kv-cache", 100), engine).operations}
    read, write = expected_kv_calls(engine)
    read_parameters, write_parameters = expected_kv_parameters(engine)
    for name, sends, parameters in (("update", write, write_parameters),
                                    ("read-modify-write", read + write, read_parameters + write_parameters)):
        op = ops[name]
        assert len(op.sends) == len(sends) and all(re.fullmatch(p, t) for p, t in zip(sends, op.sends)), (name, op)
        assert [json.loads(p) for p in op.parameters] == parameters, name
        assert op.note is not None and "shown for field0" in op.note
    assert ops["read-modify-write"].note.startswith("reads the record, then writes it")  # type: ignore[union-attr]
    assert "reads" not in ops["update"].note  # type: ignore[operator]


def _sent_by_executor(engine: str, url: str, op_name: str) -> tuple[Explained, Any]:
    """Load 100 kv-cache records on `engine`; explain's rendering and the runner's executor of `op_name`
    (harness.runner.worker.bind_operation binds with bind_call; imported here without gevent)."""
    spec = workload("kv-cache", 100)
    adapter = create_adapter(engine, url)
    adapter.connect()
    load_all(adapter, spec)
    op = next(o for o in spec.operations if o.name == op_name)
    return explain(spec, engine), (adapter, bind_call(adapter, op, spec))


def _numbered(text: str) -> str:
    """psycopg's %s placeholders as the server sees them ($1, $2, ...)."""
    count = iter(range(1, 100))
    return re.sub("%s", lambda _: f"${next(count)}", text)


@pytest.mark.postgres
@pytest.mark.parametrize("op_name", ["update", "read-modify-write"])
def test_postgres_receives_what_explain_shows(postgres_url: str, op_name: str) -> None:
    explained, (adapter, execute) = _sent_by_executor("postgres", postgres_url, op_name)
    shown = next(op for op in explained.operations if op.name == op_name)
    key, value = kv_sample()
    try:
        with psycopg.connect(postgres_url, autocommit=True) as check:
            check.execute("SELECT pg_stat_statements_reset()")
            assert execute(Change(key, {"field0": value})) == 1
            rows = check.execute("SELECT query, calls FROM pg_stat_statements WHERE query LIKE %s",
                                 ('%"usertable"%',)).fetchall()
            stored = check.execute("SELECT field0 FROM usertable WHERE ycsb_key = %s", (key,)).fetchone()
    finally:
        adapter.close()
    assert sorted((query, calls) for query, calls in rows) == sorted((_numbered(t), 1) for t in shown.sends)
    assert stored == (value,)


@pytest.mark.redis
@pytest.mark.parametrize("op_name", ["update", "read-modify-write"])
def test_redis_receives_what_explain_shows(redis_url: str, op_name: str) -> None:
    explained, (adapter, execute) = _sent_by_executor("redis", redis_url, op_name)
    shown = next(op for op in explained.operations if op.name == op_name)
    key, value = kv_sample()
    execute(Change(key, {"field0": value}))  # once unmonitored: a script the server lacks is loaded here
    client = redis.Redis.from_url(redis_url)
    try:
        with client.monitor() as monitor:
            execute(Change(key, {"field0": value}))
            client.ping()  # the end mark, on the monitoring client's own connection pool
            seen: list[str] = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(seen) < 20:
                seen_command = monitor.next_command()
                if seen_command["command"] == "PING":
                    break
                if seen_command["client_type"] != "lua":  # what the script ran inside the server: not sent
                    seen.append(seen_command["command"])
        stored = client.hget(f"dbarena:usertable:{key}", "field0")
    finally:
        client.close()
        adapter.close()
    assert seen == [line[2:] for line in shown.sends]
    assert stored == value.encode()


@pytest.mark.redis
def test_redis_explain_prints_the_script_its_evalsha_names(redis_url: str) -> None:
    """Each EVALSHA's script is given once, exact: the server's own SCRIPT LOAD of the body answers that SHA1."""
    from harness.cli.describe import explained_lines

    explained = explain(load_workload(ROOT / "workloads" / "kv-cache.yaml"), "redis")
    named = {send.split()[2] for op in explained.operations for send in op.sends if send.split()[1] == "EVALSHA"}
    assert named and set(explained.scripts) == named
    client = redis.Redis.from_url(redis_url)
    try:
        assert {client.script_load(body) for body in explained.scripts.values()} == named
    finally:
        client.close()
    text = "\n".join(explained_lines(explained))
    sha = named.pop()
    assert text.count(f"script {sha}:") == 1 and text.count(f"EVALSHA {sha}") >= 2  # update and read-modify-write
    assert text.index(f"EVALSHA {sha}") < text.index(f"script {sha}:")
    assert all(f"      {line}" in text for line in explained.scripts[sha].strip("\n").splitlines())
    assert explain(load_workload(ROOT / "workloads" / "kv-cache.yaml"), "postgres").scripts == {}
