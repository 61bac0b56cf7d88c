"""InfluxDB adapter (influxdb-client, v2 API): records as points, updates as newer points.

InfluxDB is a time-series engine, so each operation takes its natural form there:
- an entity is a measurement. An entity that declares `series` (metrics) is stored as
  time series: those fields are the tags and its timestamp field is the point time. Any
  other entity (kv-cache) has its key as the one tag, so each record is its own series,
  loaded at the fixed instant `LOAD_TIME_NS` (the bucket's retention must reach back to it,
  as the default infinite one does).
- the remaining fields are fields: bool/int/float/string natively, a timestamp as an
  RFC 3339 UTC string, a JSON object as its string, a tags list joined with ",".
- load writes line-protocol batches in synchronous mode (one HTTP request per batch).
- insert writes one point (now, or at its own time in a series); update writes a newer
  point carrying only the changed fields: last-value semantics, a blind upsert that
  reports 1 whether or not the key existed.
- read is Flux `range(start: 0) |> filter(measurement, key tag) |> last()` (each field's
  latest value) pivoted into one row; every reply is parsed to the end. On 1.8 every Flux
  query costs ~10 ms of server CPU before it reads anything, which bounds reads.
- range is `range()` over point time (`[_from, _to]`, inclusive like the other engines)
  with tag filters, the fields pivoted into rows, then sort and limit; aggregate is
  `group(columns: group_by) |> aggregateWindow(every: bucket_s, fn: function)`.

Refused up front in `unsupported_reason`: `find` (no secondary index on field values;
making the field a tag would put it into each series' identity, so every update would
first need a query to learn it), `delete` (no portable point delete, and deletes are
tombstoning maintenance), and `scan`, `search`, `traverse`, TTLs and nested updates.
Refused when bound, as they depend on the entity: read/update by key of a series entity,
and ranges over anything but point time.

Served natively by InfluxDB 1.8 (Flux v0.65, database/retention policy as the bucket) and by
InfluxDB 2 under Compose, so the timed path uses only the write and Flux query APIs.
`prepare` and the settings and counters need version-specific endpoints: 1.x gets InfluxQL
over `/query` and `/debug/vars`; 2.x gets the delete API, its settings and counters are
recorded as unavailable.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar

import urllib3
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS, WriteApi
from influxdb_client.rest import ApiException

from harness.engines.base import EngineAdapter, Executor, Record
from harness.errors import EngineUnavailable, UnsupportedOperation, UserError
from harness.runner.loading import BATCH
from harness.spec.models import Entity, Operation, OperationKind, TimestampField, Workload

LOAD_TIME_NS = 1_577_836_800 * 10**9  # 2020-01-01T00:00:00Z: deterministic, older than any update
HTTPD_COUNTERS = ("req", "writeReq", "pointsWrittenOK", "pointsWrittenFail", "pointsWrittenDropped",
                  "fluxQueryReq", "fluxQueryReqDurationNs", "writeReqDurationNs", "queryReq",
                  "clientError", "serverError")
DIAGNOSTICS = {"config-data": ("wal-fsync-delay", "cache-max-memory-size", "cache-snapshot-memory-size",
                               "cache-snapshot-write-cold-duration", "max-series-per-database",
                               "max-values-per-tag"),
               "config-coordinator": ("write-timeout", "query-timeout", "max-concurrent-queries")}
REFUSED = {
    OperationKind.FIND: "InfluxDB has no secondary index on field values, so a find would scan every series; "
                        "making the field a tag would put it in each series' identity, so every update "
                        "would first need a query to learn the record's tag set",
    OperationKind.DELETE: "InfluxDB has no portable point delete (InfluxQL DELETE is 1.x only, the delete API "
                          "2.x only) and deletes tombstone shards: maintenance, not an online operation",
}


def field_value(value: Any) -> Any:
    """A record value as an InfluxDB field: scalars stay typed, the rest become strings."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # sorts as text
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return value


