"""Neo4j adapter (official driver, sync API): lifecycle, schema, bulk load, executors, telemetry.

What each operation sends, and how the workload maps to labels and relationships, is in
`statements.py`; constraints, indexes and the bulk-load statement in `schema.py` (both pure,
no server). Every statement is parameterised Cypher run with `session.run`
on the adapter's one session (`execute_query` would retry on its own, inside the timed call)
and its whole result is consumed. Neo4j forces its transaction log to disk on every commit;
that is not configurable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit, urlunsplit

from neo4j import Driver, GraphDatabase, Query, Session
from neo4j import exceptions as neo4j_errors
from neo4j.exceptions import ConfigurationError, Neo4jError, ServiceUnavailable, SessionExpired

from harness.engines.base import EngineAdapter, Executor, LockHolder, Record
from harness.engines.neo4j import schema, statements
from harness.engines.neo4j.statements import Count, Shape, Statement, ident, relationship_type
from harness.errors import UnsupportedOperation
from harness.spec.models import DEFAULT_OP_TIMEOUT_S, Entity, Operation, SearchOp, Workload, timeout_of

INDEX_WAIT_S = 600
# dataset locks: one :DbarenaLock node per entity (prepare clears the entities' labels only)
LOCK_CONSTRAINT = "CREATE CONSTRAINT dbarena_lock_name IF NOT EXISTS FOR (l:DbarenaLock) REQUIRE l.name IS UNIQUE"
TAKE_LOCK = ("OPTIONAL MATCH (old:DbarenaLock {name: $name}) WHERE old.expires_ms < $now DELETE old "
             "WITH count(*) AS cleared CREATE (:DbarenaLock {name: $name, holder: $holder, expires_ms: $expires})")
_SETTINGS = (
    "db.tx_log.rotation.size", "db.tx_log.rotation.retention_policy", "db.tx_log.preallocate",
    "db.tx_log.buffer.size", "db.checkpoint", "db.checkpoint.interval.time", "db.checkpoint.interval.tx",
    "server.memory.pagecache.size", "server.memory.heap.max_size", "db.transaction.timeout",
    "db.index.fulltext.eventually_consistent", "db.index.fulltext.default_analyzer", "server.threads.worker_count",
)
_MEMORY_BEAN = "java.lang:type=Memory"
_GC_BEANS = {"java.lang:name=G1 Young Generation,type=GarbageCollector": "gc_young",
             "java.lang:name=G1 Old Generation,type=GarbageCollector": "gc_old"}
# a session used in a state it cannot be in (e.g. after its connection broke); not in every 5.x driver
_SESSION_ERRORS: tuple[type[BaseException], ...] = tuple(
    error for error in (getattr(neo4j_errors, "SessionError", None),) if isinstance(error, type))


def split_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without `user:password@`, and that basic auth (None: the server runs without auth)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=host)), (unquote(parts.username), unquote(parts.password or ""))


def plan_lines(plan: Mapping[str, Any], depth: int = 0) -> Iterator[str]:
    """A profiled plan as indented text: operator, rows, db hits, details."""
    details = plan.get("args", plan.get("arguments", {})).get("Details", "")
    yield (f"{'  ' * depth}{plan.get('operatorType', '?')} rows={plan.get('rows')} dbHits={plan.get('dbHits')}"
           + (f"  {details}" if details else ""))
    for child in plan.get("children", ()):
        yield from plan_lines(child, depth + 1)


@dataclass(frozen=True)
class Bolt:
    """The adapter's client: the driver (its connection pool) and the one session every statement runs on."""

    driver: Driver
    session: Session


# ---- executors: one per way of counting ------------------------------------------------------


def _rows(session: Session, statement: Statement, cypher: Query) -> Executor:
    parameters = statement.parameters

    def rows(argument: Any) -> int:
        return len(list(session.run(cypher, parameters(argument))))  # type: ignore[arg-type]  # built text
    return rows


def _single(session: Session, statement: Statement, cypher: Query) -> Executor:
    parameters = statement.parameters

    def single(argument: Any) -> int:  # records updated; a path's length
        rows = list(session.run(cypher, parameters(argument)))  # type: ignore[arg-type]
        return int(rows[0][0]) if rows else 0
    return single


def _counter(session: Session, statement: Statement, cypher: Query) -> Executor:
    parameters, counter = statement.parameters, attrgetter(statement.counter)

    def counted(argument: Any) -> int:  # nodes / relationships created or deleted
        return int(counter(session.run(cypher, parameters(argument)).consume().counters))  # type: ignore[arg-type]
    return counted


