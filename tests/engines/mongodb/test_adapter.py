"""MongoDB adapter against a real server (FerretDB here): opcounters prove each call reached it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timezone
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from harness.dataset.generate import RecordFactory, dataset_factories
from harness.engines.base import EngineAdapter
from harness.engines.calls import Change, Scan, Window
from harness.engines.mongodb.adapter import client_options, opcounters
from harness.engines.registry import create_adapter
from harness.engines.updates import bind_writes
from harness.errors import UnsupportedOperation
from harness.provision.ports import free_port
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.models import AggregateOp, DeleteOp, InsertOp, NativeOp, OperationKind, ScanOp
from harness.spec.suite import LoadProfile
from tests.engines.helpers import load_all, workload

pytestmark = pytest.mark.mongodb


@pytest.fixture()
def check(mongodb_url: str) -> Iterator[Database[dict[str, Any]]]:
    """A separate client on the benchmark database, for reading back what the adapter wrote."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url, tz_aware=True, **client_options(mongodb_url))
    yield client.get_default_database("dbarena")
    client.close()


@pytest.fixture()
def adapter(mongodb_url: str) -> Iterator[EngineAdapter[Any]]:
    adapter = create_adapter("mongodb", mongodb_url)
    adapter.connect()
    yield adapter
    adapter.close()


def counters(db: Database[dict[str, Any]]) -> dict[str, int]:
    return opcounters(db.command("serverStatus"))


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in ("insert", "query", "update", "delete")}


def test_contract_user_accounts_server_sees_each_operation_and_results_are_right(
        adapter: EngineAdapter[Any], check: Database[dict[str, Any]]) -> None:
    spec = workload("user-accounts", 300)
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    ops = {op.name: adapter.bind(op, spec) for op in spec.operations}
    assert check.users.count_documents({}) == 300
    active = next(i for i in range(300) if factory.value("is_active", i))
    inactive = next(i for i in range(300) if not factory.value("is_active", i))
    new_values = factory.new_values(("last_login", "updated_at"), nonce=1)
    new_user = factory.record(300)

    before = counters(check)
    assert ops["login"]({"email": factory.value("email", active)}) == 1
    assert ops["login"]({"email": factory.value("email", inactive)}) == 0  # only active users log in
    assert ops["profile"](factory.value("id", 5)) == 1
    assert ops["profile"]("00000000-0000-4000-8000-000000000000") == 0
    assert ops["touch-login"](Change(factory.value("id", 5), new_values)) == 1
    assert ops["signup"](new_user) == 1
    assert delta(before, counters(check)) == {"insert": 1, "query": 4, "update": 1, "delete": 0}

    stored = check.users.find_one({"_id": factory.value("id", 5)})
    assert stored is not None and "id" not in stored  # the key lives in `_id` only
    ms = new_values["last_login"].microsecond // 1000 * 1000  # BSON dates keep milliseconds
    assert stored["last_login"] == new_values["last_login"].replace(microsecond=ms)
    assert stored["metadata"] == json.loads(factory.value("metadata", 5))  # an embedded document
    assert stored["created_at"] == factory.value("created_at", 5).astimezone(timezone.utc)
    signed_up = check.users.find_one({"email": new_user["email"]})
    assert signed_up is not None and signed_up["_id"] == new_user["id"] and signed_up["is_active"] is new_user["is_active"]
    assert check.users.count_documents({}) == 301
    with pytest.raises(DuplicateKeyError):  # the declared unique index exists and is enforced
        check.users.insert_one({"_id": "dup", "email": new_user["email"]})
    assert adapter.settings()["write_concern"] == {"w": 1}


