"""Golden tests of the InfluxDB statements: the Flux and the points each library operation sends, with no server.

The inline cases below are the ones to read; `statements.golden.txt` holds every operation of every
library workload (workloads/*.yaml) with its Flux text or line-protocol point for a sample argument,
or the reason InfluxDB refuses it. After an intended change, regenerate it with
`DBARENA_UPDATE_GOLDEN=1 .venv/bin/pytest tests/engines/influxdb/test_statements.py` and review the diff.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from harness.dataset.generate import dataset_factories
from harness.engines.calls import Change, Window
from harness.engines.influxdb import statements
from harness.engines.influxdb.adapter import InfluxAdapter
from harness.engines.influxdb.statements import Flux, Layout, Write, flux_string, flux_time, flux_value
from harness.errors import HarnessBug, UserError
from harness.spec.models import (
    AggregateOp,
    Entity,
    InsertOp,
    IntField,
    Operation,
    OperationKind,
    RangeOp,
    ReadOp,
    TimestampField,
    UpdateOp,
    Workload,
    single_field_updates,
)
from tests.engines import golden
from tests.engines.helpers import ROOT, workload

GOLDEN = Path(__file__).with_name("statements.golden.txt")
LIBRARY = sorted(path.stem for path in (ROOT / "workloads").glob("*.yaml"))
BUCKET = "dbarena/autogen"
# never connected: refusals need no server
ADAPTER = InfluxAdapter("influxdb", f"http://127.0.0.1:1?org=-&bucket={BUCKET}&token=user:pass")
NOW_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z: the call's wall-clock time in these tests
HOUR_END = datetime(2026, 1, 1, 0, 33, 20, tzinfo=timezone.utc)


def op_named(spec: Workload, name: str) -> Operation:
    return next(op for op in spec.operations if op.name == name)


def flux(op: Operation, spec: Workload) -> Flux[Any]:
    statement = statements.build(op, spec, BUCKET)
    assert isinstance(statement, Flux)
    return statement


def line(op: Operation, spec: Workload, argument: Any) -> str:
    """The line-protocol point an insert or update writes for `argument` at NOW_NS."""
    statement = statements.build(op, spec, BUCKET)
    assert isinstance(statement, Write)
    return str(statement.point(argument, NOW_NS).to_line_protocol())


# ---- the cases to read ----------------------------------------------------------------------


def test_kv_cache_read_is_each_fields_latest_value_of_the_key_tag_as_one_row() -> None:
    spec = workload("kv-cache", 100)
    assert flux(op_named(spec, "read"), spec).text("user-1") == (
        'from(bucket: "dbarena/autogen") |> range(start: 0)'
        ' |> filter(fn: (r) => r._measurement == "usertable" and r["ycsb_key"] == "user-1")'
        ' |> last() |> pivot(rowKey: ["ycsb_key"], columnKey: ["_field"], valueColumn: "_value")')


def test_a_projected_read_keeps_only_the_projected_fields_before_last() -> None:
    spec = workload("user-accounts", 100)
    profile = ReadOp(name="p", kind=OperationKind.READ, entity="users", weight=1, project=("id", "email", "is_active"))
    assert flux(profile, spec).text("u-1") == (
        'from(bucket: "dbarena/autogen") |> range(start: 0)'
        ' |> filter(fn: (r) => r._measurement == "users" and r["id"] == "u-1"'
        ' and (r._field == "email" or r._field == "is_active"))'  # the key is the tag, not a field
        ' |> last() |> pivot(rowKey: ["id"], columnKey: ["_field"], valueColumn: "_value")')


def test_kv_cache_update_is_a_newer_point_with_only_the_set_fields_and_insert_the_whole_record() -> None:
    spec = workload("kv-cache", 100)
    update = single_field_updates(op_named(spec, "update"))["field0"]  # write: one — a call sets one field
    assert line(update, spec, Change("user-1", {"field0": "new"})) == \
        'usertable,ycsb_key=user-1 field0="new" 1767225600000000000'
    record = {"ycsb_key": 'user"\\${x} ,=y', "field0": 'a "quoted" value', "field1": None}
    assert line(op_named(spec, "insert"), spec, record) == \
        'usertable,ycsb_key=user"\\${x}\\ \\,\\=y field0="a \\"quoted\\" value" 1767225600000000000'  # None: no field


def test_user_accounts_fields_keep_their_types_and_the_rest_become_strings() -> None:
    spec = workload("user-accounts", 100)
    record = {"id": "u-2", "email": "bo@example.org", "username": "bo", "is_active": True,
              "metadata": '{"plan": "pro"}', "created_at": datetime(2025, 3, 4, 5, 6, 7, 8000, tzinfo=timezone.utc),
              "updated_at": datetime(2025, 3, 4, 6, 6, 7, tzinfo=timezone(timedelta(hours=1))), "last_login": None}
    assert line(op_named(spec, "signup"), spec, record) == (
        'users,id=u-2 created_at="2025-03-04T05:06:07.008000Z",email="bo@example.org",is_active=true,'  # sorted
        'metadata="{\\"plan\\": \\"pro\\"}",updated_at="2025-03-04T05:06:07.000000Z",username="bo" 1767225600000000000')
    assert statements.field_value(["a", "b", 3]) == "a,b,3"  # a tags list


def test_metrics_ingest_is_written_at_its_own_time_with_the_series_as_tags() -> None:
    spec = workload("metrics-timeseries", 100)
    record = {"id": 7, "host": "host-08", "ts": HOUR_END, "cpu": 12.5, "mem": 3.0}
    assert line(op_named(spec, "ingest"), spec, record) == \
        "metrics,host=host-08 cpu=12.5,id=7i,mem=3 1767227600000000000"  # not NOW_NS: the record's ts


def test_metrics_series_last_hour_filters_the_tag_then_pivots_sorts_by_time_and_limits() -> None:
    spec = workload("metrics-timeseries", 100)
    window = Window({"host": "host-11"}, HOUR_END - timedelta(hours=1), HOUR_END)
    assert flux(op_named(spec, "series-last-hour"), spec).text(window) == (
        'from(bucket: "dbarena/autogen")'
        " |> range(start: 2025-12-31T23:33:20.000000000Z, stop: 2026-01-01T00:33:20.000000001Z)"  # both included
        ' |> filter(fn: (r) => r._measurement == "metrics" and r["host"] == "host-11")'
        ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        ' |> group() |> sort(columns: ["_time"], desc: false) |> limit(n: 1000)')


def test_metrics_hourly_mean_groups_the_value_field_by_tag_per_bucket() -> None:
    spec = workload("metrics-timeseries", 100)
    window = Window({}, HOUR_END - timedelta(hours=1), HOUR_END)
    assert flux(op_named(spec, "hourly-mean-per-host"), spec).text(window) == (
        'from(bucket: "dbarena/autogen")'
        " |> range(start: 2025-12-31T23:33:20.000000000Z, stop: 2026-01-01T00:33:20.000000001Z)"
        ' |> filter(fn: (r) => r._measurement == "metrics" and r._field == "cpu")'
        ' |> group(columns: ["host"]) |> aggregateWindow(every: 60000ms, fn: mean, createEmpty: false)')


def test_a_range_filters_tags_before_the_pivot_and_fields_after_it() -> None:
    spec = workload("metrics-timeseries", 100)
    by_field = RangeOp(name="by-field", kind=OperationKind.RANGE, entity="metrics", weight=1, match=("host", "id"),
                       filter={"mem": 1.5, "host": "host-02"}, range_field="ts", window=60, project=("cpu",),
                       sort={"field": "cpu", "order": "desc"}, limit=5)
    window = Window({"host": "host-11", "id": 4010}, HOUR_END - timedelta(minutes=1), HOUR_END)
    assert flux(by_field, spec).text(window) == (
        'from(bucket: "dbarena/autogen")'
        " |> range(start: 2026-01-01T00:32:20.000000000Z, stop: 2026-01-01T00:33:20.000000001Z)"
        ' |> filter(fn: (r) => r._measurement == "metrics" and r["host"] == "host-02"'  # the constant tag
        ' and (r._field == "cpu" or r._field == "id" or r._field == "mem" or r._field == "cpu")'
        ' and r["host"] == "host-11")'  # the call's tag
        ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        ' |> filter(fn: (r) => r["id"] == 4010)'  # the call's field, typed
        ' |> filter(fn: (r) => r["mem"] == 1.5) |> group()'
        ' |> sort(columns: ["cpu"], desc: true) |> limit(n: 5)')


def test_literals_are_escaped_and_typed_as_stored() -> None:
    assert flux_string('a"b\\c${d}') == '"a\\"b\\\\c\\${d}"'
    assert [flux_value(v) for v in (True, 3, 2.5, "x")] == ["true", "3", "2.5", '"x"']
    assert flux_value(datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))) == '"2026-01-01T00:00:00.000000Z"'
    assert flux_time(HOUR_END, plus_ns=1) == "2026-01-01T00:33:20.000000001Z"


def test_refusals_that_depend_on_the_entity_come_from_the_statements() -> None:
    catalog = workload("document-catalog", 100)
    browse = op_named(catalog, "browse")
    assert statements.refusal(browse, catalog.entity("products")) == (
        "browse ranges over products.price, but InfluxDB ranges over point time only "
        "(an entity's timestamp field, when it declares series)")
    metrics = workload("metrics-timeseries", 100)
    entity = metrics.entity("metrics")
    read = ReadOp(name="get", kind=OperationKind.READ, entity="metrics", weight=1)
    assert statements.refusal(read, entity) == ("get reads metrics by key, but its points are addressed by series "
                                                "['host'] and time: the key is a field")
    update = UpdateOp(name="fix", kind=OperationKind.UPDATE, entity="metrics", weight=1, set=("cpu",))
    assert statements.refusal(update, entity) == \
        "fix updates metrics by key, but its points are addressed by series ['host'] and time"
    by_id = AggregateOp(name="by-id", kind=OperationKind.AGGREGATE, entity="metrics", weight=1, range_field="ts",
                        window=60, value_field="cpu", function="max", bucket_s=10, group_by=("id",))
    assert statements.refusal(by_id, entity) == ("by-id filters or groups by fields; an aggregate here filters and "
                                                 "groups by series tags ['host'] only")
    assert ADAPTER.unsupported_reason(by_id, metrics) == f"influxdb: {statements.refusal(by_id, entity)}"
    with pytest.raises(HarnessBug, match="bound although refused"):
        statements.build(browse, catalog, BUCKET)


def test_a_series_entity_without_a_timestamp_field_is_refused_and_cannot_be_laid_out() -> None:
    timeless = Entity(name="gauges", count=1, key="id", series=("host",),
                      fields={"id": IntField(type="int"), "host": IntField(type="int")})
    insert = InsertOp(name="put", kind=OperationKind.INSERT, entity="gauges", weight=1)
    assert statements.refusal(insert, timeless) == \
        "gauges declares series ['host'] but no timestamp field: its points would overwrite each other"
    with pytest.raises(UserError, match="no timestamp field"):
        Layout.of(timeless)
    timed = timeless.model_copy(update={"fields": {**timeless.fields, "at": TimestampField(type="timestamp")}})
    assert Layout.of(timed) == Layout("gauges", ("host",), "at") and statements.refusal(insert, timed) is None


# ---- every library operation, snapshot-style --------------------------------------------------


def sent(op: Operation, spec: Workload, argument: Any) -> str:
    """What the executor sends: the Flux text, or the point's line protocol."""
    statement = statements.build(op, spec, BUCKET)
    if isinstance(statement, Flux):
        return f"flux: {statement.text(argument)}"
    return f"write: {statement.point(argument, NOW_NS).to_line_protocol()}"


