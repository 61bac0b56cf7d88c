"""InfluxDB adapter against a real server: its counters see every operation, results are right.

The proof comes from the server itself: `/debug/vars` httpd counters (write requests,
points written, Flux queries) and InfluxQL read-backs over `/query`, never from the adapter.
"""

from __future__ import annotations

import json
import socket
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from influxdb_client import InfluxDBClient

from harness.dataset.generate import RecordFactory
from harness.engines.calls import Change, Window
from harness.engines.influxdb import statements
from harness.engines.influxdb.adapter import InfluxAdapter
from harness.engines.influxdb.statements import Flux, field_value
from harness.engines.registry import create_adapter
from harness.engines.updates import bind_writes
from harness.errors import EngineUnavailable, HarnessBug, UnsupportedOperation, UserError
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.models import (
    DeleteOp,
    FindOp,
    Operation,
    OperationKind,
    RangeOp,
    ReadOp,
    ScanOp,
    SearchOp,
    Workload,
)
from harness.spec.suite import LoadProfile
from tests.engines.helpers import load_all, workload

pytestmark = pytest.mark.influxdb
BUCKET = "dbarena/autogen"  # the native server's database/retention policy


def _get(url: str, path: str, params: dict[str, str]) -> Any:
    base = url.split("?")[0]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{base}{path}?{urllib.parse.urlencode(params)}", timeout=10) as reply:
        return json.load(reply)


def flux(op: Operation, spec: Workload) -> Flux[Any]:
    """The Flux statement the adapter binds for `op`, to run through a separate client."""
    statement = statements.build(op, spec, BUCKET)
    assert isinstance(statement, Flux)
    return statement


def counters(url: str) -> dict[str, int]:
    stats = _get(url, "/debug/vars", {})
    return next(v["values"] for k, v in stats.items() if k.startswith("httpd:"))  # type: ignore[no-any-return]


def delta(url: str, before: dict[str, int]) -> dict[str, int]:
    now = counters(url)
    return {k: now[k] - before[k] for k in ("writeReq", "pointsWrittenOK", "fluxQueryReq")}


def influxql(url: str, query: str) -> list[list[Any]]:
    """Rows of an InfluxQL query through the 1.x endpoint: a separate path from the adapter's."""
    result = _get(url, "/query", {"db": "dbarena", "q": query})["results"][0]
    assert "error" not in result, result
    return [row for series in result.get("series", []) for row in series["values"]]


def last(url: str, measurement: str, field: str, tag: str, key: str) -> Any:
    return influxql(url, f"SELECT LAST(\"{field}\") FROM \"{measurement}\" WHERE \"{tag}\" = '{key}'")[0][1]