def test_contract_kv_cache_plus_scan_delete_and_native(adapter: EngineAdapter[Any], check: Database[dict[str, Any]]) -> None:
    spec = workload("kv-cache", 200)
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = RecordFactory(entity, spec.dataset.seed)
    extra = (
        ScanOp(name="scan", kind=OperationKind.SCAN, entity="usertable", weight=1, limit=10, project=("field1",)),
        DeleteOp(name="delete", kind=OperationKind.DELETE, entity="usertable", weight=1),
        NativeOp(name="native", kind=OperationKind.NATIVE, entity="usertable", weight=1, statements={
            "mongodb": '{"find": "usertable", "filter": {"_id": "{key}"}, "projection": {"field0": 1}}'}),
    )
    ops = {op.name: bind_writes(adapter, op, spec) for op in (*spec.operations, *extra)}
    keys = sorted(factory.value("ycsb_key", i) for i in range(200))
    new_values = factory.new_values(("field0",), nonce=7)
    new_record = factory.record(200)

    before = counters(check)
    assert ops["read"](keys[0]) == 1
    assert ops["update"](Change(keys[1], new_values)) == 1
    assert ops["update"](Change("user-missing", new_values)) == 0
    assert ops["insert"](new_record) == 1
    assert ops["scan"](Scan(keys[-5], 10)) == 5 + (new_record["ycsb_key"] > keys[-5])  # runs off the end
    assert ops["scan"](Scan(keys[0], 10)) == 10
    assert ops["scan"](Scan(keys[0], 3)) == 3  # the length the call asks for
    assert ops["delete"](keys[2]) == 1
    assert ops["delete"](keys[2]) == 0
    assert ops["native"]({"key": keys[1]}) == 1
    assert delta(before, counters(check)) == {"insert": 1, "query": 5, "update": 2, "delete": 2}

    assert check.usertable.find_one({"_id": keys[1]}, {"field0": 1}) == {"_id": keys[1], "field0": new_values["field0"]}
    assert check.usertable.find_one({"_id": keys[2]}) is None
    assert check.usertable.find_one({"_id": new_record["ycsb_key"]}) is not None
    assert check.usertable.count_documents({}) == 200


def test_contract_document_catalog_range_and_nested_update(
        adapter: EngineAdapter[Any], check: Database[dict[str, Any]]) -> None:
    spec = workload("document-catalog", 300)
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = dataset_factories(spec)[entity.name]
    ops = {op.name: adapter.bind(op, spec) for op in spec.operations}
    records = [factory.record(i) for i in range(300)]

    def expected(category: str, low: float, high: float) -> int:  # browse: the band's products, 20 a page
        return min(20, sum(1 for r in records if r["category"] == category and low <= r["price"] <= high))

    bands = [(r["category"], r["price"] - 50, r["price"]) for r in records[:29]] + [("books", 0.0, 500.0)]
    sizes = [expected(*band) for band in bands]
    assert min(sizes) >= 1 and sizes[-1] == 20  # the chosen product is in its own band; the last fills a page
    new_attribute = factory.new_values(("attributes.k1",), nonce=3)
    sku = records[7]["sku"]

    before = counters(check)
    for (category, low, high), size in zip(bands, sizes):
        assert ops["browse"](Window({"category": category}, low, high)) == size
    assert ops["set-attribute"](Change(sku, new_attribute)) == 1
    assert ops["view"](sku) == 1
    assert delta(before, counters(check)) == {"insert": 0, "query": 31, "update": 1, "delete": 0}

    stored = check.products.find_one({"_id": sku})
    assert stored is not None
    attributes = json.loads(records[7]["attributes"])
    assert stored["attributes"] == attributes | {"k1": new_attribute["attributes.k1"]}  # the other keys stay
    assert stored["tags"] == records[7]["tags"]