def flux_string(value: Any) -> str:
    """A Flux string literal (queries are built per call: Flux v0.65 has no parameters)."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{text}"'


def flux_value(value: Any) -> str:
    """A Flux literal of a field value as stored (see `field_value`)."""
    value = field_value(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, (int, float)) else flux_string(value)


def flux_time(value: datetime, plus_ns: int = 0) -> str:
    """A Flux time literal with nanoseconds (`plus_ns` < 1000 makes an exclusive stop inclusive)."""
    return f"{value.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%S.%f}{plus_ns:03d}Z"


def only_fields(names: Sequence[str], skip: Sequence[str] | str) -> str:
    """A Flux predicate fragment keeping the `_field`s named (all when none are)."""
    fields = [f for f in names if f not in skip]
    return " and (" + " or ".join(f"r._field == {flux_string(f)}" for f in fields) + ")" if fields else ""


@dataclass(frozen=True)
class Layout:
    """How an entity's records become points: which fields are tags, which one is the point time."""

    tags: tuple[str, ...]
    time_field: str | None  # None: loaded at LOAD_TIME_NS, written at the wall-clock time

    @classmethod
    def of(cls, entity: Entity) -> Layout:
        if not entity.series:
            return cls((entity.key,), None)
        time_field = next((n for n, s in entity.fields.items() if isinstance(s, TimestampField)), None)
        if time_field is None:
            raise UserError(f"influxdb: {entity.name} declares series {list(entity.series)} but no timestamp field: "
                            "its points would overwrite each other")
        return cls(entity.series, time_field)

    def point(self, measurement: str, values: Mapping[str, Any], time_ns: int) -> Point:
        """One line-protocol point: tags and fields from `values`, at the record's time or `time_ns`."""
        point = Point(measurement)
        for tag in self.tags:
            point.tag(tag, str(values[tag]))
        for name, value in values.items():
            if name not in self.tags and name != self.time_field and value is not None:
                point.field(name, field_value(value))
        return point.time(values[self.time_field] if self.time_field else time_ns, WritePrecision.NS)


def window_query(bucket: str, op: Operation, entity: Entity) -> Callable[[Any, Mapping[str, Any] | None], str]:
    """range / aggregate: the Flux over `[_from, _to]` of the point time, with `match` and `filter` applied.

    Tags are filtered before the fields are pivoted into rows, other fields after; an aggregate
    groups the value field's points by tags and folds them per `aggregateWindow` bucket.
    """
    layout = Layout.of(entity)
    if layout.time_field is None or op.range_field != layout.time_field:
        raise UnsupportedOperation(f"influxdb: {op.name} ranges over {entity.name}.{op.range_field}, but InfluxDB "
                                   "ranges over point time only (an entity's timestamp field, when it declares series)")
    tags = [f for f in op.match if f in layout.tags]
    fields = [f for f in op.match if f not in layout.tags]
    const_tags = {f: v for f, v in op.filter.items() if f in layout.tags}
    const_fields = {f: v for f, v in op.filter.items() if f not in layout.tags}
    head = f"from(bucket: {flux_string(bucket)}) |> range(start: "
    where = f"r._measurement == {flux_string(entity.name)}" + "".join(
        f" and r[{flux_string(f)}] == {flux_string(v)}" for f, v in const_tags.items())
    if op.kind is OperationKind.AGGREGATE:
        assert op.value_field is not None and op.function is not None and op.bucket_s is not None
        if fields or const_fields or any(g not in layout.tags for g in op.group_by):
            raise UnsupportedOperation(f"influxdb: {op.name} filters or groups by fields; an aggregate here "
                                       f"filters and groups by series tags {list(layout.tags)} only")
        where += f" and r._field == {flux_string(op.value_field)}"
        pivot = ""
        tail = (f" |> group(columns: [{', '.join(map(flux_string, op.group_by))}])"
                f" |> aggregateWindow(every: {round(op.bucket_s * 1000)}ms, fn: {op.function}, createEmpty: false)")
    else:
        needed = (*op.project, *fields, *const_fields, *((op.sort.field,) if op.sort else ())) if op.project else ()
        where += only_fields(needed, (*layout.tags, layout.time_field))
        pivot = ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        tail = "".join(f" |> filter(fn: (r) => r[{flux_string(f)}] == {flux_value(v)})" for f, v in const_fields.items())
        tail += " |> group()"
        if op.sort is not None:
            column = "_time" if op.sort.field == layout.time_field else op.sort.field
            tail += f" |> sort(columns: [{flux_string(column)}], desc: {str(op.sort.order == 'desc').lower()})"
        if op.limit is not None:
            tail += f" |> limit(n: {op.limit})"

    def compose(key: Any, values: Mapping[str, Any] | None) -> str:
        assert values is not None
        matched = "".join(f" and r[{flux_string(f)}] == {flux_string(values[f])}" for f in tags)
        pivoted = "".join(f" |> filter(fn: (r) => r[{flux_string(f)}] == {flux_value(values[f])})" for f in fields)
        window = f"{flux_time(values['_from'])}, stop: {flux_time(values['_to'], plus_ns=1)})"
        return f"{head}{window} |> filter(fn: (r) => {where}{matched}){pivot}{pivoted}{tail}"
    return compose


