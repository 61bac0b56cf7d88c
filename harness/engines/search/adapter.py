"""Elasticsearch and OpenSearch adapter, written once against the query DSL.

One index per entity (`dbarena-<entity>`, 1 shard, 0 replicas, strict explicit mappings);
a document's id is its entity key. Loading sends one `_bulk` request per batch.

The client library follows the server, probed once with `GET /`: opensearch-py for
OpenSearch, elasticsearch-py 8 otherwise (it refuses servers that are not Elastic's). Both
take the same keyword calls, so `SearchClient` confines what differs to construction and
to the exception classes.

Visibility trade-off: writes use `refresh=false`, the engines' default (`?refresh=wait_for`
or `?refresh=true` on the URL changes it). A GET by id is real-time and sees a write at
once (reading a not yet refreshed document makes the shard refresh, which is why reads slow
down under updates of hot keys), but `find` and `scan` are searches: they see a write only
after the next periodic refresh (`refresh_interval`, 1 s by default), as in production.
`wait_for` makes each write wait for that refresh; `true` forces one per write (tiny
segments). Durability is the index's `translog.durability` (default `request`: fsync
before each write is acknowledged).

Queries are filters (no scoring) except `search`, and skip counting total hits: `find` and
`range` (inclusive `[_from, _to]` on `range_field`) return at most `limit` hits (`FIND_SIZE`
without one), `scan` is a range on the key from the chosen key sorted by key, `search` is
a `multi_match` of the drawn terms (any of them, BM25 ranking) over `text_fields`, and
`aggregate` is a composite aggregation (one bucket per group and time bucket, the GROUP BY of
these engines) paged to the end. TTLs are refused: these engines expire indices, not documents.

The workload's unique indexes are not enforced: these engines have no unique constraint
besides the id (the dataset generator keeps unique fields unique).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

from harness.engines.base import EngineAdapter, Executor, Record
from harness.errors import EngineUnavailable, UnsupportedOperation, UserError
from harness.spec.models import (
    BoolField,
    Entity,
    FieldSpec,
    FloatField,
    IntField,
    JsonField,
    Operation,
    OperationKind,
    StringField,
    TextField,
    TimestampField,
    Workload,
)

INDEX_PREFIX = "dbarena-"
FIND_SIZE = 1000  # hits returned by a find without a limit (the redis adapter's cap too)
SEARCH_SIZE = 10  # hits of a relevance search without a limit (the engines' default page)
AGG_PAGE = 10_000  # composite buckets per request
SCAN_LIMIT = 100  # as the postgres adapter
TIMEOUT_S = 60.0
# A partial update is get-then-index on the server; concurrent updates of a hot key conflict.
# Retrying there gives last-writer-wins, as an SQL UPDATE does, without a client round trip.
UPDATE_RETRIES = 5
MAX_TERM_BYTES = 32766  # Lucene's limit on one indexed term; longer strings are stored, not indexed
REFRESH_POLICIES = ("false", "true", "wait_for")
_REFUSED = {
    OperationKind.TRAVERSE: "a document index has no graph traversal (each hop would be a client round trip)",
    OperationKind.NATIVE: "native statements are not mapped for the search engines yet",
}
_METRICS = {"mean": "avg", "sum": "sum", "min": "min", "max": "max", "count": "value_count"}
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
# Loopback probes must not go through an http_proxy from the environment.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def index_name(entity: str) -> str:
    return f"{INDEX_PREFIX}{entity}"


def field_mapping(spec: FieldSpec, is_key: bool) -> dict[str, Any]:
    if isinstance(spec, IntField):
        return {"type": "long"}
    if isinstance(spec, FloatField):
        return {"type": "double"}
    if isinstance(spec, BoolField):
        return {"type": "boolean"}
    if isinstance(spec, TimestampField):
        return {"type": "date"}
    if isinstance(spec, JsonField):
        return {"type": "object", "dynamic": True}  # the top level is strict; objects keep their keys
    if isinstance(spec, TextField) and not is_key:
        return {"type": "text"}
    if isinstance(spec, StringField) and len(spec.prefix) + spec.length > MAX_TERM_BYTES:
        return {"type": "keyword", "index": False, "doc_values": False}
    return {"type": "keyword"}  # uuids, emails, usernames, choices, strings; tags are arrays of keywords


def index_body(entity: Entity) -> dict[str, Any]:
    properties = {name: field_mapping(spec, name == entity.key) for name, spec in entity.fields.items()}
    # Values inside JSON objects are matched, not analysed or summed; as keywords they also
    # survive a nested update that changes a key's type (a word where a number was).
    as_keyword = [{f"json_{kind}": {"match_mapping_type": kind, "mapping": {"type": "keyword"}}}
                  for kind in ("string", "long", "double", "boolean")]
    return {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {"dynamic": "strict", "date_detection": False, "dynamic_templates": as_keyword,
                     "properties": properties},
    }


def plain(value: Any, is_json: bool) -> Any:
    """A record value as the document holds it: JSON strings become objects, datetimes ISO strings."""
    if is_json and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def to_document(values: Mapping[str, Any], json_fields: frozenset[str]) -> dict[str, Any]:
    """A record or partial update as a document; "json_field.key" paths become nested objects,
    which a partial update merges into the stored object."""
    out: dict[str, Any] = {}
    for path, value in values.items():
        *parents, leaf = path.split(".")
        node = out
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = plain(value, path in json_fields)
    return out


def equality(field: str, value: Any, spec: FieldSpec | None) -> list[dict[str, Any]]:
    """Filters for `field == value`: a phrase for analysed text, a term per key of a JSON
    object, a term per element of a list (tags: the document must carry them all)."""
    if isinstance(spec, TextField):
        return [{"match_phrase": {field: value}}]
    if isinstance(spec, JsonField) and isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in equality(f"{field}.{k}", v, None)]
    values = value if isinstance(value, list) else [value]
    return [{"term": {field: plain(v, False)}} for v in values]


def field_problem(op: Operation, entity: Entity) -> str | None:
    """Why `op` cannot sort, bound, group or aggregate one of its fields here, or None.

    Analysed text and JSON objects have no single value to order or bucket by.
    """
    ordered = [op.sort.field] if op.sort else []
    ordered += [f for f in (op.range_field, op.value_field) if f is not None] + list(op.group_by)
    for field in ordered:
        spec = entity.fields.get(field)
        if isinstance(spec, (TextField, JsonField)):
            return f"operation {op.name!r} orders or buckets by {field!r}, a {spec.type} field, which has no single value here"
    return None


Filters = Callable[[Mapping[str, Any]], list[dict[str, Any]]]


def selection(op: Operation, entity: Entity) -> Filters:
    """The filters choosing one call's records: `match` values, constant `filter`s, the range window."""
    specs = {field: entity.fields.get(field) for field in op.match}
    constant = [t for field, value in op.filter.items() for t in equality(field, value, entity.fields.get(field))]
    window = op.range_field if op.kind in (OperationKind.RANGE, OperationKind.AGGREGATE) else None

    def filters(values: Mapping[str, Any]) -> list[dict[str, Any]]:
        out = [t for field, spec in specs.items() for t in equality(field, values[field], spec)]
        if window is not None:
            out.append({"range": {window: {"gte": plain(values["_from"], False), "lte": plain(values["_to"], False)}}})
        return out + constant

    return filters


