"""What an engine would be sent for a workload, rendered without connecting: `dbarena explain`.

For each engine it renders, the schema the adapter creates in `prepare` and, per operation, the exact
statement or command its executor sends (each engine's statements.py builds them, as the adapters
do) with the parameters of one sample call (harness.engines.samples: the dataset's first records).
An operation the engine cannot run is listed with the adapter's reason. The engines' golden files
(tests/engines/<engine>/statements.golden.*) hold the same texts for each operation's own statement.

One call is rendered as the runner's executor runs it (harness.engines.updates.call_parts, the steps
`bind_call` binds): a `read_first` update (YCSB read-modify-write) sends the record's read, then its
write; a `write: one` update (YCSB writeallfields=false) sends the single-field statement of the one
field the call draws, shown for the first field of its `set` (the note says so).

Rendered for every engine but the fake one: postgres, mongodb and ferretdb, influxdb, neo4j,
elasticsearch and opensearch, redis (`>` one command, `|` queued on one pipeline; where the next
command depends on what the first returns, the dataset's first records stand for the answer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

from pydantic import Field

from harness.dataset.generate import RecordFactory, dataset_factories
from harness.engines.calls import Change
from harness.engines.registry import create_adapter, engine_info
from harness.engines.samples import sample_argument
from harness.engines.updates import call_parts, one_field_update, read_before
from harness.errors import UserError
from harness.models import Frozen
from harness.spec.models import NativeOp, Operation, SearchOp, Workload

CALL_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)  # the wall-clock time a sample write is shown at


class ExplainedOperation(Frozen):
    """One operation: what it sends (statements in order) and the sample call's parameters, or why not."""

    name: str
    kind: str
    weight: float
    sends: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()  # JSON, one per statement of `sends` (empty where the text is complete)
    unsupported: str | None = None
    note: str | None = None  # how a call varies from the sample shown (read first, one field drawn per call)


class Explained(Frozen):
    """A workload on one engine: the schema statements, then each operation."""

    engine: str
    workload: str
    setup: tuple[str, ...]  # what prepare() runs: tables, indexes, constraints
    operations: tuple[ExplainedOperation, ...]
    scripts: dict[str, str] = Field(default_factory=dict)  # SHA1 -> body of each server-side script a send names (redis EVALSHA: Lua)


Sends = tuple[tuple[str, ...], tuple[str, ...]]  # (statements, parameters as JSON)
Renderer = tuple[Callable[[Workload], list[str]], Callable[[Operation, Workload, Any], Sends]]


def as_json(value: Any) -> str:
    """Parameters as JSON: dates in ISO 8601, psycopg's Jsonb as its object, anything else as text."""
    def plain(item: Any) -> Any:
        if isinstance(item, datetime):
            return item.isoformat()
        return getattr(item, "obj", str(item))
    return json.dumps(value, default=plain, ensure_ascii=False, sort_keys=isinstance(value, dict))


# ---- PostgreSQL ------------------------------------------------------------------------------


def _postgres_schema(workload: Workload) -> list[str]:
    from harness.engines.postgres.statements import schema
    return [s.as_string(None) for entity in workload.dataset.entities for s in schema(workload, entity)]


def _postgres_op(op: Operation, workload: Workload, argument: Any) -> Sends:
    from harness.engines.postgres.statements import build, transaction
    listed = isinstance(op, NativeOp) and op.is_transaction("postgres")
    built = transaction(op).statements if isinstance(op, NativeOp) and listed else (build(op, workload),)
    return (tuple(b.query.as_string(None) for b in built),
            tuple(as_json(list(p) if isinstance(p := b.parameters(argument), tuple) else p) for b in built))


# ---- MongoDB / FerretDB ----------------------------------------------------------------------


