"""Elasticsearch and OpenSearch adapter, written once against the query DSL.

One index per entity (`dbarena-<entity>`, 1 shard, 0 replicas, strict explicit mappings);
a document's id is its entity key. Loading sends one `_bulk` request per batch.

The client library follows the server, probed once with `GET /` at connect (client.py):
opensearch-py for OpenSearch, elasticsearch-py 8 otherwise. What each operation sends is built
once per bind, with no server, in statements.py.

Visibility trade-off: writes use `refresh=false`, the engines' default (`?refresh=wait_for`
or `?refresh=true` on the URL changes it). A GET by id is real-time and sees a write at
once (reading a not yet refreshed document makes the shard refresh, which is why reads slow
down under updates of hot keys), but `find` and `scan` are searches: they see a write only
after the next periodic refresh (`refresh_interval`, 1 s by default), as in production.
`wait_for` makes each write wait for that refresh; `true` forces one per write (tiny
segments). Durability is the index's `translog.durability` (default `request`: fsync
before each write is acknowledged).

Queries are filters (no scoring) except `search`, and skip counting total hits: `find` and
`range` (inclusive `[low, high]` on `range_field`) return at most `limit` hits (`FIND_LIMIT`
without one), `scan` is a range on the key from the chosen key sorted by key, `search` is
a `multi_match` of the drawn terms (any of them, BM25 ranking) over `text_fields`, and
`aggregate` is a composite aggregation (one bucket per group and time bucket, the GROUP BY of
these engines) paged to the end. TTLs are refused: these engines expire indices, not documents;
so are sorts, bounds and buckets on text and JSON fields (no single value), before the run.

The workload's unique indexes are not enforced: these engines have no unique constraint
besides the id (the dataset generator keeps unique fields unique).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

from harness.engines.base import EngineAdapter, Executor, LockHolder, Record
from harness.engines.search.client import SearchClient, body_of, probe
from harness.engines.search.statements import (
    AGG_PAGE,
    INDEX_PREFIX,
    Aggregate,
    Delete,
    Get,
    Index,
    Search,
    Statement,
    Update,
    build,
    field_problem,
    index_body,
    index_name,
    json_fields,
    next_page,
    to_document,
)
from harness.errors import UnsupportedOperation, UserError
from harness.redact import redact_url
from harness.spec.models import DEFAULT_OP_TIMEOUT_S, Entity, Operation, OperationKind, Workload, timeout_of

REFRESH_POLICIES = ("false", "true", "wait_for")
LOCK_INDEX = "dbarena_locks"  # dataset locks: one document per entity (lock_dataset)
_REFUSED = {
    OperationKind.TRAVERSE: "a document index has no graph traversal (each hop would be a client round trip)",
    OperationKind.NATIVE: "native statements are not mapped for the search engines yet",
}
_SETTINGS = ("number_of_shards", "number_of_replicas", "refresh_interval", "translog.durability", "translog.sync_interval")
_INDEX_STATS = {
    "docs": "docs.count", "store_bytes": "store.size_in_bytes",
    "index_total": "indexing.index_total", "index_time_ms": "indexing.index_time_in_millis",
    "delete_total": "indexing.delete_total", "get_total": "get.total", "get_time_ms": "get.time_in_millis",
    "query_total": "search.query_total", "query_time_ms": "search.query_time_in_millis",
    "fetch_total": "search.fetch_total", "refresh_total": "refresh.total", "merge_total": "merges.total",
    "translog_operations": "translog.operations",
    "query_cache_hits": "query_cache.hit_count", "query_cache_misses": "query_cache.miss_count",
}
_NODE_STATS = {
    "heap_used_bytes": "jvm.mem.heap_used_in_bytes", "heap_max_bytes": "jvm.mem.heap_max_in_bytes",
    "heap_used_percent": "jvm.mem.heap_used_percent",
    "gc_young_count": "jvm.gc.collectors.young.collection_count",
    "gc_young_ms": "jvm.gc.collectors.young.collection_time_in_millis",
    "gc_old_count": "jvm.gc.collectors.old.collection_count",
    "gc_old_ms": "jvm.gc.collectors.old.collection_time_in_millis",
    "index_total": "indices.indexing.index_total", "query_total": "indices.search.query_total",
    "get_total": "indices.get.total",
    "query_cache_bytes": "indices.query_cache.memory_size_in_bytes",
    "query_cache_hits": "indices.query_cache.hit_count", "query_cache_misses": "indices.query_cache.miss_count",
    "query_cache_evictions": "indices.query_cache.evictions",
}


def _pick(stats: Mapping[str, Any], paths: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, path in paths.items():
        node: Any = stats
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        out[name] = node
    return out


# ---- executors: one per statement type, the statement's functions fill each call --------


def _get(client: SearchClient, statement: Get, refresh: str) -> Executor:
    index, doc_id, source = statement.index, statement.doc_id, statement.source

    def read(key: Any) -> int:
        found = client.get(index, doc_id(key), source)
        return 1 if found is not None and found.get("found") else 0
    return read


def _index(client: SearchClient, statement: Index, refresh: str) -> Executor:
    index, doc_id, body = statement.index, statement.doc_id, statement.body

    def insert(record: Record) -> int:
        client.index(index, doc_id(record), body(record), refresh)
        return 1
    return insert


def _update(client: SearchClient, statement: Update, refresh: str) -> Executor:
    index, doc_id, body = statement.index, statement.doc_id, statement.body

    def update(change: Any) -> int:
        return 0 if client.update(index, doc_id(change), body(change), refresh) is None else 1
    return update


def _delete(client: SearchClient, statement: Delete, refresh: str) -> Executor:
    index, doc_id = statement.index, statement.doc_id

    def delete(key: Any) -> int:
        done = client.delete(index, doc_id(key), refresh)
        return 1 if done is not None and done.get("result") == "deleted" else 0
    return delete


def _search(client: SearchClient, statement: Search, refresh: str) -> Executor:
    index, body = statement.index, statement.body

    def search(argument: Any) -> int:  # scan, find, range, search: the hits returned
        return len(client.search(index, body(argument))["hits"]["hits"])
    return search


def _aggregate(client: SearchClient, statement: Aggregate, refresh: str) -> Executor:
    index, body = statement.index, statement.body

    def aggregate(window: Any) -> int:
        request, rows = body(window), 0
        while True:  # every page: the whole result crosses the wire, as a drained cursor would
            page = client.search(index, request)["aggregations"]["rows"]
            rows += len(page["buckets"])
            if len(page["buckets"]) < AGG_PAGE or "after_key" not in page:
                return rows
            request = next_page(request, page["after_key"])
    return aggregate


_EXECUTORS: dict[type, Callable[[SearchClient, Any, str], Executor]] = {
    Get: _get, Index: _index, Update: _update, Delete: _delete, Search: _search, Aggregate: _aggregate,
}


def _lock_index(raw: Any) -> None:
    """Create the lock index (1 shard, no replica) unless it exists."""
    body = {"settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"properties": {"holder": {"type": "keyword", "index": False}, "expires_ms": {"type": "long"}}}}
    try:
        raw.indices.create(index=LOCK_INDEX, body=body)
    except Exception as exc:
        if getattr(exc, "status_code", None) != 400:  # resource_already_exists_exception
            raise


def _lock_body(holder: LockHolder, ttl_s: float) -> dict[str, Any]:
    return {"holder": holder.model_dump_json(), "expires_ms": int((time.time() + ttl_s) * 1000)}


class SearchAdapter(EngineAdapter[SearchClient]):
    """One client of an Elasticsearch or OpenSearch server (the library is chosen at connect).

    `disconnect_errors` depend on that library: `is_disconnect` asks the open client.
    """

    client_library = "opensearch-py"  # replaced by the library chosen at connect()
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset({
        OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.DELETE,
        OperationKind.FIND, OperationKind.SCAN, OperationKind.RANGE, OperationKind.SEARCH, OperationKind.AGGREGATE,
    })
    supports_nested_set: ClassVar[bool] = True  # a partial update merges into the stored object
    locks_datasets: ClassVar[bool] = True  # a document per entity in dbarena_locks (lock_dataset)
    # `GET /` unreachable (OSError) or not answering JSON (ValueError): EngineUnavailable.
    unreachable_errors: ClassVar[tuple[type[BaseException], ...]] = (OSError, ValueError)
    url_schemes: ClassVar[tuple[str, ...]] = ("http", "https")
    url_example: ClassVar[str] = "http://127.0.0.1:9200"

    def __init__(self, name: str, url: str, op_timeout_s: float = DEFAULT_OP_TIMEOUT_S) -> None:
        super().__init__(name, url, op_timeout_s)
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.refresh = query.pop("refresh", "false")
        if self.refresh not in REFRESH_POLICIES or query:
            raise UserError(f"{name} URL {redact_url(url)}: the only URL option is refresh={'|'.join(REFRESH_POLICIES)}")
        self.base_url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        self.info: dict[str, Any] = {}
        self._indices: list[str] = []
        self._timed: dict[float, SearchClient] = {}  # operation timeout (s) -> a client with that request timeout

    def _open(self) -> SearchClient:
        self.info = probe(self.base_url)
        client = SearchClient(self.base_url, str(self.info["version"].get("distribution", "elasticsearch")))
        self.client_library = client.library  # type: ignore[misc]  # known only once the server is
        return client

    def _shutdown(self, client: SearchClient) -> None:
        timed, self._timed = self._timed, {}
        for other in timed.values():
            other.close()
        client.close()

    def is_disconnect(self, error: BaseException) -> bool:
        errors = self._client.disconnect_errors if self._client is not None else ()
        return isinstance(error, errors) or super().is_disconnect(error)

    @property
    def queries_see_writes_at_once(self) -> bool:
        """Only when writes wait for a refresh (refresh=wait_for|true on the URL); a GET by id is real-time."""
        return self.refresh != "false"

    def is_timeout(self, error: BaseException) -> bool:
        """The library's ConnectionTimeout: no reply within the request timeout (the library drops that connection)."""
        errors = self._client.timeout_errors if self._client is not None else ()
        return isinstance(error, errors) or super().is_timeout(error)

    def _within(self, seconds: float) -> SearchClient:
        """A client of this connection's server whose requests time out after `seconds` (one per distinct limit).

        The adapter's own client keeps a long timeout for schema, bulk loads and telemetry.
        """
        if seconds not in self._timed:
            self._timed[seconds] = SearchClient(self.base_url, self.client.distribution, seconds)
        return self._timed[seconds]

    def unsupported_reason(self, op: Operation, workload: Workload) -> str | None:
        if op.kind in _REFUSED:
            return f"{self.name}: {_REFUSED[op.kind]}"
        if reason := super().unsupported_reason(op, workload):
            return reason
        if reason := field_problem(op, workload.entity(op.entity)):
            return f"{self.name}: {reason}"
        return None

    def prepare(self, workload: Workload) -> None:
        for op in workload.operations:  # refused before the run too (unsupported_reason); this guards direct callers
            if reason := field_problem(op, workload.entity(op.entity)):
                raise UnsupportedOperation(f"{self.name}: {reason}")
        indices = self.client.raw.indices
        self._indices = []
        for entity in workload.dataset.entities:
            name = index_name(entity.name)
            indices.delete(index=name, ignore_unavailable=True)
            indices.create(index=name, body=index_body(entity))
            self._indices.append(name)

    def load(self, workload: Workload, entity: Entity, records: Sequence[Record]) -> None:
        name, paths = index_name(entity.name), json_fields(entity)
        actions = ({"_index": name, "_id": str(r[entity.key]), "_source": to_document(r, paths)} for r in records)
        self.client.bulk(actions, len(records))

    def finish_load(self, workload: Workload) -> None:
        client = self.client
        for entity in workload.dataset.entities:
            name = index_name(entity.name)
            client.raw.indices.refresh(index=name)
            if (found := client.count(name)) != entity.count:  # ids that collide overwrite each other
                raise UserError(f"{name} holds {found} documents after loading {entity.count} records: key field "
                                f"{entity.key!r} of {entity.name} repeats values; make it unique (uuid, sequence: true)")

    def statement(self, op: Operation, workload: Workload) -> Statement:
        """What `op` sends (statements.py); UnsupportedOperation when this engine cannot express it."""
        if reason := self.unsupported_reason(op, workload):
            raise UnsupportedOperation(reason)
        return build(op, workload.entity(op.entity))

    def bind(self, op: Operation, workload: Workload) -> Executor:
        statement = self.statement(op, workload)
        return _EXECUTORS[type(statement)](self._within(timeout_of(op, self.op_timeout_s)), statement, self.refresh)

    # ---- one run per dataset: a lock document per entity, created with op_type=create ------

    def _lock_acquire(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """Create dbarena_locks/_doc/<entity> (409 if it exists); an expired one is deleted, by seq_no, and retried.

        (Entity indices are `dbarena-<entity>`, so prepare never touches `dbarena_locks`.)
        """
        raw = self.client.raw
        _lock_index(raw)
        for _ in range(2):
            try:
                raw.index(index=LOCK_INDEX, id=name, body=_lock_body(holder, ttl_s), op_type="create", refresh="true")
                return None
            except Exception as exc:
                if getattr(exc, "status_code", None) != 409:
                    raise
            found = self.client._unless_missing(raw.get, index=LOCK_INDEX, id=name)
            if not found or not found.get("found"):
                continue  # released meanwhile
            if found["_source"]["expires_ms"] > time.time() * 1000:
                return LockHolder.model_validate_json(found["_source"]["holder"])
            try:  # a dead holder's: delete exactly that version, then take it
                raw.delete(index=LOCK_INDEX, id=name, if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"],
                           refresh="true")
            except Exception as exc:
                if getattr(exc, "status_code", None) not in (404, 409):
                    raise
        return True

    def _lock_renew(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """Our document written again with a later expiry, only if it is still the version we read (by seq_no);
        taken again if it vanished. Someone else's document: its holder (ours expired during an outage)."""
        raw, ours = self.client.raw, holder.model_dump_json()
        found = self.client._unless_missing(raw.get, index=LOCK_INDEX, id=name)
        if not found or not found.get("found"):
            return self._lock_acquire(name, holder, ttl_s)  # vanished (an engine restart): unless someone took it
        if found["_source"]["holder"] != ours:
            return LockHolder.model_validate_json(found["_source"]["holder"])
        try:
            raw.index(index=LOCK_INDEX, id=name, body=_lock_body(holder, ttl_s), if_seq_no=found["_seq_no"],
                      if_primary_term=found["_primary_term"], refresh="true")
        except Exception as exc:
            if getattr(exc, "status_code", None) != 409:
                raise
            return self._lock_renew(name, holder, ttl_s)  # changed since our read: look again
        return None

    def _lock_release(self, name: str, holder: LockHolder) -> None:
        found = self.client._unless_missing(self.client.raw.get, index=LOCK_INDEX, id=name)
        if found and found.get("found") and found["_source"]["holder"] == holder.model_dump_json():
            self.client.raw.delete(index=LOCK_INDEX, id=name, if_seq_no=found["_seq_no"],
                                   if_primary_term=found["_primary_term"], refresh="true")

    def server_version(self) -> str:
        version = self.info.get("version", {})
        return f"{version.get('number', 'unknown')} ({version.get('distribution', 'elasticsearch')})"

    def settings(self) -> dict[str, Any]:
        """Write refresh policy plus each index's shards, replicas, refresh interval and translog durability."""
        client = self.client
        names = ",".join(self._indices) or f"{INDEX_PREFIX}*"
        reply = body_of(client.raw.indices.get_settings(index=names, include_defaults=True, flat_settings=True))
        per_index = {
            name: {key: {**found.get("defaults", {}), **found.get("settings", {})}.get(f"index.{key}") for key in _SETTINGS}
            for name, found in sorted(reply.items())
        }
        summary = {key: ",".join(sorted({str(s[key]) for s in per_index.values()})) for key in _SETTINGS}
        return {"distribution": client.distribution, "write_refresh": self.refresh, **summary, "indices": per_index}

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        raw = self.client.raw
        names = ",".join(index_name(e.name) for e in workload.dataset.entities)
        indices = body_of(raw.indices.stats(index=names))["indices"]
        nodes = body_of(raw.nodes.stats(metric="indices,jvm"))["nodes"]
        return {
            "indices": {name: _pick(stats["total"], _INDEX_STATS) for name, stats in sorted(indices.items())},
            "nodes": {node.get("name", node_id): _pick(node, _NODE_STATS) for node_id, node in nodes.items()},
        }

    def answer(self, op: Operation, workload: Workload, argument: Any) -> list[dict[str, Any]] | None:
        """The hits the executor's request returns (dbarena verify; search/answers.py)."""
        from harness.engines.search.answers import answer

        self.statement(op, workload)  # UnsupportedOperation when this engine cannot express it
        return answer(self.client, op, workload, argument)