def test_kv_cache_run_produces_a_valid_record_with_telemetry(mongodb_url: str) -> None:
    load = LoadProfile(users=4, processes=2, duration_s=2, warmup_s=1)
    spec = workload("kv-cache", 1000).active()  # the default mix, without the ops only presets turn on
    record = run_and_record(RunRequest(engine="mongodb", url=mongodb_url, workload=spec, load=load), Progress())
    assert record.complete and record.valid, record.invalid_reasons
    for op in record.operations.values():
        assert op.count > 0 and op.errors == 0
    assert record.load_phase is not None and record.load_phase.records == 1000
    assert record.engine_version
    settings = record.manifest["engine_settings"]
    assert settings["write_concern"] == {"w": 1} and "read_concern" in settings and "ferretdb" in settings
    # Warm-up operations reach the server too, so the server saw at least what was measured.
    since_load = record.telemetry["opcounters_since_load"]
    assert since_load["query"] >= record.operations["read"].count
    assert since_load["update"] >= record.operations["update"].count
    assert since_load["insert"] >= record.operations["insert"].count
    assert record.telemetry["collections"]["usertable"]["count"] >= 1000 + record.operations["insert"].count


def test_unsupported_kinds_are_refused_up_front_with_a_reason(mongodb_url: str) -> None:
    adapter = create_adapter("mongodb", mongodb_url)
    spec = workload("kv-cache", 100)
    aggregate = AggregateOp(name="buckets", kind=OperationKind.AGGREGATE, entity="usertable", weight=1,
                            range_field="field0", window=10, value_field="field1", function="mean", bucket_s=1)
    assert "time-bucket aggregates are not mapped" in (adapter.unsupported_reason(aggregate, spec) or "")
    with pytest.raises(UnsupportedOperation, match="buckets \\(aggregate\\): mongodb: time-bucket"):
        adapter.bind(aggregate, spec)  # refused before it needs a connection
    expiring = InsertOp(name="create", kind=OperationKind.INSERT, entity="usertable", weight=1, ttl_s=60)
    assert adapter.unsupported_reason(expiring, spec) == "mongodb adapter does not expire records (ttl_s)"
    no_statement = NativeOp(name="raw", kind=OperationKind.NATIVE, entity="usertable", weight=1,
                            statements={"postgres": "SELECT 1"})
    assert "no native statement for mongodb" in (adapter.unsupported_reason(no_statement, spec) or "")
    mongo_statement = no_statement.model_copy(update={"statements": {"mongodb": '{"ping": 1}'}})
    assert create_adapter("ferretdb", mongodb_url).unsupported_reason(mongo_statement, spec) is None
    not_json = no_statement.model_copy(update={"statements": {"mongodb": "db.users.find()"}})
    assert "is not (extended) JSON" in (adapter.unsupported_reason(not_json, spec) or "")
    not_a_command = no_statement.model_copy(update={"statements": {"mongodb": "[1, 2]"}})
    assert "must be a command document" in (adapter.unsupported_reason(not_a_command, spec) or "")

    spec = spec.model_copy(update={"operations": (*spec.operations, aggregate)})
    nothing_listens = f"mongodb://127.0.0.1:{free_port()}/dbarena"  # refused before any connection
    with pytest.raises(UnsupportedOperation, match="buckets \\(aggregate\\): mongodb: time-bucket"):
        run_and_record(RunRequest(engine="mongodb", url=nothing_listens, workload=spec,
                                  load=LoadProfile(users=1, processes=1, duration_s=1, warmup_s=0)), Progress())


def test_counters_and_connection_options_for_mongod_and_ferretdb() -> None:
    mongod = {"opcounters": {"insert": 3, "query": 5, "update": 1, "delete": 0, "getmore": 2, "command": 9}}
    assert opcounters(mongod) == mongod["opcounters"]
    ferret = {"metrics": {"commands": {"find": {"total": 4}, "insert": {"total": 1}, "ping": {"total": 2},
                                       "hello": {"total": 1, "failed": 0}}}}
    assert opcounters(ferret) == {"insert": 1, "query": 4, "update": 0, "delete": 0, "getmore": 0, "command": 3}
    assert client_options("mongodb://127.0.0.1:27017/dbarena")["directConnection"] is True
    assert "directConnection" not in client_options("mongodb://a:1,b:2/dbarena?replicaSet=rs0")
    assert client_options("mongodb://h:1/?directConnection=false")["serverSelectionTimeoutMS"] == 5000
    assert "directConnection" not in client_options("mongodb://h:1/?directConnection=false")