def test_contract_kv_cache_each_operation_reaches_the_server(influxdb_url: str) -> None:
    spec = workload("kv-cache", 300)
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    adapter = create_adapter("influxdb", influxdb_url)
    adapter.connect()
    assert adapter.server_version() == "1.8.10"

    before = counters(influxdb_url)
    load_all(adapter, spec)  # 3 batches of 100
    assert delta(influxdb_url, before) == {"writeReq": 3, "pointsWrittenOK": 300, "fluxQueryReq": 0}
    assert influxql(influxdb_url, "SELECT COUNT(field0) FROM usertable")[0][1] == 300
    ops = {op.name: bind_writes(adapter, op, spec) for op in spec.active().operations}

    key = factory.key_of(7)
    before = counters(influxdb_url)
    assert ops["read"](key) == 1
    assert ops["read"]("user-missing") == 0
    assert delta(influxdb_url, before) == {"writeReq": 0, "pointsWrittenOK": 0, "fluxQueryReq": 2}

    new = factory.new_values(("field0",), nonce=1)
    before = counters(influxdb_url)
    assert ops["update"](Change(key, new)) == 1
    assert delta(influxdb_url, before) == {"writeReq": 1, "pointsWrittenOK": 1, "fluxQueryReq": 0}
    assert last(influxdb_url, "usertable", "field0", "ycsb_key", key) == new["field0"]
    # The read's Flux merges each field's latest value: the new field0 beside the loaded field1.
    read = flux(spec.operations[0], spec)
    with InfluxDBClient(url=influxdb_url.split("?")[0], token="user:pass", org="-") as check:
        rows = [r.values for r in check.query_api().query_stream(read.text(key))]
    assert len(rows) == 1
    assert rows[0]["field0"] == new["field0"] and rows[0]["field1"] == factory.value("field1", 7)

    record = factory.record(300)
    before = counters(influxdb_url)
    assert ops["insert"](record) == 1
    assert delta(influxdb_url, before) == {"writeReq": 1, "pointsWrittenOK": 1, "fluxQueryReq": 0}
    assert influxql(influxdb_url, "SELECT COUNT(field1) FROM usertable")[0][1] == 301  # field0 has 2 points on key 7
    assert ops["read"](record["ycsb_key"]) == 1

    odd = {**factory.record(301), "ycsb_key": 'user"\\${x} ,=y'}  # Flux and line-protocol escaping
    assert ops["insert"](odd) == 1
    assert ops["read"](odd["ycsb_key"]) == 1
    assert ops["read"]('user"\\${x} ,=') == 0

    settings = adapter.settings()
    assert settings["wal_fsync_delay"] == "0s" and settings["write_precision"] == "ns"
    telemetry = adapter.telemetry(spec)
    assert telemetry["httpd_after_load"]["fluxQueryReq"] >= 5
    assert telemetry["database"]["numSeries"] >= 302
    adapter.close()


def test_contract_user_accounts_types_and_supported_operations(influxdb_url: str) -> None:
    spec = workload("user-accounts", 200)
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    adapter = create_adapter("influxdb", influxdb_url)
    adapter.connect()
    load_all(adapter, spec)
    kinds = dict(influxql(influxdb_url, 'SHOW FIELD KEYS FROM "users"'))
    assert kinds == {"email": "string", "username": "string", "is_active": "boolean", "metadata": "string",
                     "created_at": "string", "updated_at": "string", "last_login": "string"}
    assert influxql(influxdb_url, 'SHOW TAG KEYS FROM "users"') == [["id"]]
    by_name = {op.name: op for op in spec.operations}
    assert "secondary index" in (adapter.unsupported_reason(by_name["login"], spec) or "")
    ops = {name: adapter.bind(op, spec) for name, op in by_name.items() if name != "login"}

    key = factory.value("id", 9)
    assert last(influxdb_url, "users", "metadata", "id", key) == factory.value("metadata", 9)
    assert last(influxdb_url, "users", "is_active", "id", key) is factory.value("is_active", 9)
    before = counters(influxdb_url)
    assert ops["profile"](key) == 1
    assert ops["profile"]("00000000-0000-4000-8000-000000000000") == 0
    new = factory.new_values(("last_login", "updated_at"), nonce=3)
    assert ops["touch-login"](Change(key, new)) == 1
    assert ops["signup"](factory.record(200)) == 1
    assert delta(influxdb_url, before) == {"writeReq": 2, "pointsWrittenOK": 2, "fluxQueryReq": 2}
    assert last(influxdb_url, "users", "last_login", "id", key) == field_value(new["last_login"])
    assert influxql(influxdb_url, 'SELECT COUNT(is_active) FROM "users"')[0][1] == 201
    adapter.close()