def _mongo_schema(workload: Workload) -> list[str]:
    from harness.engines.mongodb.statements import field_name
    out = []
    for entity in workload.dataset.entities:
        out += [f"db.dropCollection({entity.name!r})", f"db.createCollection({entity.name!r})"]
        for index in entity.indexes:
            if index.fields != (entity.key,):  # the key is _id, always uniquely indexed
                keys = ", ".join(f"{field_name(entity, f)!r}: 1" for f in index.fields)
                out.append(f"db.{entity.name}.createIndex({{{keys}}}{', {unique: true}' if index.unique else ''})")
    return out


def _mongo_op(engine: str) -> Callable[[Operation, Workload, Any], Sends]:
    def render(op: Operation, workload: Workload, argument: Any) -> Sends:
        from bson import json_util

        from harness.engines.mongodb import statements as st
        built = st.statement(op, workload, engine)
        sent = _mongo_sent(st, built, argument)
        text = json_util.dumps(sent, json_options=json_util.RELAXED_JSON_OPTIONS)
        return (f"{op.entity}: {text}",), ()
    return render


def _mongo_sent(st: Any, built: Any, argument: Any) -> dict[str, Any]:
    """The pymongo call and its documents, as tests/engines/mongodb/statements.golden.json records them."""
    if isinstance(built, st.Read):
        return {"find_one": built.filter(argument), "projection": built.projection}
    if isinstance(built, st.Insert):
        return {"insert_one": built.document(argument)}
    if isinstance(built, st.Update):
        return {"update_one": built.filter(argument), "update": built.update(argument)}
    if isinstance(built, st.Delete):
        return {"delete_one": built.filter(argument)}
    if isinstance(built, st.Scan):
        return {"find": built.filter(argument.key), "projection": built.projection, "sort": built.sort,
                "limit": argument.length}
    if isinstance(built, st.Find):
        return {"find": built.filter(argument), "projection": built.projection, "sort": built.sort, "limit": built.limit}
    if isinstance(built, st.Range):
        return {"find": built.filter(argument), "projection": built.find.projection, "sort": built.find.sort,
                "limit": built.find.limit}
    return {"cursor_command" if built.returns_cursor else "command": built.command(argument)}


# ---- InfluxDB --------------------------------------------------------------------------------


def _influx_schema(workload: Workload) -> list[str]:
    return [f"-- no schema: measurement {e.name} is created by its first point"
            + (f" (tags: {', '.join(e.series)})" if e.series else "") for e in workload.dataset.entities]


def _influx_op(op: Operation, workload: Workload, argument: Any) -> Sends:
    from harness.engines.influxdb.statements import Flux, build
    bucket = parse_qs(urlparse(engine_info("influxdb").default_url).query)["bucket"][0]  # as the adapter's default
    built = build(op, workload, bucket)
    if isinstance(built, Flux):
        return (f"flux: {built.text(argument)}",), ()
    call_ns = int(CALL_TIME.timestamp()) * 10**9
    return (f"write: {built.point(argument, call_ns).to_line_protocol()}",), ()


# ---- Neo4j -----------------------------------------------------------------------------------


def _neo4j_schema(workload: Workload) -> list[str]:
    from harness.engines.neo4j import schema, statements
    out = [s for shape in statements.shapes(workload).values() for s in schema.constraints(shape)]
    return out + [schema.fulltext_schema(op) for op in workload.operations if isinstance(op, SearchOp)]


def _neo4j_op(op: Operation, workload: Workload, argument: Any) -> Sends:
    from harness.engines.neo4j.statements import build
    built = build(op, workload)
    return (built.cypher,), (as_json(built.parameters(argument)),)


# ---- Elasticsearch / OpenSearch --------------------------------------------------------------


def _search_schema(workload: Workload) -> list[str]:
    from harness.engines.search.statements import index_body, index_name
    out = []
    for entity in workload.dataset.entities:
        name = index_name(entity.name)
        out += [f"DELETE /{name}", f"PUT /{name} {json.dumps(index_body(entity), ensure_ascii=False)}"]
    return out


def _search_op(op: Operation, workload: Workload, argument: Any) -> Sends:
    from harness.engines.search import statements as st
    built = st.build(op, workload.entity(op.entity))
    return (json.dumps(_search_sent(st, built, argument), ensure_ascii=False, default=str),), ()


