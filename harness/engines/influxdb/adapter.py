"""InfluxDB adapter (influxdb-client, v2 API): records as points, updates as newer points.

What each operation sends (Flux text, point layout) is built in `statements.py`, with no
server; here are the connection, the version-specific endpoints, load and telemetry.
- load writes line-protocol batches in synchronous mode (one HTTP request per batch); an
  insert or update is one synchronous write of one point, counted as 1 (a blind upsert).
- read, range and aggregate run their Flux through `query_stream` and parse every reply to
  the end. On 1.8 every Flux query costs ~10 ms of server CPU before it reads anything, which
  bounds reads.

Refused up front in `unsupported_reason`: `find` (no secondary index on field values;
making the field a tag would put it into each series' identity, so every update would
first need a query to learn it), `delete` (no portable point delete, and deletes are
tombstoning maintenance), and `scan`, `search`, `traverse`, TTLs and nested updates; and,
as they depend on the entity (`statements.refusal`): read/update by key of a series entity,
ranges over anything but point time, aggregates filtering or grouping by non-tag fields.

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
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import urllib3
from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS, WriteApi
from influxdb_client.rest import ApiException

from harness.engines.base import EngineAdapter, LockHolder
from harness.engines.calls import Executor, Record
from harness.engines.influxdb import statements
from harness.engines.influxdb.lines import LineEncoder
from harness.engines.influxdb.statements import LOAD_TIME_NS, REFUSED, Flux, Layout
from harness.engines.limits import LOAD_BATCH
from harness.errors import HarnessBug, UnsupportedOperation, UserError
from harness.redact import redact_url
from harness.spec.models import DEFAULT_OP_TIMEOUT_S, Entity, Operation, OperationKind, Workload, timeout_of

HTTPD_COUNTERS = ("req", "writeReq", "pointsWrittenOK", "pointsWrittenFail", "pointsWrittenDropped",
                  "fluxQueryReq", "fluxQueryReqDurationNs", "writeReqDurationNs", "queryReq",
                  "clientError", "serverError")
DIAGNOSTICS = {"config-data": ("wal-fsync-delay", "cache-max-memory-size", "cache-snapshot-memory-size",
                               "cache-snapshot-write-cold-duration", "max-series-per-database",
                               "max-values-per-tag"),
               "config-coordinator": ("write-timeout", "query-timeout", "max-concurrent-queries")}


LOCK_MEASUREMENT = "dbarena_lock"  # dataset locks: one point per entity and holder (prepare drops entities only)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _escape(text: str) -> str:
    """A line-protocol string field value: backslashes and double quotes escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