def library_snapshot() -> str:
    blocks: list[str] = []
    for name in LIBRARY:
        spec = workload(name, 100)
        factories = dataset_factories(spec)
        for op in spec.operations:
            reason = ADAPTER.unsupported_reason(op, spec)
            body = f"refused: {reason}" if reason else sent(op, spec, golden.sample_argument(op, factories[op.entity]))
            blocks.append(f"== {name} / {op.name} ({op.kind.value})\n{body}\n")
    return "\n".join(blocks)


def test_every_library_operation_matches_the_golden_file() -> None:
    golden.check_golden(GOLDEN, library_snapshot(), what="InfluxDB statements")


def test_the_golden_file_covers_every_library_workload_and_what_influxdb_supports() -> None:
    blocks = re.split(r"^== ", GOLDEN.read_text(), flags=re.MULTILINE)[1:]
    heads = {block.split(" / ")[0] for block in blocks}
    assert sorted(heads) == LIBRARY
    supported = {block.split(" (")[0] for block in blocks if "\nrefused: " not in block}
    assert supported == {
        "audit-log / append", "document-catalog / view", "document-catalog / restock", "document-catalog / add-product",
        "kv-cache / read", "kv-cache / update", "kv-cache / insert", "kv-cache / read-latest",
        "kv-cache / read-modify-write", "metrics-timeseries / ingest", "metrics-timeseries / series-last-hour",
        "metrics-timeseries / hourly-mean-per-host", "product-search / view", "session-cache / get",
        "social-graph / follow", "user-accounts / profile", "user-accounts / touch-login", "user-accounts / signup",
    }