class InfluxAdapter(EngineAdapter):
    name = "influxdb"
    client_library = "influxdb-client"
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset({
        OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.RANGE, OperationKind.AGGREGATE,
    })

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        self.base_url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        if not query.get("bucket"):
            raise UserError(f"influxdb URL {self.base_url} needs ?bucket=<bucket> (on 1.x: <database>/<retention "
                            "policy>), plus org= and token=")
        self.bucket, self.org, self.token = query["bucket"], query.get("org", "-"), query.get("token", "")
        self.client: InfluxDBClient | None = None
        self.writer: WriteApi | None = None
        self.version = "unknown"
        self._counters_after_load: dict[str, int] | None = None

    def connect(self) -> None:
        self.client = InfluxDBClient(url=self.base_url, token=self.token, org=self.org)
        try:
            self.version = self.client.version().removeprefix("v")
        except (urllib3.exceptions.HTTPError, ApiException, OSError) as exc:
            self.client.close()
            self.client = None
            raise EngineUnavailable(f"influxdb at {self.base_url} is not reachable: {exc}") from exc
        self.writer = self.client.write_api(write_options=SYNCHRONOUS)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client, self.writer = None, None

    @property
    def _client(self) -> InfluxDBClient:
        assert self.client is not None, "connect() first"
        return self.client

    @property
    def _writer(self) -> WriteApi:
        assert self.writer is not None, "connect() first"
        return self.writer

    @property
    def _v1(self) -> bool:
        return self.version.startswith("1.")

    def is_disconnect(self, error: BaseException) -> bool:
        return isinstance(error, (urllib3.exceptions.HTTPError, ConnectionError, OSError))

    def unsupported_reason(self, op: Operation) -> str | None:
        if op.kind in REFUSED:
            return f"{self.name}: {REFUSED[op.kind]}"
        return super().unsupported_reason(op)

    # ---- version-specific HTTP endpoints (never on the timed path) -----------------

    def _http_json(self, path: str, params: Mapping[str, str] | None = None, post: bool = False) -> Any:
        url = f"{self.base_url}{path}"
        body = urllib.parse.urlencode(params or {})
        request = urllib.request.Request(
            url if post or not body else f"{url}?{body}", data=body.encode() if post else None,
            headers={"Authorization": f"Token {self.token}"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
        with opener.open(request, timeout=30) as reply:
            return json.load(reply)

    def _influxql(self, statement: str) -> list[dict[str, Any]]:
        """Run one InfluxQL statement over the 1.x `/query` endpoint; raise on its error."""
        database = self.bucket.split("/")[0]
        results: list[dict[str, Any]] = self._http_json(
            "/query", {"db": database, "q": statement}, post=True).get("results", [])
        errors = [r["error"] for r in results if "error" in r]
        if errors:
            raise UserError(f"influxdb refused {statement!r}: {'; '.join(errors)}")
        return results

    def _diagnostics(self) -> dict[str, dict[str, Any]]:
        """`SHOW DIAGNOSTICS` (1.x) as section -> setting -> value."""
        return {series["name"]: dict(zip(series["columns"], series["values"][0]))
                for series in self._influxql("SHOW DIAGNOSTICS")[0].get("series", [])}

    def _debug_vars(self) -> dict[str, Any]:
        out: dict[str, Any] = self._http_json("/debug/vars")
        return out

    def _httpd_counters(self) -> dict[str, int]:
        httpd = next(v for k, v in self._debug_vars().items() if k.startswith("httpd:"))
        return {name: int(httpd["values"].get(name, 0)) for name in HTTPD_COUNTERS}

    # ---- schema and load ------------------------------------------------------------

    def prepare(self, workload: Workload) -> None:
        keyed = [e for e in workload.dataset.entities if Layout.of(e).time_field is None]  # refuses a timeless series
        if self._v1:
            limit = int(self._diagnostics().get("config-data", {}).get("max-values-per-tag", 0))
            too_many = [e.name for e in keyed if limit and e.count > limit]
            if too_many:  # each record's key is a tag value: the server would reject the writes past it
                raise UserError(f"influxdb: {', '.join(too_many)} has more records than the server's "
                                f"max-values-per-tag ({limit:,}); set it to 0 (unlimited) in the [data] config")
            self._influxql(f'CREATE DATABASE "{self.bucket.split("/")[0]}"')  # idempotent; autogen RP
            for entity in workload.dataset.entities:
                self._influxql(f'DROP MEASUREMENT "{entity.name}"')
            return
        deleter = self._client.delete_api()
        for entity in workload.dataset.entities:
            deleter.delete("1970-01-01T00:00:00Z", "2262-01-01T00:00:00Z", f'_measurement="{entity.name}"',
                           bucket=self.bucket, org=self.org)

    def load(self, entity: Entity, records: Sequence[Record]) -> None:
        layout = Layout.of(entity)
        points = [layout.point(entity.name, record, LOAD_TIME_NS) for record in records]
        self._writer.write(bucket=self.bucket, org=self.org, record=points)

    def finish_load(self, workload: Workload) -> None:
        """Writes are visible once acknowledged; only mark where the measured counters start."""
        if self._v1:
            self._counters_after_load = self._httpd_counters()

    # ---- operations -----------------------------------------------------------------

    def read_query(self, op: Operation, entity: Entity) -> tuple[str, str]:
        """The Flux a read runs, around its key literal: each field's latest value, as one row."""
        if entity.series:
            raise UnsupportedOperation(f"influxdb: {op.name} reads {entity.name} by key, but its points are "
                                       f"addressed by series {list(entity.series)} and time: the key is a field")
        key = flux_string(entity.key)
        head = (f"from(bucket: {flux_string(self.bucket)}) |> range(start: 0) |> filter(fn: (r) => "
                f"r._measurement == {flux_string(entity.name)} and r[{key}] == ")
        tail = f'{only_fields(op.project, entity.key)}) |> last() |> pivot(rowKey: [{key}], columnKey: ["_field"], ' \
               'valueColumn: "_value")'
        return head, tail

    def bind(self, op: Operation, entity: Entity) -> Executor:
        writer, bucket, org, layout = self._writer, self.bucket, self.org, Layout.of(entity)
        if op.kind in (OperationKind.READ, OperationKind.RANGE, OperationKind.AGGREGATE):
            reader = self._client.query_api()
            if op.kind is OperationKind.READ:
                head, tail = self.read_query(op, entity)
                compose: Callable[[Any, Mapping[str, Any] | None], str] = \
                    lambda key, values: head + flux_string(key) + tail  # noqa: E731
            else:
                compose = window_query(self.bucket, op, entity)

            def query(key: Any, values: Mapping[str, Any] | None) -> int:
                return sum(1 for _ in reader.query_stream(compose(key, values), org=org))
            return query
        if op.kind is OperationKind.UPDATE:
            if entity.series:
                raise UnsupportedOperation(f"influxdb: {op.name} updates {entity.name} by key, but its points are "
                                           f"addressed by series {list(entity.series)} and time")

            def update(key: Any, values: Mapping[str, Any] | None) -> int:
                assert values is not None
                changed = {entity.key: key, **{f: values[f] for f in op.set}}
                writer.write(bucket=bucket, org=org, record=layout.point(entity.name, changed, time.time_ns()))
                return 1
            return update
        if op.kind is OperationKind.INSERT:
            def insert(key: Any, values: Mapping[str, Any] | None) -> int:
                assert values is not None
                writer.write(bucket=bucket, org=org, record=layout.point(entity.name, values, time.time_ns()))
                return 1
            return insert
        raise NotImplementedError(op.kind)

    # ---- manifest and telemetry -----------------------------------------------------

    def server_version(self) -> str:
        return self.version

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "api": "v2 write + Flux query (influxdb-client)",
            "write_mode": "synchronous: one HTTP request per write, acknowledged after the WAL append",
            "write_precision": "ns",
            "write_consistency": "n/a (single node: every write goes to its one WAL)",
            "load_batch_records": BATCH,
            "bucket": self.bucket,
        }
        if not self._v1:
            out["server_settings"] = "unavailable on InfluxDB 2 (no SHOW DIAGNOSTICS); storage-wal-fsync-delay " \
                                     "defaults to 0s"
            return out
        for section, row in self._diagnostics().items():
            out.update({name.replace("-", "_"): row[name] for name in DIAGNOSTICS.get(section, ()) if name in row})
        return out

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        if not self._v1:
            return {"unavailable": "InfluxDB 2 has no /debug/vars (its counters are Prometheus /metrics)"}
        stats = self._debug_vars()
        httpd = self._httpd_counters()
        database = self.bucket.split("/")[0]
        out: dict[str, Any] = {
            "httpd_since_start": httpd,
            "database": stats.get(f"database:{database}", {}).get("values", {}),
            "write": stats.get("write", {}).get("values", {}),
            "heap_in_use_bytes": stats.get("runtime", {}).get("values", {}).get("HeapInUse"),
            "gc_runs": stats.get("runtime", {}).get("values", {}).get("NumGC"),
        }
        if self._counters_after_load is not None:
            during = {name: httpd[name] - self._counters_after_load[name] for name in HTTPD_COUNTERS}
            out["httpd_after_load"] = during
            if during["fluxQueryReq"]:
                out["flux_query_mean_ms"] = round(during["fluxQueryReqDurationNs"] / during["fluxQueryReq"] / 1e6, 3)
        return out