def _search_sent(st: Any, built: Any, argument: Any) -> dict[str, Any]:
    """The request, its index, document id and body, as tests/engines/search/statements.golden.json records them."""
    if isinstance(built, st.Get):
        return {"get": built.index, "id": built.doc_id(argument), "_source_includes": built.source}
    if isinstance(built, st.Delete):
        return {"delete": built.index, "id": built.doc_id(argument)}
    if isinstance(built, st.Index):
        return {"index": built.index, "id": built.doc_id(argument), "body": built.body(argument)}
    if isinstance(built, st.Update):
        return {"update": built.index, "id": built.doc_id(argument), "body": built.body(argument)}
    if isinstance(built, st.Search):
        return {"search": built.index, "body": built.body(argument)}
    return {"aggregate": built.index, "body": built.body(argument)}


# ---- Redis -----------------------------------------------------------------------------------


def _redis_schema(workload: Workload) -> list[str]:
    from harness.engines.redis.index import PREFIX
    return [f"UNLINK every key matching {PREFIX}:{e.name}:* (no schema: record k is the hash {PREFIX}:{e.name}:k; "
            "declared indexes are sets, sorted sets or hashes kept on each write)" for e in workload.dataset.entities]


def _redis_op(op: Operation, workload: Workload, argument: Any) -> Sends:
    """The commands for the sample call: `>` one command, `|` queued on one pipeline (as the golden file)."""
    from harness.engines.redis.statements import build
    factory = dataset_factories(workload)[op.entity]
    return tuple(_redis_commands(build(op, workload), factory, argument)), ()


def _redis_words(mark: str, commands: Sequence[Sequence[Any]]) -> list[str]:
    def word(arg: Any) -> str:
        text = arg.decode() if isinstance(arg, bytes) else repr(arg) if isinstance(arg, float) else str(arg)
        return json.dumps(text) if not text or any(c.isspace() or c == '"' for c in text) else text
    return [f"{mark} " + " ".join(word(arg) for arg in command) for command in commands]


def _redis_commands(statement: Any, factory: RecordFactory, argument: Any) -> list[str]:
    """The commands `statement` sends for `argument`, the record read back being the dataset's record 0."""
    from harness.engines.redis import statements as st
    from harness.engines.redis.index import text_of
    record = factory.record(0)
    key = record[factory.key_field]
    stored = {f: text_of(v).encode() for f, v in record.items()}
    if isinstance(statement, (st.Read, st.NativeCommand)):
        return _redis_words(">", [statement.command(argument)])
    if isinstance(statement, st.Write):
        return _redis_words("|", statement.commands(argument))
    if isinstance(statement, st.Traversal):
        frontier = [text_of(factory.key_of(i)).encode() for i in (1, 2)]
        return _redis_words(">", _redis_walk(statement, argument, frontier))
    if isinstance(statement, st.Update):
        first, then = statement.read_indexed(key), [statement.evalsha(argument),
                                                    *statement.moves(key, stored, argument.values)]
    elif isinstance(statement, st.Delete):
        first, then = statement.read_indexed(key), [statement.command(argument), *statement.removals(key, stored)]
    else:
        members = [text_of(key).encode(), text_of(factory.key_of(1)).encode()]
        if isinstance(statement, st.UniqueLookup):
            return _redis_words(">", [statement.lookup(argument), statement.record(members[0])])
        return [*_redis_words(">", [statement.command(argument)]), *_redis_words("|", statement.fetch.commands(members))]
    return [*_redis_words(">", [first]), *_redis_words("|", then)] if statement.indexed else _redis_words(">", then[:1])


def _redis_walk(walk: Any, argument: Any, frontier: list[bytes]) -> list[Any]:
    """A traversal's first command, and for k-hop the next hop's over a sample `frontier` (the nodes found
    depend on the data; one such command per further hop)."""
    if walk.pattern == "shortest-path":
        source, _ = walk.ends(argument)
        return [walk.union([source])]
    start = walk.node(argument)
    return [walk.mutual(start)] if walk.pattern == "mutual" else [walk.neighbours(start), walk.union(frontier)]


