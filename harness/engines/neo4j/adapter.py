"""Neo4j adapter (official driver, sync API): entities as node labels, edge entities as relationships.

A node entity `users` is the label `:users`; its key is a property under a uniqueness
constraint and its declared indexes are range indexes (unique ones: uniqueness constraints).
An edge entity (two `ref` fields to the same node entity, e.g. `follows`: src, dst) is loaded
as relationships of type `FOLLOWS` from the src node to the dst node, carrying its other
fields; `traverse` follows them. Neo4j properties cannot be maps, so a JSON field is stored
as its JSON string; tags are lists of strings, timestamps zoned datetimes.

Every statement is parameterised Cypher run with `session.run` on the adapter's one session
(`execute_query` would retry on its own, inside the timed call) and its whole result is
consumed. Neo4j forces its transaction log to disk on every commit; that is not configurable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit, urlunsplit

from neo4j import Driver, GraphDatabase, Session
from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired

from harness.engines.base import EngineAdapter, Executor, Record
from harness.errors import EngineUnavailable
from harness.spec.models import Entity, Operation, OperationKind, RefField, Workload

SCAN_LIMIT = 100  # as the postgres adapter
DELETE_BATCH = 10_000
INDEX_WAIT_S = 600
_SETTINGS = (
    "db.tx_log.rotation.size", "db.tx_log.rotation.retention_policy", "db.tx_log.preallocate",
    "db.tx_log.buffer.size", "db.checkpoint", "db.checkpoint.interval.time", "db.checkpoint.interval.tx",
    "server.memory.pagecache.size", "server.memory.heap.max_size", "db.transaction.timeout",
    "db.index.fulltext.eventually_consistent", "db.index.fulltext.default_analyzer", "server.threads.worker_count",
)
_MEMORY_BEAN = "java.lang:type=Memory"
_GC_BEANS = {"java.lang:name=G1 Young Generation,type=GarbageCollector": "gc_young",
             "java.lang:name=G1 Old Generation,type=GarbageCollector": "gc_old"}


Params = Callable[[Any, Mapping[str, Any] | None], dict[str, Any]]


def ident(name: str) -> str:
    """A label, type or property name quoted for Cypher (names cannot be parameters)."""
    return "`" + name.replace("`", "``") + "`"


def property_value(value: Any) -> Any:
    """A record value as a Neo4j property: maps (not allowed as properties) become JSON strings."""
    return json.dumps(value, separators=(",", ":")) if isinstance(value, dict) else value


def edge_ends(entity: Entity) -> tuple[str, str, str] | None:
    """(node entity, from field, to field) when `entity` is an edge: two refs to one node entity."""
    refs = [(name, spec.entity) for name, spec in entity.fields.items() if isinstance(spec, RefField)]
    for target in dict.fromkeys(t for _, t in refs):
        names = [name for name, t in refs if t == target]
        if len(names) >= 2:
            return target, names[0], names[1]
    return None


def split_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without `user:password@`, and that basic auth (None: the server runs without auth)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=host)), (unquote(parts.username), unquote(parts.password or ""))


def relationship_type(entity: str) -> str:
    return entity.upper()


def fulltext_index(entity: str, fields: Sequence[str]) -> str:
    return f"dbarena_{entity}_text_{'_'.join(fields)}"


def lucene_query(terms: Sequence[str]) -> str:
    """Any of the terms (Lucene's default OR), each quoted so no word is read as syntax."""
    return " OR ".join('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in terms)


def plan_lines(plan: Mapping[str, Any], depth: int = 0) -> Iterator[str]:
    """A profiled plan as indented text: operator, rows, db hits, details."""
    details = plan.get("args", plan.get("arguments", {})).get("Details", "")
    yield (f"{'  ' * depth}{plan.get('operatorType', '?')} rows={plan.get('rows')} dbHits={plan.get('dbHits')}"
           + (f"  {details}" if details else ""))
    for child in plan.get("children", ()):
        yield from plan_lines(child, depth + 1)


@dataclass(frozen=True)
class Shape:
    """Where an entity's records live: nodes `(n:L)`, or relationships `(a:P)-[n:T]->(b:P)`.

    The record variable is `n` either way; `field` maps a field to the expression holding it
    (an edge's src/dst are the end nodes' keys).
    """

    entity: Entity
    node_key: str | None = None  # edges: the end nodes' key property
    ends: tuple[str, str, str] | None = None

    @property
    def is_edge(self) -> bool:
        return self.ends is not None

    def pattern(self, key_param: str | None = None) -> str:
        key = f" {{{ident(self.entity.key)}: ${key_param}}}" if key_param else ""
        if self.ends is None:
            return f"(n:{ident(self.entity.name)}{key})"
        node = ident(self.ends[0])
        return f"(a:{node})-[n:{ident(relationship_type(self.entity.name))}{key}]->(b:{node})"

    def field(self, name: str) -> str:
        if self.ends is not None and self.node_key is not None and name in self.ends[1:]:
            return f"{'a' if name == self.ends[1] else 'b'}.{ident(self.node_key)}"
        return f"n.{ident(name)}"

    def projection(self, fields: Sequence[str]) -> str:
        if fields:
            return "{" + ", ".join(f"{ident(f)}: {self.field(f)}" for f in fields) + "}"
        if self.ends is None:
            return "n {.*}"
        return "n {.*, " + ", ".join(f"{ident(f)}: {self.field(f)}" for f in self.ends[1:]) + "}"


class Neo4jAdapter(EngineAdapter):
    name = "neo4j"
    client_library = "neo4j"
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset({
        OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.DELETE,
        OperationKind.FIND, OperationKind.RANGE, OperationKind.SCAN, OperationKind.SEARCH,
        OperationKind.TRAVERSE, OperationKind.NATIVE,
    })

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.driver: Driver | None = None
        self.session: Session | None = None
        self._node_keys: dict[str, str] = {}  # node label -> key property, for edges' end nodes

    def connect(self) -> None:
        plain, auth = split_auth(self.url)
        try:
            self.driver = GraphDatabase.driver(plain, auth=auth, connection_timeout=10.0)
            self.driver.verify_connectivity()
            self.session = self.driver.session()
        except (Neo4jError, ServiceUnavailable, OSError, ValueError) as exc:
            self.close()
            raise EngineUnavailable(f"neo4j at {plain} is not reachable: {exc}") from exc

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
        if self.driver is not None:
            self.driver.close()
            self.driver = None

    @property
    def _session(self) -> Session:
        assert self.session is not None, "connect() first"
        return self.session

    def _rows(self, query: str, **params: Any) -> list[Any]:
        return list(self._session.run(query, params))  # type: ignore[arg-type]  # query text is built, not literal

    def is_disconnect(self, error: BaseException) -> bool:
        return isinstance(error, (ServiceUnavailable, SessionExpired, ConnectionError, OSError))

    def unsupported_reason(self, op: Operation) -> str | None:
        if op.kind is OperationKind.AGGREGATE:
            return (f"{self.name} has no time-bucket aggregation; bucketing datetimes by hand in Cypher over a "
                    "label scan would measure a workaround, not the engine")
        if op.ttl_s is not None:
            return f"{self.name} cannot expire nodes (TTL needs the APOC plugin's background job, not part of the server)"
        if any("." in path for path in op.set):
            return (f"{self.name} properties cannot be maps: a JSON field is one string property, so one nested key "
                    "cannot be updated in place")
        return super().unsupported_reason(op)

    # ---- schema and loading ---------------------------------------------------------

    def shape(self, entity: Entity) -> Shape:
        ends = edge_ends(entity)
        if ends is None:
            return Shape(entity)
        return Shape(entity, self._node_key(ends[0]), ends)

    def _node_key(self, label: str) -> str:
        """The key property of a node label, as `prepare` constrained it (workers never ran prepare)."""
        if label not in self._node_keys:
            rows = self._rows("SHOW CONSTRAINTS YIELD name, properties WHERE name = $name RETURN properties",
                              name=f"dbarena_{label}_key")
            if not rows:
                raise ValueError(f"neo4j: no key constraint for label {label!r}; load the workload first")
            self._node_keys[label] = rows[0][0][0]
        return self._node_keys[label]

    def prepare(self, workload: Workload) -> None:
        entities = workload.dataset.entities
        self._node_keys.update({e.name: e.key for e in entities if edge_ends(e) is None})
        shapes = [self.shape(e) for e in entities]
        for shape in sorted(shapes, key=lambda s: not s.is_edge):  # relationships first, then their nodes
            name = shape.entity.name
            match, delete = ((f"()-[n:{ident(relationship_type(name))}]->()", "DELETE n") if shape.is_edge
                             else (f"(n:{ident(name)})", "DETACH DELETE n"))
            while self._rows(f"MATCH {match} WITH n LIMIT {DELETE_BATCH} {delete} RETURN count(*)")[0][0]:
                pass  # batches keep each transaction's memory bounded
        self._drop_schema({e.name for e in entities} | {relationship_type(s.entity.name) for s in shapes if s.is_edge})
        for shape in shapes:
            for statement in self._schema(shape):
                self._rows(statement)
        for op in workload.operations:
            if op.kind is OperationKind.SEARCH:
                fields = ", ".join(f"n.{ident(f)}" for f in op.text_fields)
                self._rows(f"CREATE FULLTEXT INDEX {ident(fulltext_index(op.entity, op.text_fields))} IF NOT EXISTS "
                           f"FOR (n:{ident(op.entity)}) ON EACH [{fields}]")
        self._rows("CALL db.awaitIndexes($seconds)", seconds=INDEX_WAIT_S)

    def _drop_schema(self, names: set[str]) -> None:
        for name, on in self._rows("SHOW CONSTRAINTS YIELD name, labelsOrTypes RETURN name, labelsOrTypes"):
            if set(on or ()) & names:
                self._rows(f"DROP CONSTRAINT {ident(name)} IF EXISTS")
        for name, on in self._rows("SHOW INDEXES YIELD name, labelsOrTypes, owningConstraint, type "
                                   "WHERE owningConstraint IS NULL AND type <> 'LOOKUP' RETURN name, labelsOrTypes"):
            if set(on or ()) & names:
                self._rows(f"DROP INDEX {ident(name)} IF EXISTS")

    @staticmethod
    def _schema(shape: Shape) -> list[str]:
        """Key constraint plus declared indexes; an edge's src/dst need none (adjacency is the index)."""
        entity = shape.entity
        name = entity.name
        target = (f"()-[n:{ident(relationship_type(name))}]-()" if shape.is_edge else f"(n:{ident(name)})")
        statements = [f"CREATE CONSTRAINT {ident(f'dbarena_{name}_key')} FOR {target} "
                      f"REQUIRE n.{ident(entity.key)} IS UNIQUE"]
        ref_fields = set(shape.ends[1:]) if shape.ends else set()
        for number, index in enumerate(entity.indexes):
            if index.fields == (entity.key,) or set(index.fields) & ref_fields:
                continue
            props = ", ".join(f"n.{ident(f)}" for f in index.fields)
            if index.unique:
                statements.append(f"CREATE CONSTRAINT {ident(f'dbarena_{name}_unique{number}')} FOR {target} "
                                  f"REQUIRE ({props}) IS UNIQUE")
            else:
                statements.append(f"CREATE INDEX {ident(f'dbarena_{name}_idx{number}')} FOR {target} ON ({props})")
        return statements

    def load(self, entity: Entity, records: Sequence[Record]) -> None:
        shape = self.shape(entity)
        if shape.ends is None:
            rows = [{k: property_value(v) for k, v in r.items()} for r in records]
            self._session.run(f"UNWIND $rows AS row CREATE (n:{ident(entity.name)}) SET n = row",
                              {"rows": rows}).consume()
            return
        self._session.run(f"UNWIND $rows AS row {self._edge_create(shape, 'row.')}",
                          {"rows": [self._edge_row(shape, r) for r in records]}).consume()

    @staticmethod
    def _edge_row(shape: Shape, record: Mapping[str, Any]) -> dict[str, Any]:
        assert shape.ends is not None
        _, src, dst = shape.ends
        return {"src": record[src], "dst": record[dst],
                "props": {k: property_value(v) for k, v in record.items() if k not in (src, dst)}}

    @staticmethod
    def _edge_create(shape: Shape, prefix: str) -> str:
        """Properties as a map literal: `SET n = map` makes the planner add an Eager (it may clash with the MATCH)."""
        assert shape.ends is not None and shape.node_key is not None
        node, key = ident(shape.ends[0]), ident(shape.node_key)
        props = ", ".join(f"{ident(f)}: {prefix}props.{ident(f)}" for f in shape.entity.fields if f not in shape.ends[1:])
        return (f"MATCH (a:{node} {{{key}: {prefix}src}}), (b:{node} {{{key}: {prefix}dst}}) "
                f"CREATE (a)-[n:{ident(relationship_type(shape.entity.name))} {{{props}}}]->(b)")

    def finish_load(self, workload: Workload) -> None:
        """Indexes online and freshly sampled (the planner's statistics), query statistics from zero."""
        self._rows("CALL db.awaitIndexes($seconds)", seconds=INDEX_WAIT_S)
        self._rows("CALL db.resampleOutdatedIndexes()")
        try:
            if self._rows("CALL db.stats.status() YIELD section, status WHERE section = 'QUERIES' RETURN status")[0][0] \
                    == "collecting":
                for step in ("stop", "clear", "collect"):
                    self._rows(f"CALL db.stats.{step}('QUERIES')")
        except (Neo4jError, IndexError):
            pass  # no query collector on this server; telemetry says so

    # ---- operations -----------------------------------------------------------------

    def statement(self, op: Operation, entity: Entity) -> str:
        """The Cypher one operation runs (also used by tests)."""
        shape, kind = self.shape(entity), op.kind
        returned = f"RETURN {shape.projection(op.project)} AS record"
        limit = f" LIMIT {op.limit}" if op.limit is not None else ""
        order = f" ORDER BY {shape.field(op.sort.field)} {op.sort.order.upper()}" if op.sort is not None else ""
        if kind is OperationKind.READ:
            return f"MATCH {shape.pattern('key')} {returned}"
        if kind is OperationKind.INSERT:
            if shape.is_edge:
                return self._edge_create(shape, "$")
            return f"CREATE (n:{ident(entity.name)}) SET n = $row"
        if kind is OperationKind.UPDATE:
            if set(op.set) & set(shape.ends[1:] if shape.ends else ()):
                raise ValueError(f"neo4j: operation {op.name!r} would move a relationship (sets {op.set})")
            assignments = ", ".join(f"n.{ident(f)} = $v{i}" for i, f in enumerate(op.set))
            return f"MATCH {shape.pattern('key')} SET {assignments} RETURN count(n) AS updated"
        if kind is OperationKind.DELETE:
            return f"MATCH {shape.pattern('key')} {'DELETE' if shape.is_edge else 'DETACH DELETE'} n"
        if kind is OperationKind.SCAN:
            key = shape.field(entity.key)
            return f"MATCH {shape.pattern()} WHERE {key} >= $key {returned} ORDER BY {key} LIMIT {op.limit or SCAN_LIMIT}"
        where = " AND ".join([*(f"{shape.field(f)} = $m{i}" for i, f in enumerate(op.match)),
                              *(f"{shape.field(f)} = $f{i}" for i, f in enumerate(op.filter))])
        if kind is OperationKind.FIND:
            return f"MATCH {shape.pattern()} WHERE {where} {returned}{order}{limit}"
        if kind is OperationKind.RANGE:
            assert op.range_field is not None
            field = shape.field(op.range_field)
            bounds = f"{field} >= $lo AND {field} <= $hi"
            return f"MATCH {shape.pattern()} WHERE {' AND '.join(filter(None, (where, bounds)))} {returned}{order}{limit}"
        if kind is OperationKind.SEARCH:
            if shape.is_edge:
                raise ValueError(f"neo4j: full-text search over relationships ({entity.name}) is not mapped")
            options = ", {limit: $limit}" if op.limit is not None and not where else ""
            return (f"CALL db.index.fulltext.queryNodes($index, $query{options}) YIELD node AS n, score "
                    f"{'WHERE ' + where + ' ' if where else ''}{returned} ORDER BY score DESC{limit}")
        if kind is OperationKind.TRAVERSE:
            return self._traverse(op, entity)
        return op.statements[self.name]

    @staticmethod
    def _traverse(op: Operation, entity: Entity) -> str:
        """k-hop, mutual and shortest-path over the edge entity's relationships (Cypher: no edge repeats)."""
        assert op.edges is not None
        node, key, rel = ident(entity.name), ident(entity.key), ident(relationship_type(op.edges))
        limit = f" LIMIT {op.limit}" if op.limit is not None else ""
        if op.pattern == "k-hop":
            return (f"MATCH (s:{node} {{{key}: $key}})-[:{rel}*{op.hops}..{op.hops}]->(f) WHERE f <> s "
                    f"RETURN DISTINCT f.{key} AS node{limit}")
        if op.pattern == "mutual":
            return (f"MATCH (s:{node} {{{key}: $key}})-[:{rel}]->(m)-[:{rel}]->(s) WHERE m <> s "
                    f"RETURN DISTINCT m.{key} AS node{limit}")
        # Neo4j refuses shortestPath between a node and itself, hence a <> b (no path: 0 hops)
        return (f"MATCH (a:{node} {{{key}: $key}}), (b:{node} {{{key}: $to}}) WHERE a <> b "
                f"MATCH p = shortestPath((a)-[:{rel}*..{op.hops}]->(b)) RETURN length(p) AS hops")

    def bind(self, op: Operation, entity: Entity) -> Executor:
        query, session, kind = self.statement(op, entity), self._session, op.kind
        params, edge = self._params(op, entity), self.shape(entity).is_edge

        if kind is OperationKind.INSERT:
            def insert(key: Any, values: Mapping[str, Any] | None) -> int:
                counters = session.run(query, params(key, values)).consume().counters  # type: ignore[arg-type]
                return counters.relationships_created if edge else counters.nodes_created
            return insert
        if kind is OperationKind.DELETE:
            def delete(key: Any, values: Mapping[str, Any] | None) -> int:
                counters = session.run(query, params(key, values)).consume().counters  # type: ignore[arg-type]
                return counters.relationships_deleted if edge else counters.nodes_deleted
            return delete
        if kind is OperationKind.UPDATE or (kind is OperationKind.TRAVERSE and op.pattern == "shortest-path"):
            def single(key: Any, values: Mapping[str, Any] | None) -> int:  # records updated; path length
                rows = list(session.run(query, params(key, values)))  # type: ignore[arg-type]
                return int(rows[0][0]) if rows else 0
            return single

        def returned(key: Any, values: Mapping[str, Any] | None) -> int:
            return len(list(session.run(query, params(key, values))))  # type: ignore[arg-type]
        return returned

    def _params(self, op: Operation, entity: Entity) -> Params:
        """How (key, values) become the statement's parameters, for this operation's kind."""
        kind, shape = op.kind, self.shape(entity)
        fixed = {f"f{i}": v for i, v in enumerate(op.filter.values())}

        def matched(values: Mapping[str, Any] | None) -> dict[str, Any]:
            assert values is not None
            return {**fixed, **{f"m{i}": property_value(values[f]) for i, f in enumerate(op.match)}}

        def given(values: Mapping[str, Any] | None) -> Mapping[str, Any]:
            assert values is not None, f"{kind.value} needs values"
            return values

        if kind is OperationKind.INSERT and shape.is_edge:
            return lambda key, values: self._edge_row(shape, given(values))
        if kind is OperationKind.INSERT:
            return lambda key, values: {"row": {k: property_value(v) for k, v in given(values).items()}}
        if kind is OperationKind.UPDATE:
            return lambda key, values: {"key": key, **{f"v{i}": property_value(given(values)[f])
                                                       for i, f in enumerate(op.set)}}
        if kind is OperationKind.FIND:
            return lambda key, values: matched(values)
        if kind is OperationKind.RANGE:
            return lambda key, values: {**matched(values), "lo": given(values)["_from"], "hi": given(values)["_to"]}
        if kind is OperationKind.SEARCH:
            index, limit = fulltext_index(entity.name, op.text_fields), op.limit
            return lambda key, values: {**matched(values), "index": index, "limit": limit,
                                        "query": lucene_query(given(values)["_terms"])}
        if kind is OperationKind.TRAVERSE:
            return lambda key, values: {"key": key, "to": (values or {}).get("_to")}
        if kind is OperationKind.NATIVE:
            return lambda key, values: {"key": key, **(values or {})}
        return lambda key, values: {"key": key}

    def explain(self, op: Operation, entity: Entity, key: Any, values: Mapping[str, Any] | None) -> str | None:
        """PROFILE of the operation (rows and db hits per operator), rolled back so writes leave no trace."""
        query = "PROFILE " + self.statement(op, entity)
        with self._session.begin_transaction() as tx:
            result = tx.run(query, self._params(op, entity)(key, values))  # type: ignore[arg-type]
            profile = result.consume().profile
            tx.rollback()
        return "\n".join(plan_lines(profile)) if profile else None

    # ---- manifest and telemetry -----------------------------------------------------

    def server_version(self) -> str:
        assert self.driver is not None, "connect() first"
        agent = self.driver.get_server_info().agent  # "Neo4j/5.26.30"
        return agent.split("/", 1)[-1]

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"commit_durability": "transaction log forced to disk on every commit (not configurable)"}
        try:
            out["edition"] = self._rows("CALL dbms.components() YIELD edition RETURN edition")[0][0]
            config = dict(self._rows("CALL dbms.listConfig() YIELD name, value RETURN name, value"))
        except Neo4jError as exc:
            out["config"] = f"unavailable ({exc.code}): dbms.listConfig() is not allowed here"
            return out
        out.update({name: config.get(name) for name in _SETTINGS})
        out["jvm_heap_max_bytes"] = self._jvm().get("heap_max_bytes")  # embedded servers size it with -Xmx
        return out

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        out: dict[str, Any] = {"nodes": {}, "relationships": {}}
        for entity in workload.dataset.entities:
            shape = self.shape(entity)
            if shape.is_edge:
                rel = relationship_type(entity.name)
                out["relationships"][rel] = self._rows(f"MATCH ()-[r:{ident(rel)}]->() RETURN count(r)")[0][0]
            else:
                out["nodes"][entity.name] = self._rows(f"MATCH (n:{ident(entity.name)}) RETURN count(n)")[0][0]
        out["top_statements"] = self._query_statistics()
        out["jvm"] = self._jvm()
        return out

    def _query_statistics(self) -> list[dict[str, Any]] | str:
        """Per-statement calls and server time from the query collector (db.stats), busiest first."""
        try:
            rows = self._rows("CALL db.stats.retrieve('QUERIES') YIELD data RETURN data")
        except Neo4jError as exc:
            return f"unavailable ({exc.code})"
        stats = []
        for (data,) in rows:
            summary = data.get("invocationSummary", {})
            stats.append({"query": data.get("query"), "calls": summary.get("invocationCount", 0),
                          "mean_exec_us": summary.get("executionTimeInUs", {}).get("avg"),
                          "max_exec_us": summary.get("executionTimeInUs", {}).get("max")})
        return sorted(stats, key=lambda s: -s["calls"])[:20]

    def _jvm(self) -> dict[str, Any]:
        """Heap and GC from JMX; community registers no page-cache beans, so hits/faults are absent."""
        try:
            beans = {name: attrs for name, attrs in self._rows(
                "CALL dbms.queryJmx('*:*') YIELD name, attributes RETURN name, attributes")
                if name == _MEMORY_BEAN or name in _GC_BEANS or name.startswith("org.neo4j:")}
        except Neo4jError as exc:
            return {"unavailable": exc.code}
        out: dict[str, Any] = {}
        memory = beans.get(_MEMORY_BEAN, {}).get("HeapMemoryUsage", {}).get("value", {}).get("properties")
        if memory:
            out["heap_used_bytes"], out["heap_max_bytes"] = memory.get("used"), memory.get("max")
        for bean, label in _GC_BEANS.items():
            attrs = beans.get(bean, {})
            if "CollectionCount" in attrs:
                out[f"{label}_count"] = attrs["CollectionCount"].get("value")
                out[f"{label}_ms"] = attrs["CollectionTime"].get("value")
        page_cache = {name: {k: v.get("value") for k, v in attrs.items() if k in ("Hits", "Faults", "HitRatio")}
                      for name, attrs in beans.items() if "Page cache" in name or "PageCache" in name}
        out["page_cache"] = page_cache or "not exposed (Neo4j community registers no page-cache MBeans)"
        return out