# each runs `cypher`: the statement's text with the operation's transaction timeout
EXECUTORS: dict[Count, Callable[[Session, Statement, Query], Executor]] = {
    Count.ROWS: _rows, Count.SINGLE: _single, Count.CREATED: _counter, Count.DELETED: _counter,
}


class Neo4jAdapter(EngineAdapter[Bolt]):
    """One driver and one session; each bound operation runs its statement on that session."""

    client_library = "neo4j"
    supported_kinds = statements.SUPPORTED_KINDS
    # ConfigurationError: the driver's refusal of a URL option it cannot use.
    unreachable_errors: ClassVar[tuple[type[BaseException], ...]] = (Neo4jError, ServiceUnavailable, OSError, ValueError,
                                                                      ConfigurationError)
    url_schemes: ClassVar[tuple[str, ...]] = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
    url_example: ClassVar[str] = "bolt://127.0.0.1:7687 (bolt://USER:PASSWORD@HOST:7687 with auth)"
    disconnect_errors: ClassVar[tuple[type[BaseException], ...]] = (
        ServiceUnavailable, SessionExpired, *_SESSION_ERRORS, ConnectionError, OSError)
    # The transaction timeout (a Query's `timeout`) is enforced by the server, which checks running
    # transactions every `db.transaction.monitor.check.interval` (2 s by default): a timeout surfaces up to
    # that much late, as a ClientError whose code names it (is_timeout). The session stays usable. The
    # driver has no read timeout for a server that stops answering: the runner's guard covers that.
    timeout_errors: ClassVar[tuple[type[BaseException], ...]] = ()
    locks_datasets: ClassVar[bool] = True  # a :DbarenaLock node per entity, name unique (lock_dataset)

    @classmethod
    def patch_process(cls) -> None:
        """In a worker: the driver logs each connection an engine fault broke (ERROR, on stderr);
        the runner counts those calls as errors already, so the driver keeps quiet below CRITICAL."""
        logging.getLogger("neo4j").setLevel(logging.CRITICAL)

    def __init__(self, name: str, url: str, op_timeout_s: float = DEFAULT_OP_TIMEOUT_S) -> None:
        super().__init__(name, url, op_timeout_s)
        self._shapes: dict[str, Shape] = {}  # entity -> shape, from the workload `prepare` was given

    def _open(self) -> Bolt:
        plain, auth = split_auth(self.url)
        driver = GraphDatabase.driver(plain, auth=auth, connection_timeout=10.0)
        try:
            driver.verify_connectivity()
            return Bolt(driver, driver.session())
        except BaseException:
            driver.close()
            raise

    def _shutdown(self, client: Bolt) -> None:
        try:
            client.session.close()
        finally:
            client.driver.close()

    def is_timeout(self, error: BaseException) -> bool:
        return isinstance(error, Neo4jError) and "TransactionTimedOut" in (error.code or "")

    def _rows(self, query: str, **params: Any) -> list[Any]:
        return list(self.client.session.run(query, params))  # type: ignore[arg-type]  # query text is built, not literal

    def unsupported_reason(self, op: Operation, workload: Workload) -> str | None:
        return statements.refusal(op, workload) or super().unsupported_reason(op, workload)

    # ---- schema and loading ---------------------------------------------------------

    def prepare(self, workload: Workload) -> None:
        self._shapes = statements.shapes(workload)
        shapes = list(self._shapes.values())
        for shape in sorted(shapes, key=lambda s: not s.is_edge):  # relationships first, then their nodes
            clear = schema.clear(shape)
            while self._rows(clear)[0][0]:
                pass  # batches keep each transaction's memory bounded
        self._drop_schema({s.entity.name for s in shapes} | {relationship_type(s.entity.name) for s in shapes if s.is_edge})
        for shape in shapes:
            for statement in schema.constraints(shape):
                self._rows(statement)
        for op in workload.operations:
            if isinstance(op, SearchOp):
                self._rows(schema.fulltext_schema(op))
        self._rows("CALL db.awaitIndexes($seconds)", seconds=INDEX_WAIT_S)

    def _drop_schema(self, names: set[str]) -> None:
        for name, on in self._rows("SHOW CONSTRAINTS YIELD name, labelsOrTypes RETURN name, labelsOrTypes"):
            if set(on or ()) & names:
                self._rows(f"DROP CONSTRAINT {ident(name)} IF EXISTS")
        for name, on in self._rows("SHOW INDEXES YIELD name, labelsOrTypes, owningConstraint, type "
                                   "WHERE owningConstraint IS NULL AND type <> 'LOOKUP' RETURN name, labelsOrTypes"):
            if set(on or ()) & names:
                self._rows(f"DROP INDEX {ident(name)} IF EXISTS")

    def load(self, workload: Workload, entity: Entity, records: Sequence[Record]) -> None:
        shape = statements.shape_of(entity, workload)
        rows = [schema.load_row(shape, r) for r in records]
        self.client.session.run(schema.load(shape), {"rows": rows}).consume()  # type: ignore[arg-type]

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

    def bind(self, op: Operation, workload: Workload) -> Executor:
        reason = self.unsupported_reason(op, workload)
        if reason is not None:
            raise UnsupportedOperation(reason)
        statement = statements.build(op, workload)
        cypher = Query(statement.cypher, timeout=timeout_of(op, self.op_timeout_s))  # type: ignore[arg-type]  # built text
        return EXECUTORS[statement.count](self.client.session, statement, cypher)

    def explain(self, op: Operation, workload: Workload, argument: Any) -> str | None:
        """PROFILE of the operation (rows and db hits per operator), rolled back so writes leave no trace,
        within the operation's transaction timeout."""
        statement = statements.build(op, workload)
        with self.client.session.begin_transaction(timeout=timeout_of(op, self.op_timeout_s)) as tx:
            result = tx.run("PROFILE " + statement.cypher, statement.parameters(argument))  # type: ignore[arg-type]
            profile = result.consume().profile
            tx.rollback()
        return "\n".join(plan_lines(profile)) if profile else None

    # ---- one run per dataset: a lock node per entity under a uniqueness constraint --------

    def _lock_acquire(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """Delete the entity's lock node if expired and create ours, in one transaction; the constraint
        refuses a second live one (ConstraintValidationFailed), whose holder is then read."""
        self._rows(LOCK_CONSTRAINT)
        now = int(time.time() * 1000)
        return self._create_lock(TAKE_LOCK, name=name, holder=holder.model_dump_json(), now=now,
                                 expires=now + int(ttl_s * 1000))

    def _lock_renew(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """Our node's expiry pushed ahead; created again if it vanished (an engine restart without its data);
        another holder's node: its holder (expired or not: another run held the dataset since ours)."""
        ours, expires = holder.model_dump_json(), int((time.time() + ttl_s) * 1000)
        if self._rows("MATCH (l:DbarenaLock {name: $name, holder: $holder}) SET l.expires_ms = $expires "
                      "RETURN count(l)", name=name, holder=ours, expires=expires)[0][0]:
            return None
        return self._create_lock("CREATE (:DbarenaLock {name: $name, holder: $holder, expires_ms: $expires})",
                                 name=name, holder=ours, expires=expires)

    def _create_lock(self, cypher: str, **params: Any) -> LockHolder | bool | None:
        """Run `cypher`, which creates lock node `params["name"]`: None when created, else the live node's holder
        (the uniqueness constraint refused a second node)."""
        try:
            self._rows(cypher, **params)
            return None
        except Neo4jError as exc:
            if "ConstraintValidationFailed" not in (exc.code or ""):
                raise
        found = self._rows("MATCH (l:DbarenaLock {name: $name}) RETURN l.holder", name=params["name"])
        return LockHolder.model_validate_json(found[0][0]) if found else True

    def _lock_release(self, name: str, holder: LockHolder) -> None:
        self._rows("MATCH (l:DbarenaLock {name: $name, holder: $holder}) DELETE l", name=name, holder=holder.model_dump_json())

    # ---- manifest and telemetry -----------------------------------------------------

    def server_version(self) -> str:
        agent = self.client.driver.get_server_info().agent  # "Neo4j/5.26.30"
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
            if statements.edge_ends(entity) is not None:
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

    def answer(self, op: Operation, workload: Workload, argument: Any) -> list[dict[str, Any]] | None:
        """The records the executor's Cypher returns (dbarena verify; neo4j/answers.py)."""
        from harness.engines.neo4j.answers import answer

        if (reason := self.unsupported_reason(op, workload)) is not None:
            raise UnsupportedOperation(reason)
        return answer(self.client.session, op, workload, argument)
