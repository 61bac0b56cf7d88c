"""MongoDB adapter (pymongo): one collection per entity, the entity key stored as `_id`.

The key field is mapped to `_id` (not stored twice), so on mongod reads, updates, deletes and
scans use the primary index. JSON-object fields are stored as embedded documents (a nested
update is `$set` on a dotted path) and timestamps as BSON dates (millisecond precision).
Loading is `insert_many(ordered=False)`; every cursor is drained, so the timed call is the
whole round trip. A range is a find with `range_field` in [_from, _to].

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

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bson import json_util
from pymongo import ASCENDING, DESCENDING, MongoClient, uri_parser
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError
from pymongo.write_concern import WriteConcern

from harness.engines.base import EngineAdapter, Executor, Record
from harness.errors import EngineUnavailable
from harness.spec.models import Entity, JsonField, Operation, OperationKind, Workload

Document = dict[str, Any]
DEFAULT_DATABASE = "dbarena"
SCAN_LIMIT = 100
TIMEOUT_MS = 5000  # a dead engine fails the run in 5 s rather than pymongo's 30 s
OPCOUNTERS = ("insert", "query", "update", "delete", "getmore", "command")
FERRETDB_COMMANDS = {"insert": "insert", "find": "query", "update": "update", "delete": "delete",
                     "getMore": "getmore"}
CURSOR_COMMANDS = frozenset({"find", "aggregate", "listCollections", "listIndexes"})
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


def fill_placeholders(template: Any, values: Mapping[str, Any]) -> Any:
    """A copy of a native command with every string "{name}" replaced by that value (typed)."""
    if isinstance(template, dict):
        return {k: fill_placeholders(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill_placeholders(v, values) for v in template]
    if isinstance(template, str) and template.startswith("{") and template.endswith("}"):
        return values.get(template[1:-1], template)
    return template


class DocumentMapper:
    """Records to documents: the key becomes `_id`, JSON strings become embedded documents."""

    def __init__(self, entity: Entity) -> None:
        self.key = entity.key
        self.json_fields = frozenset(n for n, s in entity.fields.items() if isinstance(s, JsonField))

    def value(self, name: str, raw: Any) -> Any:
        return json.loads(raw) if name in self.json_fields and isinstance(raw, str) else raw

    def document(self, record: Mapping[str, Any]) -> Document:
        return {("_id" if n == self.key else n): self.value(n, v) for n, v in record.items()}


class MongoAdapter(EngineAdapter):
    name = "mongodb"
    client_library = "pymongo"
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset({
        OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.DELETE,
        OperationKind.FIND, OperationKind.RANGE, OperationKind.SCAN, OperationKind.NATIVE,
    })
    supports_nested_set: ClassVar[bool] = True  # `$set: {"attributes.k1": v}` on the embedded document
    # supports_ttl stays False: a TTL index would do it on mongod, but FerretDB has none to test against.

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.client: MongoClient[Document] | None = None
        self.db: Database[Document] | None = None
        self._counters_at_load: dict[str, int] | None = None

    def connect(self) -> None:
        try:
            client: MongoClient[Document] = MongoClient(self.url, **client_options(self.url))
            # The URL's write concern wins; otherwise w=1 explicitly, never a server-side default.
            concern = client.write_concern if client.write_concern.document else WriteConcern(w=1)
            self.db = client.get_database(client.get_default_database(DEFAULT_DATABASE).name,
                                          write_concern=concern)
            self.client = client
            client.admin.command("ping")
        except PyMongoError as exc:
            self.close()
            raise EngineUnavailable(f"{self.name} at {self.url} is not reachable: {exc}") from exc

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = self.db = None

    @property
    def _db(self) -> Database[Document]:
        assert self.db is not None, "connect() first"
        return self.db

    def is_disconnect(self, error: BaseException) -> bool:
        # AutoReconnect, NetworkTimeout and ServerSelectionTimeoutError all derive from ConnectionFailure.
        return isinstance(error, (ConnectionFailure, ConnectionError))

    def _native_statement(self, op: Operation) -> str | None:
        """FerretDB speaks MongoDB's commands, so it also runs a workload's `mongodb` statement."""
        return op.statements.get(self.name) or op.statements.get("mongodb")

    def unsupported_reason(self, op: Operation) -> str | None:
        if op.kind in _REFUSED:
            return f"{self.name}: {_REFUSED[op.kind]}"
        statement = self._native_statement(op)
        if op.kind is not OperationKind.NATIVE or statement is None:
            return super().unsupported_reason(op)
        try:
            command = json_util.loads(statement)
        except ValueError as exc:
            return f"native statement for {self.name} is not (extended) JSON: {exc}"
        if not isinstance(command, dict) or not command:
            return f"native statement for {self.name} must be a command document, like {{\"find\": ...}}"
        return None

    def prepare(self, workload: Workload) -> None:
        for entity in workload.dataset.entities:
            self._db.drop_collection(entity.name)
            collection = self._db.create_collection(entity.name)
            for index in entity.indexes:
                if index.fields == (entity.key,):
                    continue  # the key is `_id`, which always has a unique index
                keys = [(self._field(entity, f), ASCENDING) for f in index.fields]
                collection.create_index(keys, unique=index.unique)

    @staticmethod
    def _field(entity: Entity, name: str) -> str:
        return "_id" if name == entity.key else name

    def load(self, entity: Entity, records: Sequence[Record]) -> None:
        mapper = DocumentMapper(entity)
        self._db[entity.name].insert_many([mapper.document(r) for r in records], ordered=False)

    def finish_load(self, workload: Workload) -> None:
        # Counters are cumulative since server start: remember them so telemetry shows the run alone.
        self._counters_at_load = opcounters(self._db.command("serverStatus"))

    def _projection(self, op: Operation, entity: Entity) -> dict[str, int] | None:
        if not op.project:
            return None
        projection = {self._field(entity, f): 1 for f in op.project}
        projection.setdefault("_id", 0)
        return projection

    def bind(self, op: Operation, entity: Entity) -> Executor:
        collection: Collection[Document] = self._db[entity.name]
        projection = self._projection(op, entity)
        mapper = DocumentMapper(entity)
        kind = op.kind
        if kind is OperationKind.READ:
            def read(key: Any, values: Mapping[str, Any] | None) -> int:
                return int(collection.find_one({"_id": key}, projection) is not None)
            return read
        if kind is OperationKind.INSERT:
            def insert(key: Any, values: Mapping[str, Any] | None) -> int:
                assert values is not None
                collection.insert_one(mapper.document(values))
                return 1
            return insert
        if kind is OperationKind.UPDATE:
            def update(key: Any, values: Mapping[str, Any] | None) -> int:
                assert values is not None
                changes = {f: mapper.value(f, values[f]) for f in op.set}
                return collection.update_one({"_id": key}, {"$set": changes}).matched_count
            return update
        if kind is OperationKind.DELETE:
            def delete(key: Any, values: Mapping[str, Any] | None) -> int:
                return collection.delete_one({"_id": key}).deleted_count
            return delete
        if kind in (OperationKind.FIND, OperationKind.RANGE):
            return self._bind_find(op, entity, collection, projection)
        if kind is OperationKind.SCAN:
            limit = op.limit or SCAN_LIMIT

            def scan(key: Any, values: Mapping[str, Any] | None) -> int:
                return len(collection.find({"_id": {"$gte": key}}, projection).sort("_id", ASCENDING)
                           .limit(limit).to_list())
            return scan
        return self._bind_native(op)

    def _bind_find(self, op: Operation, entity: Entity, collection: Collection[Document],
                   projection: dict[str, int] | None) -> Executor:
        """find: equality on `match` and `filter`; range: also `range_field` within [_from, _to]."""
        constant = {self._field(entity, f): v for f, v in op.filter.items()}
        bounded = self._field(entity, op.range_field) if op.kind is OperationKind.RANGE and op.range_field else None
        match = [(f, self._field(entity, f)) for f in op.match]
        sort = [(self._field(entity, op.sort.field), DESCENDING if op.sort.order == "desc" else ASCENDING)] \
            if op.sort is not None else None
        limit = op.limit or 0  # 0: no limit

        def find(key: Any, values: Mapping[str, Any] | None) -> int:
            assert values is not None
            query = {name: values[f] for f, name in match} | constant
            if bounded is not None:
                query[bounded] = {"$gte": values["_from"], "$lte": values["_to"]}
            return len(collection.find(query, projection, sort=sort, limit=limit).to_list())
        return find

    def _bind_native(self, op: Operation) -> Executor:
        """A database command as (extended) JSON; string values "{key}" or "{field}" are filled in."""
        statement = self._native_statement(op)
        assert statement is not None
        template = json_util.loads(statement)
        db = self._db
        returns_cursor = next(iter(template)) in CURSOR_COMMANDS

        def native(key: Any, values: Mapping[str, Any] | None) -> int:
            command = fill_placeholders(template, {"key": key, **(values or {})})
            if returns_cursor:
                return len(db.cursor_command(command).to_list())
            return int(db.command(command).get("n", 1))
        return native

    def _build_info(self) -> Document:
        return self._db.command("buildInfo")

    def server_version(self) -> str:
        info = self._build_info()
        if "ferretdbVersion" in info:
            return f"{info['version']} (FerretDB {info['ferretdbVersion']})"
        return str(info["version"])

    def settings(self) -> dict[str, Any]:
        db, info = self._db, self._build_info()
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
        status = self._db.command("serverStatus")
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
            stats = self._db.command("collStats", name)
        except OperationFailure as exc:
            return {"error": str(exc)}
        return {k: stats.get(k) for k in ("count", "size", "storageSize", "totalIndexSize", "indexSizes")}