def test_contract_metrics_timeseries_points_ranges_and_aggregates(influxdb_url: str) -> None:
    spec = workload("metrics-timeseries", 6000)  # 20 hosts x 300 steps of 10 s
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    adapter = create_adapter("influxdb", influxdb_url)
    adapter.connect()
    before = counters(influxdb_url)
    load_all(adapter, spec)
    assert delta(influxdb_url, before) == {"writeReq": 60, "pointsWrittenOK": 6000, "fluxQueryReq": 0}
    assert influxql(influxdb_url, "SHOW TAG KEYS FROM metrics") == [["host"]]  # the series, not the key
    assert dict(influxql(influxdb_url, "SHOW FIELD KEYS FROM metrics")) == {"cpu": "float", "id": "integer",
                                                                          "mem": "float"}
    assert len(influxql(influxdb_url, "SELECT COUNT(cpu) FROM metrics GROUP BY host")) == 20
    ops = {op.name: adapter.bind(op, spec) for op in spec.operations}
    by_name = {op.name: op for op in spec.operations}

    chosen = 4010  # host-11 at step 200 (t0 + 2000 s): the hour before it holds steps 0..200
    end = factory.value("ts", chosen)
    low = end - timedelta(hours=1)
    before = counters(influxdb_url)
    assert ops["series-last-hour"](Window({"host": "host-11"}, low, end)) == 201  # both bounds included
    assert ops["hourly-mean-per-host"](Window({}, low, end)) == 20 * 34  # minutes 0..33 of every host
    assert delta(influxdb_url, before) == {"writeReq": 0, "pointsWrittenOK": 0, "fluxQueryReq": 2}
    by_field = RangeOp(name="by-field", kind=OperationKind.RANGE, entity="metrics", weight=1, match=("host", "id"),
                       filter={"id": chosen}, range_field="ts", window=3600, project=("cpu",))
    assert adapter.bind(by_field, spec)(Window({"host": "host-11", "id": chosen}, low, end)) == 1  # id is a field

    with InfluxDBClient(url=influxdb_url.split("?")[0], token="user:pass", org="-") as check:
        def rows(name: str, window: Window) -> list[dict[str, Any]]:
            text = flux(by_name[name], spec).text(window)
            return [r.values for r in check.query_api().query_stream(text)]

        series = rows("series-last-hour", Window({"host": "host-11"}, low, end))
        assert [r["cpu"] for r in series] == [factory.value("cpu", 10 + 20 * step) for step in range(201)]  # by time
        means = {(r["host"], r["_time"]): r["_value"] for r in rows("hourly-mean-per-host", Window({}, low, end))}
    t0 = factory.value("ts", 0)
    first_minute = [factory.value("cpu", 20 * step) for step in range(6)]  # host-01 at 0, 10, ..., 50 s
    assert means[("host-01", t0 + timedelta(minutes=1))] == pytest.approx(sum(first_minute) / 6)

    record = factory.record(6000)  # host-01, step 300
    before = counters(influxdb_url)
    assert ops["ingest"](record) == 1
    assert delta(influxdb_url, before) == {"writeReq": 1, "pointsWrittenOK": 1, "fluxQueryReq": 0}
    at = record["ts"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert influxql(influxdb_url, f"SELECT cpu FROM metrics WHERE host = 'host-01' AND time = '{at}'")[0][1] \
        == record["cpu"]
    adapter.close()


@pytest.mark.parametrize("name", ["kv-cache", "metrics-timeseries"])
def test_run_produces_a_valid_record_with_server_counters(influxdb_url: str, name: str) -> None:
    spec = workload(name, 1000).active()
    load = LoadProfile(users=4, processes=2, duration_s=2, warmup_s=1)
    record = run_and_record(RunRequest(engine="influxdb", url=influxdb_url, workload=spec, load=load), Progress())
    assert record.complete and record.valid, record.invalid_reasons
    assert record.engine_version == "1.8.10"
    assert set(record.operations) == {op.name for op in spec.operations}
    for op in record.operations.values():
        assert op.count > 0 and op.errors == 0
    assert record.load_phase is not None and record.load_phase.records == 1000
    writes = sum(record.operations[op.name].count for op in spec.operations
                 if op.kind in (OperationKind.INSERT, OperationKind.UPDATE))
    during = record.telemetry["httpd_after_load"]
    assert during["pointsWrittenOK"] >= writes  # warm-up operations count on the server too
    assert during["fluxQueryReq"] >= sum(o.count for o in record.operations.values()) - writes
    assert during["serverError"] == 0
    assert record.manifest["engine_settings"]["wal_fsync_delay"] == "0s"


def test_unsupported_operations_are_refused_up_front_with_a_reason(influxdb_url: str) -> None:
    adapter = create_adapter("influxdb", influxdb_url)
    kv = workload("kv-cache", 10)
    common = {"name": "op", "entity": "usertable", "weight": 1}
    for op, words in ((DeleteOp(kind=OperationKind.DELETE, **common), "no portable point delete"),
                      (FindOp(kind=OperationKind.FIND, match=("field0",), **common), "secondary index"),
                      (ScanOp(kind=OperationKind.SCAN, **common), "no mapping"),
                      (SearchOp(kind=OperationKind.SEARCH, text_fields=("field0",), **common), "no mapping")):
        assert words in (adapter.unsupported_reason(op, kv) or ""), op.kind
    sessions = workload("session-cache", 10)
    touch = next(op for op in sessions.operations if op.name == "touch")
    assert "expire" in (adapter.unsupported_reason(touch, sessions) or "")  # ttl_s

    before = counters(influxdb_url)
    with pytest.raises(UnsupportedOperation, match=r"login \(find\): influxdb: InfluxDB has no secondary index"):
        run_and_record(RunRequest(engine="influxdb", url=influxdb_url, workload=workload("user-accounts", 100),
                                  load=LoadProfile(users=1, processes=1, duration_s=1, warmup_s=0)), Progress())
    assert delta(influxdb_url, before)["writeReq"] == 0  # refused before loading anything

    # Refusals that depend on the entity's shape come before the run too, and binding refuses the same way.
    catalog = workload("document-catalog", 10)
    browse = next(op for op in catalog.operations if op.kind is OperationKind.RANGE)
    assert "ranges over point time only" in (adapter.unsupported_reason(browse, catalog) or "")  # over price
    metrics = workload("metrics-timeseries", 10)
    read = ReadOp(name="read", kind=OperationKind.READ, entity="metrics", weight=1)
    assert "addressed by series" in (adapter.unsupported_reason(read, metrics) or "")
    adapter.connect()
    with pytest.raises(UnsupportedOperation, match="ranges over point time only"):
        adapter.bind(browse, catalog)
    with pytest.raises(UnsupportedOperation, match="addressed by series"):
        adapter.bind(read, metrics)
    adapter.close()


def test_a_per_tag_value_limit_is_refused_before_writing(monkeypatch: pytest.MonkeyPatch, influxdb_url: str) -> None:
    """Each kv-cache key is a tag value: a server limit below the record count is refused up front.

    The native server runs with the limit off; a stock 1.8 server has 100,000.
    """
    adapter = create_adapter("influxdb", influxdb_url)
    adapter.connect()
    monkeypatch.setattr(adapter, "_diagnostics", lambda: {"config-data": {"max-values-per-tag": 100_000}})
    with pytest.raises(UserError, match="max-values-per-tag"):
        adapter.prepare(workload("kv-cache", 100_001))
    adapter.close()


def test_an_unreachable_server_is_one_line_without_the_token(influxdb_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    adapter = create_adapter("influxdb", f"http://127.0.0.1:{port}?org=-&bucket={BUCKET}&token=user:secret")
    with pytest.raises(HarnessBug, match=r"before connect\(\)"):
        adapter.bind(workload("kv-cache", 10).operations[0], workload("kv-cache", 10))
    masked = f"influxdb at http://127.0.0.1:{port}.*token=\\*\\*\\*.* not reachable"
    with pytest.raises(EngineUnavailable, match=masked) as caught:
        adapter.connect()
    assert "secret" not in str(caught.value) and "\n" not in str(caught.value)
    live = InfluxAdapter("influxdb", influxdb_url)
    live.connect()
    live.close()
    with pytest.raises(HarnessBug, match=r"before connect\(\)"):
        _ = live.writer
