"""MongoDB adapter (pymongo): one collection per entity, the entity key stored as `_id`.

The key field is mapped to `_id` (not stored twice), so on mongod reads, updates, deletes and
scans use the primary index. JSON-object fields are stored as embedded documents (a nested
update is `$set` on a dotted path) and timestamps as BSON dates (millisecond precision).
The documents each operation sends are built once per bind in statements.py; an executor
only fills in its call's argument. Loading is `insert_many(ordered=False)`; every cursor is
drained, so the timed call is the whole round trip.

Writes use `w=1` unless the URL names a write concern (`?w=majority&journal=true`), and reads
the server's default read concern; both are recorded in `settings()`.

Here the adapter is tested against FerretDB 1.24 (same wire protocol, SQLite backend), whose
figures are not mongod's: on SQLite no query uses an index. `find` filters are pushed down to
SQL but miss the `_id` expression index, so even a read by `_id` scans the table; updates,
deletes, sorts and the `_id` range of a scan are evaluated in FerretDB over the whole
collection. The declared secondary indexes exist (and enforce uniqueness) but are not used.
FerretDB has no opcounters; its per-command counts stand in (one count per command, where
mongod counts each document of a bulk insert).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import pymongo
from pymongo import ASCENDING, MongoClient, uri_parser
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from pymongo.write_concern import WriteConcern

from harness.engines.base import EngineAdapter, Executor, LockHolder, Record
from harness.engines.calls import Change, Match, Params, Scan, Window
from harness.engines.mongodb import statements
from harness.engines.mongodb.statements import Document, DocumentMapper, field_name
from harness.errors import HarnessBug, UnsupportedOperation
from harness.spec.models import DEFAULT_OP_TIMEOUT_S, Entity, NativeOp, Operation, OperationKind, Workload, timeout_of

DEFAULT_DATABASE = "dbarena"
LOCKS = "dbarena_locks"  # the collection of dataset locks (prepare drops only the entities' collections)
TIMEOUT_MS = 5000  # a dead engine fails the run in 5 s rather than pymongo's 30 s
OPCOUNTERS = ("insert", "query", "update", "delete", "getmore", "command")
FERRETDB_COMMANDS = {"insert": "insert", "find": "query", "update": "update", "delete": "delete",
                     "getMore": "getmore"}
# Kinds MongoDB could express but that no server here can verify: FerretDB 1.24 lacks $text,
# $graphLookup, $dateTrunc, date arithmetic and the $avg/$min/$max accumulators.
_REFUSED = {
    OperationKind.SEARCH: "full-text search ($text) is not mapped: FerretDB, the only server to test it on here, "
                          "has no text indexes",
    OperationKind.AGGREGATE: "time-bucket aggregates are not mapped: FerretDB, the only server to test them on "
                             "here, has no $dateTrunc or $avg/$min/$max",
    OperationKind.TRAVERSE: "graph traversal ($graphLookup) is not mapped: FerretDB has no $graphLookup",
}


def client_options(url: str) -> dict[str, Any]:
    """Timeouts, plus directConnection for one plain host (a replica set keeps discovery)."""
    options: dict[str, Any] = {"serverSelectionTimeoutMS": TIMEOUT_MS, "connectTimeoutMS": TIMEOUT_MS}
    parsed = uri_parser.parse_uri(url)
    lowered = {k.lower() for k in parsed["options"]}
    if (len(parsed["nodelist"]) == 1 and not url.startswith("mongodb+srv")
            and not lowered & {"replicaset", "directconnection", "loadbalanced"}):
        options["directConnection"] = True
    return options


def opcounters(status: Mapping[str, Any]) -> dict[str, int]:
    """mongod's serverStatus opcounters, or FerretDB's per-command totals mapped onto them."""
    if "opcounters" in status:
        return {name: int(status["opcounters"].get(name, 0)) for name in OPCOUNTERS}
    commands = status.get("metrics", {}).get("commands", {})
    out = dict.fromkeys(OPCOUNTERS, 0)
    for command, stats in commands.items():
        out[FERRETDB_COMMANDS.get(command, "command")] += int(stats.get("total", 0))
    return out


# ---- executors: one per statement, the per-call argument filled in, the reply read in full --------


def _read(st: statements.Read, collection: Collection[Document]) -> Executor:
    projection, where = st.projection, st.filter

    def read(key: Any) -> int:
        return int(collection.find_one(where(key), projection) is not None)
    return read


def _insert(st: statements.Insert, collection: Collection[Document]) -> Executor:
    document = st.document

    def insert(record: Record) -> int:
        collection.insert_one(document(record))
        return 1
    return insert


def _update(st: statements.Update, collection: Collection[Document]) -> Executor:
    where, update_of = st.filter, st.update

    def update(change: Change) -> int:
        return collection.update_one(where(change), update_of(change)).matched_count
    return update


def _delete(st: statements.Delete, collection: Collection[Document]) -> Executor:
    where = st.filter

    def delete(key: Any) -> int:
        return collection.delete_one(where(key)).deleted_count
    return delete


def _scan(st: statements.Scan, collection: Collection[Document]) -> Executor:
    projection, sort, where = st.projection, st.sort, st.filter

    def scan(call: Scan) -> int:
        return len(collection.find(where(call.key), projection, sort=sort, limit=call.length).to_list())
    return scan


def _find(st: statements.Find, collection: Collection[Document]) -> Executor:
    projection, sort, limit, where = st.projection, st.sort, st.limit, st.filter

    def find(match: Match) -> int:
        return len(collection.find(where(match), projection, sort=sort, limit=limit).to_list())
    return find


def _range(st: statements.Range, collection: Collection[Document]) -> Executor:
    projection, sort, limit, where = st.find.projection, st.find.sort, st.find.limit, st.filter

    def range_(window: Window) -> int:
        return len(collection.find(where(window), projection, sort=sort, limit=limit).to_list())
    return range_


def _native(st: statements.Command, db: Database[Document]) -> Executor:
    command_of = st.command
    if st.returns_cursor:
        def cursor_command(params: Params) -> int:
            return len(db.cursor_command(command_of(params)).to_list())
        return cursor_command

    def command(params: Params) -> int:
        return int(db.command(command_of(params)).get("n", 1))
    return command


def _within(call: Executor, seconds: float) -> Executor:
    """`call` under pymongo's client-side operation timeout (CSOT): maxTimeMS on the server, the socket's timeout."""
    def timed(argument: Any) -> int:
        with pymongo.timeout(seconds):
            return call(argument)
    return timed


def executor(st: statements.Statement, db: Database[Document], collection: Collection[Document]) -> Executor:
    """The executor that sends `st` through `collection` (a native command: through `db`)."""
    if isinstance(st, statements.Command):
        return _native(st, db)
    if isinstance(st, statements.Read):
        return _read(st, collection)
    if isinstance(st, statements.Insert):
        return _insert(st, collection)
    if isinstance(st, statements.Update):
        return _update(st, collection)
    if isinstance(st, statements.Delete):
        return _delete(st, collection)
    if isinstance(st, statements.Scan):
        return _scan(st, collection)
    if isinstance(st, statements.Find):
        return _find(st, collection)
    return _range(st, collection)


class MongoAdapter(EngineAdapter[MongoClient[Document]]):
    client_library = "pymongo"
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset({
        OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.DELETE,
        OperationKind.FIND, OperationKind.RANGE, OperationKind.SCAN, OperationKind.NATIVE,
    })
    supports_nested_set: ClassVar[bool] = True  # `$set: {"attributes.k1": v}` on the embedded document
    # supports_ttl stays False: a TTL index would do it on mongod, but FerretDB has none to test against.
    # A bad URL (InvalidURI, ConfigurationError) is as unusable as a dead server: both are PyMongoErrors.
    unreachable_errors: ClassVar[tuple[type[BaseException], ...]] = (PyMongoError,)
    url_schemes: ClassVar[tuple[str, ...]] = ("mongodb", "mongodb+srv")
    url_example: ClassVar[str] = "mongodb://127.0.0.1:27017/dbarena"
    # insert_many of 5,000 documents (pymongo splits at the server's 100,000 / 48 MB): FerretDB here loaded
    # 1.5x faster than with 1,000 (about 10,000 against 6,500 records/s), 20,000 no faster.
    load_batch: ClassVar[int] = 5_000
    # NetworkTimeout derives from AutoReconnect, which (like ServerSelectionTimeoutError) is a ConnectionFailure.
    disconnect_errors: ClassVar[tuple[type[BaseException], ...]] = (
        AutoReconnect, ServerSelectionTimeoutError, ConnectionFailure, ConnectionError)
    # maxTimeMS expired on the server (ExecutionTimeout) or the socket timed out (NetworkTimeout, a disconnect:
    # pymongo discards that connection); any PyMongoError whose `timeout` is true counts (is_timeout)
    timeout_errors: ClassVar[tuple[type[BaseException], ...]] = (ExecutionTimeout, NetworkTimeout)
    locks_datasets: ClassVar[bool] = True  # a document per entity in dbarena_locks, _id unique (lock_dataset)

    def __init__(self, name: str, url: str, op_timeout_s: float = DEFAULT_OP_TIMEOUT_S) -> None:
        super().__init__(name, url, op_timeout_s)
        self._database: Database[Document] | None = None
        self._counters_at_load: dict[str, int] | None = None

    def _open(self) -> MongoClient[Document]:
        client: MongoClient[Document] = MongoClient(self.url, **client_options(self.url))
        try:
            # The URL's write concern wins; otherwise w=1 explicitly, never a server-side default.
            concern = client.write_concern if client.write_concern.document else WriteConcern(w=1)
            database = client.get_database(client.get_default_database(DEFAULT_DATABASE).name,
                                           write_concern=concern)
            client.admin.command("ping")
        except ServerSelectionTimeoutError as exc:
            client.close()
            # Its message ends in the whole topology description: keep the cause, drop the rest.
            raise ServerSelectionTimeoutError(str(exc).split(", Timeout:")[0]) from exc
        except BaseException:
            client.close()
            raise
        self._database = database
        return client

    def is_timeout(self, error: BaseException) -> bool:
        """A timeout of the call (PyMongoError.timeout); not finding a server (ServerSelectionTimeoutError,
        an unreachable engine) is an error and a disconnect."""
        if isinstance(error, ServerSelectionTimeoutError):
            return False
        return super().is_timeout(error) or (isinstance(error, PyMongoError) and error.timeout)

    def _shutdown(self, client: MongoClient[Document]) -> None:
        self._database = None  # the database handle goes with its client
        client.close()

    @property
    def db(self) -> Database[Document]:
        """The benchmark database (with the run's write concern) of the open client."""
        if self._database is None:
            raise HarnessBug(f"{self.name} adapter used before connect() (or after close())")
        return self._database

    # ---- what this engine can express ---------------------------------------------------------

    def unsupported_reason(self, op: Operation, workload: Workload) -> str | None:
        if op.kind in _REFUSED:
            return f"{self.name}: {_REFUSED[op.kind]}"
        statement = statements.native_statement(op, self.name) if isinstance(op, NativeOp) else None
        if statement is None:
            return super().unsupported_reason(op, workload)
        problem = statements.command_problem(statement)
        return None if problem is None else f"native statement for {self.name} {problem}"

    # ---- schema and data ------------------------------------------------------------------------

    def prepare(self, workload: Workload) -> None:
        db = self.db
        for entity in workload.dataset.entities:
            db.drop_collection(entity.name)
            collection = db.create_collection(entity.name)
            for index in entity.indexes:
                if index.fields == (entity.key,):
                    continue  # the key is `_id`, which always has a unique index
                keys = [(field_name(entity, f), ASCENDING) for f in index.fields]
                collection.create_index(keys, unique=index.unique)

    def load(self, workload: Workload, entity: Entity, records: Sequence[Record]) -> None:
        mapper = DocumentMapper.of(entity)
        self.db[entity.name].insert_many([mapper.document(r) for r in records], ordered=False)

    def finish_load(self, workload: Workload) -> None:
        # Counters are cumulative since server start: remember them so telemetry shows the run alone.
        self._counters_at_load = opcounters(self.db.command("serverStatus"))

    # ---- operations -----------------------------------------------------------------------------

    def bind(self, op: Operation, workload: Workload) -> Executor:
        reason = self.unsupported_reason(op, workload)
        if reason is not None:
            raise UnsupportedOperation(f"{op.name} ({op.kind.value}): {reason}")
        db = self.db
        return _within(executor(statements.statement(op, workload, self.name), db, db[op.entity]),
                       timeout_of(op, self.op_timeout_s))

    # ---- one run per dataset: a lock document per entity, _id unique, with an expiry --------------

    def _lock_acquire(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """Insert {_id: entity, holder, expires}; on a duplicate, replace the holder only if it expired."""
        locks, now = self.db[LOCKS], datetime.now(timezone.utc)
        document = {"_id": name, "holder": holder.model_dump_json(), "expires": now + timedelta(seconds=ttl_s)}
        for _ in range(2):
            try:
                locks.insert_one(document)
                return None
            except DuplicateKeyError:
                found = locks.find_one({"_id": name})
            if found is None:
                continue  # released meanwhile
            expires = found["expires"].replace(tzinfo=timezone.utc)
            if expires > now:
                return LockHolder.model_validate_json(found["holder"])
            locks.delete_one({"_id": name, "holder": found["holder"]})  # a dead holder's: take it over
        return True

    def _lock_renew(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """Our document's expiry pushed ahead; taken again if it vanished; another holder's document: its holder
        (expired or not: another run held the dataset since ours)."""
        locks, ours = self.db[LOCKS], holder.model_dump_json()
        expires = datetime.now(timezone.utc) + timedelta(seconds=ttl_s)
        if locks.update_one({"_id": name, "holder": ours}, {"$set": {"expires": expires}}).matched_count:
            return None
        try:  # vanished (an engine restart): take it again unless someone else did
            locks.insert_one({"_id": name, "holder": ours, "expires": expires})
            return None
        except DuplicateKeyError:
            found = locks.find_one({"_id": name})
        return LockHolder.model_validate_json(found["holder"]) if found else True

    def _lock_release(self, name: str, holder: LockHolder) -> None:
        self.db[LOCKS].delete_one({"_id": name, "holder": holder.model_dump_json()})

    def _build_info(self) -> Document:
        return self.db.command("buildInfo")

    def server_version(self) -> str:
        info = self._build_info()
        if "ferretdbVersion" in info:
            return f"{info['version']} (FerretDB {info['ferretdbVersion']})"
        return str(info["version"])

    def settings(self) -> dict[str, Any]:
        db, info = self.db, self._build_info()
        status = db.command("serverStatus")
        out: dict[str, Any] = {
            "write_concern": db.write_concern.document,
            "journal": db.write_concern.document.get("j", "server default"),
            "read_concern": db.read_concern.level or "server default (local)",
            "read_preference": db.read_preference.name,
            "server_version": info.get("version"),
            "ferretdb": "ferretdbVersion" in info,
            "ferretdb_version": info.get("ferretdbVersion"),
            "storage_engine": status.get("storageEngine", {}).get("name"),
        }
        try:
            parsed = db.client.admin.command("getCmdLineOpts").get("parsed", {})
            out["storage_options"] = parsed.get("storage", {})
        except OperationFailure:
            out["storage_options"] = "unavailable"
        return out

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        status = self.db.command("serverStatus")
        counters = opcounters(status)
        out: dict[str, Any] = {
            "opcounters": counters,
            "opcounters_source": "opcounters" if "opcounters" in status else "metrics.commands (FerretDB)",
        }
        out.update({k: status[k] for k in ("connections", "mem") if k in status})  # mongod only
        if self._counters_at_load is not None:
            out["opcounters_since_load"] = {k: v - self._counters_at_load[k] for k, v in counters.items()}
        cache = status.get("wiredTiger", {}).get("cache", {})
        if cache:
            out["wiredtiger_cache"] = {k: cache.get(k) for k in (
                "bytes currently in the cache", "maximum bytes configured", "pages read into cache",
                "pages requested from the cache")}
        out["collections"] = {e.name: self._collection_stats(e.name) for e in workload.dataset.entities}
        return out

    def _collection_stats(self, name: str) -> dict[str, Any]:
        try:
            stats = self.db.command("collStats", name)
        except OperationFailure as exc:
            return {"error": str(exc)}
        return {k: stats.get(k) for k in ("count", "size", "storageSize", "totalIndexSize", "indexSizes")}

    def answer(self, op: Operation, workload: Workload, argument: Any) -> list[dict[str, Any]] | None:
        """The documents the executor's statement returns (dbarena verify; mongodb/answers.py)."""
        from harness.engines.mongodb.answers import answer

        return answer(self.db, self.name, op, workload, argument)