class InfluxAdapter(EngineAdapter[InfluxDBClient]):
    client_library = "influxdb-client"
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset({
        OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.RANGE, OperationKind.AGGREGATE,
    })
    unreachable_errors: ClassVar[tuple[type[BaseException], ...]] = (urllib3.exceptions.HTTPError, ApiException,
                                                                      OSError)
    disconnect_errors: ClassVar[tuple[type[BaseException], ...]] = (urllib3.exceptions.HTTPError, ConnectionError,
                                                                     OSError)
    # the HTTP client's read (or connect) timeout: InfluxDB has no per-query limit a client can set
    # (1.x has a server-wide query-timeout); urllib3 drops that connection, the next call opens another.
    # (urllib3's NewConnectionError, a refused connection, derives from ConnectTimeoutError: is_timeout
    # leaves it out.)
    timeout_errors: ClassVar[tuple[type[BaseException], ...]] = (
        urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError, TimeoutError)
    locks_datasets: ClassVar[bool] = True  # a marker point per holder in dbarena_lock (lock_dataset)
    url_schemes: ClassVar[tuple[str, ...]] = ("http", "https")
    url_example: ClassVar[str] = "http://127.0.0.1:8086?org=dbarena&bucket=dbarena&token=TOKEN"

    def __init__(self, name: str, url: str, op_timeout_s: float = DEFAULT_OP_TIMEOUT_S) -> None:
        super().__init__(name, url, op_timeout_s)
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        self.base_url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        if not query.get("bucket"):
            raise UserError(f"influxdb URL {redact_url(self.base_url)} needs ?bucket=<bucket> (on 1.x: "
                            "<database>/<retention policy>), plus org= and token=")
        self.bucket, self.org, self.token = query["bucket"], query.get("org", "-"), query.get("token", "")
        self._writer: WriteApi | None = None
        self._timed: dict[float, InfluxDBClient] = {}  # operation timeout (s) -> a client with that HTTP timeout
        self._lock_times: dict[str, int] = {}  # lock name -> the time (ns) of this holder's marker point
        self.version = "unknown"
        self._counters_after_load: dict[str, int] | None = None

    def _open(self) -> InfluxDBClient:
        client = InfluxDBClient(url=self.base_url, token=self.token, org=self.org)
        try:
            self.version = client.version().removeprefix("v")
        except self.unreachable_errors:
            client.close()
            raise
        self._writer = client.write_api(write_options=SYNCHRONOUS)
        return client

    def is_timeout(self, error: BaseException) -> bool:
        if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
            error = error.reason
        return super().is_timeout(error) and not isinstance(error, urllib3.exceptions.NewConnectionError)

    def _shutdown(self, client: InfluxDBClient) -> None:
        self._writer = None
        timed, self._timed = self._timed, {}
        for other in timed.values():
            other.close()
        client.close()

    def _within(self, seconds: float) -> InfluxDBClient:
        """A client of this server whose requests time out after `seconds` (one per distinct operation timeout).

        The adapter's own client keeps the library's 10 s for schema, loads and telemetry.
        """
        if seconds not in self._timed:
            self.client  # noqa: B018 - a HarnessBug before connect(): these clients go with the connection
            self._timed[seconds] = InfluxDBClient(url=self.base_url, token=self.token, org=self.org,
                                                  timeout=max(1, round(seconds * 1000)))
        return self._timed[seconds]

    @property
    def writer(self) -> WriteApi:
        """The connection's synchronous write API; a HarnessBug when used before `connect()`."""
        if self._writer is None:
            raise HarnessBug(f"{self.name} adapter used before connect() (or after close())")
        return self._writer

    @property
    def _v1(self) -> bool:
        return self.version.startswith("1.")

    def unsupported_reason(self, op: Operation, workload: Workload) -> str | None:
        if op.kind in REFUSED:
            return f"{self.name}: {REFUSED[op.kind]}"
        reason = super().unsupported_reason(op, workload)
        if reason is None and (why := statements.refusal(op, workload.entity(op.entity))):
            reason = f"{self.name}: {why}"
        return reason

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
        deleter = self.client.delete_api()
        for entity in workload.dataset.entities:
            deleter.delete("1970-01-01T00:00:00Z", "2262-01-01T00:00:00Z", f'_measurement="{entity.name}"',
                           bucket=self.bucket, org=self.org)

    def load(self, workload: Workload, entity: Entity, records: Sequence[Record]) -> None:
        """One write of the records' lines (harness.engines.influxdb.lines: what their Points would write)."""
        encoder = LineEncoder(Layout.of(entity))
        body = "\n".join([encoder.line(record, LOAD_TIME_NS) for record in records]).encode()
        self.writer.write(bucket=self.bucket, org=self.org, record=body)

    def finish_load(self, workload: Workload) -> None:
        """Writes are visible once acknowledged; only mark where the measured counters start."""
        if self._v1:
            self._counters_after_load = self._httpd_counters()

    # ---- operations -----------------------------------------------------------------

    def bind(self, op: Operation, workload: Workload) -> Executor:
        reason = self.unsupported_reason(op, workload)
        if reason is not None:
            raise UnsupportedOperation(reason)
        statement = statements.build(op, workload, self.bucket)
        org, client = self.org, self._within(timeout_of(op, self.op_timeout_s))
        if isinstance(statement, Flux):
            reader, text = client.query_api(), statement.text

            def query(argument: Any) -> int:
                return sum(1 for _ in reader.query_stream(text(argument), org=org))
            return query
        writer, bucket, point = client.write_api(write_options=SYNCHRONOUS), self.bucket, statement.point

        def write(argument: Any) -> int:
            writer.write(bucket=bucket, org=org, record=point(argument, time.time_ns()))
            return 1
        return write

    # ---- one run per dataset: marker points, no transaction ---------------------------

    def _lock_acquire(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """Write this holder's marker point, then read every live marker of `name`: the oldest holds the lock.

        InfluxDB has no transaction, conditional write or unique key, so this is write-then-check:
        two runs that write at once both see both markers and the later one withdraws. The race
        left: markers are ordered by the writers' clocks, so runs on hosts whose clocks differ by
        more than the time between their two writes can both believe they came first.
        """
        self._lock_times[name] = time.time_ns() // 1000 * 1000  # µs: what a query's datetime gives back exactly
        self._lock_write(name, holder, time.time() + ttl_s)
        live = [(at, run, text) for at, run, text, expires_ms in self._lock_markers(name) if expires_ms > time.time() * 1000]
        first = min(live, default=None)
        if first is None or first[1] == holder.run_id:
            return None
        self._lock_release(name, holder)
        return LockHolder.model_validate_json(first[2])

    def _lock_renew(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """Our marker written again with a later expiry, unless another run's live marker now comes first
        (ours expired during an outage and that run took the lock): then its holder."""
        now_ms = time.time() * 1000
        first = min(((at, run, text) for at, run, text, expires_ms in self._lock_markers(name) if expires_ms > now_ms),
                    default=None)
        if first is not None and first[1] != holder.run_id:
            return LockHolder.model_validate_json(first[2])
        self._lock_write(name, holder, time.time() + ttl_s)
        return None

    def _lock_release(self, name: str, holder: LockHolder) -> None:
        """`holder`'s markers of `name` written again, expired (the same points: same series and time)."""
        for at, run, _, _ in self._lock_markers(name):
            if run == holder.run_id:
                self._lock_write(name, holder, 0.0, at)

    def _lock_write(self, name: str, holder: LockHolder, expires_s: float, at_ns: int | None = None) -> None:
        point = (f'{LOCK_MEASUREMENT},entity={name},run={holder.run_id} holder="{_escape(holder.model_dump_json())}",'
                 f"expires_ms={int(expires_s * 1000)}i {self._lock_times[name] if at_ns is None else at_ns}")
        self.writer.write(bucket=self.bucket, org=self.org, record=point)

    def _lock_markers(self, name: str) -> list[tuple[int, str, str, int]]:
        """(time ns, run, holder json, expires ms) of every marker of lock `name`."""
        flux = (f'from(bucket: "{self.bucket}") |> range(start: 0) '
                f'|> filter(fn: (r) => r._measurement == "{LOCK_MEASUREMENT}" and r.entity == "{name}") '
                '|> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")')
        return [((r["_time"] - EPOCH) // timedelta(microseconds=1) * 1000, str(r["run"]), str(r["holder"]),
                 int(r["expires_ms"])) for r in self.client.query_api().query_stream(flux, org=self.org)]

    # ---- manifest and telemetry -----------------------------------------------------

    def server_version(self) -> str:
        return self.version

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "api": "v2 write + Flux query (influxdb-client)",
            "write_mode": "synchronous: one HTTP request per write, acknowledged after the WAL append",
            "write_precision": "ns",
            "write_consistency": "n/a (single node: every write goes to its one WAL)",
            "load_batch_records": LOAD_BATCH,
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

    def answer(self, op: Operation, workload: Workload, argument: Any) -> list[dict[str, Any]] | None:
        """The rows the executor's Flux returns (dbarena verify; influxdb/answers.py)."""
        from harness.engines.influxdb.answers import answer

        if reason := self.unsupported_reason(op, workload):
            raise UnsupportedOperation(reason)
        return answer(self.client, self.bucket, self.org, op, workload, argument)