RENDERERS: dict[str, Renderer] = {
    "postgres": (_postgres_schema, _postgres_op),
    "mongodb": (_mongo_schema, _mongo_op("mongodb")),
    "ferretdb": (_mongo_schema, _mongo_op("ferretdb")),
    "influxdb": (_influx_schema, _influx_op),
    "neo4j": (_neo4j_schema, _neo4j_op),
    "redis": (_redis_schema, _redis_op),
    "elasticsearch": (_search_schema, _search_op),
    "opensearch": (_search_schema, _search_op),
}


def explain(workload: Workload, engine: str) -> Explained:
    """`workload` (every operation as written, weight 0 included) on `engine`, without connecting.

    Raises UserError (one line) for an unknown engine or one whose statements are not rendered here.
    """
    info = engine_info(engine)
    if engine not in RENDERERS:
        raise UserError(f"explain does not render {engine} (an in-memory test engine, no statements); "
                        f"it renders {', '.join(RENDERERS)}")
    adapter = create_adapter(engine, info.default_url)  # never connected: only its unsupported_reason
    render_schema, render_op = RENDERERS[engine]
    factories = dataset_factories(workload)
    ops = []
    for op in workload.operations:
        base = {"name": op.name, "kind": str(op.kind.value), "weight": op.weight}
        reason = adapter.unsupported_reason(op, workload)
        if reason is not None:
            ops.append(ExplainedOperation(**base, unsupported=reason))
            continue
        sends, parameters = _call(op, workload, _argument(op, factories[op.entity]), render_op)
        ops.append(ExplainedOperation(**base, sends=sends, parameters=parameters, note=_note(op)))
    return Explained(engine=engine, workload=workload.name, setup=tuple(render_schema(workload)),
                     operations=tuple(ops), scripts=_scripts(engine, ops))


def _scripts(engine: str, ops: Sequence[ExplainedOperation]) -> dict[str, str]:
    """The body of each script the sends call by SHA1 (redis `EVALSHA sha`: the Lua SCRIPT LOAD sent), so the
    explanation is the exact statement; {} when none is."""
    if engine != "redis":
        return {}
    from harness.engines.redis.statements import UPDATE_SCRIPT, UPDATE_SHA
    used = any(send.split()[1:3] == ["EVALSHA", UPDATE_SHA] for op in ops for send in op.sends)
    return {UPDATE_SHA: UPDATE_SCRIPT} if used else {}  # exact: its SHA1 is the one EVALSHA names


def _call(op: Operation, workload: Workload, argument: Any,
          render_op: Callable[[Operation, Workload, Any], Sends]) -> Sends:
    """What one call sends: each of its steps (harness.engines.updates.call_parts) rendered in order."""
    sends: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()
    for part, part_argument in call_parts(op, argument):
        part_sends, part_parameters = render_op(part, workload, part_argument)
        sends, parameters = sends + part_sends, parameters + part_parameters
    return sends, parameters


def _argument(op: Operation, factory: RecordFactory) -> Any:
    """The sample call's argument; a `write: one` update's call writes the first field of its `set`, as the
    driver's Change of one drawn field does."""
    argument = sample_argument(op, factory, terms=("word", "other"))
    if one_field_update(op) is not None:
        first = next(iter(argument.values))
        return Change(argument.key, {first: argument.values[first]})
    return argument


def _note(op: Operation) -> str | None:
    notes = []
    if read_before(op) is not None:
        notes.append("reads the record, then writes it, timed as one call (read_first, YCSB read-modify-write)")
    update = one_field_update(op)
    if update is not None:
        named = ", ".join(update.set) if len(update.set) <= 3 else f"{update.set[0]} … {update.set[-1]}"
        notes.append(f"writes one of its {len(update.set)} set fields ({named}), drawn "
                     f"uniformly per call (write: one, YCSB writeallfields=false): shown for {update.set[0]}, the "
                     "others send the same statement naming their field")
    return "; ".join(notes) or None