def _pick(stats: Mapping[str, Any], paths: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, path in paths.items():
        node: Any = stats
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        out[name] = node
    return out


def _body(response: Any) -> dict[str, Any]:
    """The reply as a dict (elasticsearch-py wraps it in an ObjectApiResponse)."""
    return getattr(response, "body", response)  # type: ignore[no-any-return]


def probe(url: str) -> dict[str, Any]:
    """`GET /`: name, cluster and version of the server, without any client library."""
    try:
        with _NO_PROXY.open(url.rstrip("/") + "/", timeout=10) as reply:
            info: dict[str, Any] = json.load(reply)
    except (OSError, ValueError) as exc:
        raise EngineUnavailable(f"search engine at {url} is not reachable: {exc}") from exc
    if "version" not in info:
        raise EngineUnavailable(f"{url} answered GET / without a version: not Elasticsearch or OpenSearch")
    return info


class SearchClient:
    """The calls the adapter makes, identical for both libraries; a missing document is None."""

    def __init__(self, url: str, distribution: str) -> None:
        self.distribution = distribution
        # Both libraries log every failed request (a missing document is a 404): not inside the timer.
        for logger in ("opensearch", "elastic_transport"):
            logging.getLogger(logger).setLevel(logging.CRITICAL)
        if distribution == "opensearch":
            import opensearchpy
            from opensearchpy import helpers as os_helpers

            self.raw: Any = opensearchpy.OpenSearch(hosts=[url], timeout=TIMEOUT_S, max_retries=0, retry_on_timeout=False)
            self.library = "opensearch-py"
            self._bulk: Any = os_helpers.bulk
            self._not_found: type[Exception] = opensearchpy.NotFoundError
            # Retries are off: a failed call is an error the runner sees, then reconnects.
            self.disconnect_errors: tuple[type[BaseException], ...] = (opensearchpy.ConnectionError,)
        else:
            import elasticsearch
            from elasticsearch import helpers as es_helpers

            self.raw = elasticsearch.Elasticsearch(url, request_timeout=TIMEOUT_S, max_retries=0, retry_on_timeout=False)
            self.library = "elasticsearch"
            self._bulk = es_helpers.bulk
            self._not_found = elasticsearch.NotFoundError
            self.disconnect_errors = (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout)

    def _unless_missing(self, call: Any, **kwargs: Any) -> dict[str, Any] | None:
        try:
            return _body(call(**kwargs))
        except self._not_found as exc:
            if getattr(exc, "error", None) == "index_not_found_exception":
                raise
            return None

    def index(self, index: str, doc_id: str, document: Mapping[str, Any], refresh: str) -> dict[str, Any]:
        return _body(self.raw.index(index=index, id=doc_id, body=document, refresh=refresh))

    def get(self, index: str, doc_id: str, source: Sequence[str] | None) -> dict[str, Any] | None:
        return self._unless_missing(self.raw.get, index=index, id=doc_id, _source_includes=source)

    def update(self, index: str, doc_id: str, fields: Mapping[str, Any], refresh: str) -> dict[str, Any] | None:
        return self._unless_missing(self.raw.update, index=index, id=doc_id, body={"doc": fields}, refresh=refresh,
                                    retry_on_conflict=UPDATE_RETRIES)

    def delete(self, index: str, doc_id: str, refresh: str) -> dict[str, Any] | None:
        return self._unless_missing(self.raw.delete, index=index, id=doc_id, refresh=refresh)

    def search(self, index: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return _body(self.raw.search(index=index, body=body))

    def count(self, index: str) -> int:
        return int(_body(self.raw.count(index=index))["count"])

    def bulk(self, actions: Iterable[dict[str, Any]], chunk: int) -> int:
        done, _ = self._bulk(self.raw, actions, chunk_size=max(chunk, 1), max_chunk_bytes=1 << 30)
        return int(done)

    def close(self) -> None:
        self.raw.close()


class SearchAdapter(EngineAdapter):
    name = "opensearch"
    client_library = "opensearch-py"  # replaced by the library chosen at connect()
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset({
        OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.DELETE,
        OperationKind.FIND, OperationKind.SCAN, OperationKind.RANGE, OperationKind.SEARCH, OperationKind.AGGREGATE,
    })
    supports_nested_set: ClassVar[bool] = True  # a partial update merges into the stored object

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.refresh = query.pop("refresh", "false")
        if self.refresh not in REFRESH_POLICIES or query:
            raise UserError(f"{url}: the only URL option is refresh={'|'.join(REFRESH_POLICIES)}")
        self.base_url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        self.client: SearchClient | None = None
        self.info: dict[str, Any] = {}
        self._indices: list[str] = []

    def connect(self) -> None:
        self.info = probe(self.base_url)
        distribution = str(self.info["version"].get("distribution", "elasticsearch"))
        self.client = SearchClient(self.base_url, distribution)
        self.client_library = self.client.library  # type: ignore[misc]  # known only once the server is

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    @property
    def _client(self) -> SearchClient:
        assert self.client is not None, "connect() first"
        return self.client

    def is_disconnect(self, error: BaseException) -> bool:
        errors = self.client.disconnect_errors if self.client is not None else ()
        return isinstance(error, errors) or super().is_disconnect(error)

    def unsupported_reason(self, op: Operation) -> str | None:
        if op.kind in _REFUSED:
            return f"{self.name}: {_REFUSED[op.kind]}"
        return super().unsupported_reason(op)

    def prepare(self, workload: Workload) -> None:
        for op in workload.operations:
            if reason := field_problem(op, workload.entity(op.entity)):
                raise UnsupportedOperation(f"{self.name}: {reason}")
        indices = self._client.raw.indices
        self._indices = []
        for entity in workload.dataset.entities:
            name = index_name(entity.name)
            indices.delete(index=name, ignore_unavailable=True)
            indices.create(index=name, body=index_body(entity))
            self._indices.append(name)

    def load(self, entity: Entity, records: Sequence[Record]) -> None:
        name = index_name(entity.name)
        json_fields = frozenset(n for n, s in entity.fields.items() if isinstance(s, JsonField))
        actions = ({"_index": name, "_id": str(r[entity.key]), "_source": to_document(r, json_fields)} for r in records)
        self._client.bulk(actions, len(records))

    def finish_load(self, workload: Workload) -> None:
        client = self._client
        for entity in workload.dataset.entities:
            name = index_name(entity.name)
            client.raw.indices.refresh(index=name)
            if (found := client.count(name)) != entity.count:  # ids that collide overwrite each other
                raise UserError(f"{name} holds {found} documents after loading {entity.count} records: key field "
                                f"{entity.key!r} of {entity.name} repeats values; make it unique (uuid, sequence: true)")

    def bind(self, op: Operation, entity: Entity) -> Executor:
        if reason := field_problem(op, entity):
            raise UnsupportedOperation(f"{self.name}: {reason}")  # prepare() refuses it before loading too
        client, index, refresh, kind = self._client, index_name(entity.name), self.refresh, op.kind
        key_field = entity.key
        json_fields = frozenset(n for n, s in entity.fields.items() if isinstance(s, JsonField))
        source = list(op.project) or None
        if kind is OperationKind.READ:
            def read(key: Any, values: Mapping[str, Any] | None) -> int:
                found = client.get(index, str(key), source)
                return 1 if found is not None and found.get("found") else 0
            return read
        if kind is OperationKind.INSERT:
            def insert(key: Any, values: Mapping[str, Any] | None) -> int:
                assert values is not None
                client.index(index, str(values[key_field]), to_document(values, json_fields), refresh)
                return 1
            return insert
        if kind is OperationKind.UPDATE:
            def update(key: Any, values: Mapping[str, Any] | None) -> int:
                assert values is not None
                return 0 if client.update(index, str(key), to_document(values, json_fields), refresh) is None else 1
            return update
        if kind is OperationKind.DELETE:
            def delete(key: Any, values: Mapping[str, Any] | None) -> int:
                done = client.delete(index, str(key), refresh)
                return 1 if done is not None and done.get("result") == "deleted" else 0
            return delete
        return self._bind_search(op, entity, source)

    def _bind_search(self, op: Operation, entity: Entity, source: list[str] | None) -> Executor:
        client, index, kind = self._client, index_name(entity.name), op.kind
        static: dict[str, Any] = {"track_total_hits": False}
        if source is not None:
            static["_source"] = source
        if op.sort is not None:
            static["sort"] = [{op.sort.field: op.sort.order}]
        if kind is OperationKind.SCAN:
            key_field = entity.key
            static.update(sort=[{key_field: "asc"}], size=op.limit or SCAN_LIMIT)

            def scan(key: Any, values: Mapping[str, Any] | None) -> int:
                return len(client.search(index, {**static, "query": {"range": {key_field: {"gte": key}}}})["hits"]["hits"])
            return scan
        filters = selection(op, entity)
        if kind is OperationKind.AGGREGATE:
            return self._bind_aggregate(op, entity, filters)
        if kind is OperationKind.SEARCH:
            text_fields = list(op.text_fields)
            static["size"] = op.limit or SEARCH_SIZE

            def search(key: Any, values: Mapping[str, Any] | None) -> int:
                assert values is not None
                must = {"multi_match": {"query": " ".join(values["_terms"]), "fields": text_fields}}
                body = {**static, "query": {"bool": {"must": must, "filter": filters(values)}}}
                return len(client.search(index, body)["hits"]["hits"])
            return search
        static["size"] = op.limit or FIND_SIZE

        def find(key: Any, values: Mapping[str, Any] | None) -> int:  # and range: the window is a filter too
            assert values is not None
            return len(client.search(index, {**static, "query": {"bool": {"filter": filters(values)}}})["hits"]["hits"])
        return find

    def _bind_aggregate(self, op: Operation, entity: Entity, filters: Filters) -> Executor:
        client, index = self._client, index_name(entity.name)
        assert op.range_field and op.value_field and op.function and op.bucket_s, "checked by the spec loader"
        bucket: dict[str, dict[str, Any]]
        if isinstance(entity.fields.get(op.range_field), TimestampField):
            bucket = {"date_histogram": {"field": op.range_field, "fixed_interval": f"{round(op.bucket_s * 1000)}ms"}}
        else:
            bucket = {"histogram": {"field": op.range_field, "interval": op.bucket_s}}
        sources = [*({field: {"terms": {"field": field}}} for field in op.group_by), {"@bucket": bucket}]
        metric = {"value": {_METRICS[op.function]: {"field": op.value_field}}}

        def aggregate(key: Any, values: Mapping[str, Any] | None) -> int:
            assert values is not None
            query = {"bool": {"filter": filters(values)}}
            composite: dict[str, Any] = {"size": AGG_PAGE, "sources": sources}
            rows = 0
            while True:  # every page: the whole result crosses the wire, as a drained cursor would
                body = {"size": 0, "track_total_hits": False, "query": query,
                        "aggs": {"rows": {"composite": composite, "aggs": metric}}}
                page = client.search(index, body)["aggregations"]["rows"]
                rows += len(page["buckets"])
                if len(page["buckets"]) < AGG_PAGE or "after_key" not in page:
                    return rows
                composite = {**composite, "after": page["after_key"]}
        return aggregate

    def server_version(self) -> str:
        version = self.info.get("version", {})
        return f"{version.get('number', 'unknown')} ({version.get('distribution', 'elasticsearch')})"

    def settings(self) -> dict[str, Any]:
        """Write refresh policy plus each index's shards, replicas, refresh interval and translog durability."""
        names = ",".join(self._indices) or f"{INDEX_PREFIX}*"
        reply = _body(self._client.raw.indices.get_settings(index=names, include_defaults=True, flat_settings=True))
        per_index = {
            name: {key: {**found.get("defaults", {}), **found.get("settings", {})}.get(f"index.{key}") for key in _SETTINGS}
            for name, found in sorted(reply.items())
        }
        summary = {key: ",".join(sorted({str(s[key]) for s in per_index.values()})) for key in _SETTINGS}
        return {"distribution": self._client.distribution, "write_refresh": self.refresh, **summary, "indices": per_index}

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        raw = self._client.raw
        names = ",".join(index_name(e.name) for e in workload.dataset.entities)
        indices = _body(raw.indices.stats(index=names))["indices"]
        nodes = _body(raw.nodes.stats(metric="indices,jvm"))["nodes"]
        return {
            "indices": {name: _pick(stats["total"], _INDEX_STATS) for name, stats in sorted(indices.items())},
            "nodes": {node.get("name", node_id): _pick(node, _NODE_STATS) for node_id, node in nodes.items()},
        }
