"""Search adapter against a real OpenSearch: the server counts each operation, results are right.

Proof comes from the index `_stats` counters (indexing, get, search) and from reading
documents back over plain HTTP, never through the adapter under test.
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import opensearchpy
import pytest

from harness.dataset.generate import RecordFactory, dataset_factories
from harness.engines.calls import Change, Query, Scan, Window
from harness.engines.registry import create_adapter
from harness.engines.search.adapter import SearchAdapter
from harness.engines.updates import bind_writes
from harness.errors import EngineUnavailable, UnsupportedOperation
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.models import AggregateOp, DeleteOp, FindOp, NativeOp, OperationKind, RangeOp, ScanOp, SortSpec
from harness.spec.suite import LoadProfile
from tests.engines.helpers import load_all, workload

pytestmark = pytest.mark.opensearch

_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str) -> dict[str, Any]:
    try:
        with _HTTP.open(url, timeout=10) as reply:
            return json.load(reply)  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:  # a missing document answers 404 with a body
        return json.load(exc)  # type: ignore[no-any-return]


def counters(url: str, index: str) -> dict[str, int]:
    total = http_get(f"{url}/{index}/_stats/indexing,get,search")["indices"][index]["total"]
    return {"index": total["indexing"]["index_total"], "delete": total["indexing"]["delete_total"],
            "get": total["get"]["total"], "query": total["search"]["query_total"]}


def observed(url: str, index: str, action: Callable[[], int]) -> tuple[int, dict[str, int]]:
    """What `action` returned and how each server counter moved while it ran."""
    before = counters(url, index)
    result = action()
    after = counters(url, index)
    return result, {k: after[k] - before[k] for k in before}


def stored(url: str, index: str, doc_id: str) -> dict[str, Any]:
    return http_get(f"{url}/{index}/_doc/{doc_id}")


def test_contract_user_accounts_server_sees_each_operation(opensearch_url: str) -> None:
    spec = workload("user-accounts", 300)
    adapter = create_adapter("elasticsearch", opensearch_url)  # the ES engine name, served by OpenSearch
    adapter.connect()
    assert adapter.client_library == "opensearch-py"  # chosen from GET /, not from the engine name
    load_all(adapter, spec)
    entity, index = spec.dataset.entities[0], "dbarena-users"
    factory = RecordFactory(entity, spec.dataset.seed)
    ops = {op.name: adapter.bind(op, spec) for op in spec.operations}
    assert http_get(f"{opensearch_url}/{index}/_count")["count"] == 300
    active = next(i for i in range(300) if factory.value("is_active", i))
    inactive = next(i for i in range(300) if not factory.value("is_active", i))

    assert observed(opensearch_url, index, lambda: ops["login"]({"email": factory.value("email", active)})) \
        == (1, {"index": 0, "delete": 0, "get": 0, "query": 1})
    assert observed(opensearch_url, index, lambda: ops["login"]({"email": factory.value("email", inactive)})) \
        == (0, {"index": 0, "delete": 0, "get": 0, "query": 1})  # only active users log in
    assert observed(opensearch_url, index, lambda: ops["profile"](factory.value("id", 5))) \
        == (1, {"index": 0, "delete": 0, "get": 1, "query": 0})
    assert observed(opensearch_url, index, lambda: ops["profile"]("00000000-0000-4000-8000-000000000000")) \
        == (0, {"index": 0, "delete": 0, "get": 1, "query": 0})

    key = factory.value("id", 5)
    new_values = factory.new_values(("last_login", "updated_at"), nonce=1)
    done, moved = observed(opensearch_url, index, lambda: ops["touch-login"](Change(key, new_values)))
    assert done == 1 and moved["index"] == 1 and moved["query"] == 0
    source = stored(opensearch_url, index, key)["_source"]
    assert datetime.fromisoformat(source["last_login"]) == new_values["last_login"]
    assert source["email"] == factory.value("email", 5)  # a partial update keeps the other fields
    assert ops["touch-login"](Change("00000000-0000-4000-8000-000000000000", new_values)) == 0

    record = factory.record(300)
    done, moved = observed(opensearch_url, index, lambda: ops["signup"](record))
    assert done == 1 and moved["index"] == 1
    source = stored(opensearch_url, index, record["id"])["_source"]
    assert source["metadata"] == json.loads(record["metadata"])  # a JSON field is stored as an object
    assert ops["profile"](record["id"]) == 1  # GET by id is real-time: the write is visible at once

    assert adapter.settings()["write_refresh"] == "false"
    adapter.close()


def test_refresh_wait_for_makes_a_write_visible_to_the_next_search(opensearch_url: str) -> None:
    spec = workload("user-accounts", 50)
    adapter = create_adapter("opensearch", f"{opensearch_url}?refresh=wait_for")
    adapter.connect()
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    ops = {op.name: adapter.bind(op, spec) for op in spec.operations}
    record = RecordFactory(entity, spec.dataset.seed).record(50)
    record["is_active"] = True
    assert ops["signup"](record) == 1
    assert ops["login"]({"email": record["email"]}) == 1
    assert adapter.settings()["write_refresh"] == "wait_for"
    adapter.close()


def test_contract_kv_cache_and_delete_and_scan(opensearch_url: str) -> None:
    spec = workload("kv-cache", 200)
    entity, index = spec.dataset.entities[0], "dbarena-usertable"
    extra = (
        DeleteOp(name="remove", kind=OperationKind.DELETE, entity=entity.name, weight=1),
        ScanOp(name="page", kind=OperationKind.SCAN, entity=entity.name, weight=1, limit=5, project=("field0",)),
        FindOp(name="by-field", kind=OperationKind.FIND, entity=entity.name, weight=1, match=("field1",),
               sort=SortSpec(field="ycsb_key", order="desc"), limit=3),
    )
    adapter = create_adapter("opensearch", opensearch_url)
    adapter.connect()
    load_all(adapter, spec)
    factory = RecordFactory(entity, spec.dataset.seed)
    spec = spec.model_copy(update={"operations": (*spec.operations, *extra)})
    ops = {op.name: bind_writes(adapter, op, spec) for op in spec.operations}
    key = factory.key_of(7)
    # Searches first: they see the refreshed load, not the writes below (refresh=false).
    assert observed(opensearch_url, index, lambda: ops["by-field"]({"field1": factory.value("field1", 9)})) \
        == (1, {"index": 0, "delete": 0, "get": 0, "query": 1})
    keys = sorted(factory.key_of(i) for i in range(200))
    assert observed(opensearch_url, index, lambda: ops["page"](Scan(keys[-3], 5))) == (
        3, {"index": 0, "delete": 0, "get": 0, "query": 1})
    assert ops["page"](Scan(keys[0], 5)) == 5
    assert ops["page"](Scan(keys[0], 2)) == 2  # the length the call asks for

    assert observed(opensearch_url, index, lambda: ops["read"](key)) == (1, {"index": 0, "delete": 0, "get": 1, "query": 0})
    new_values = factory.new_values(("field0",), nonce=3)
    done, moved = observed(opensearch_url, index, lambda: ops["update"](Change(key, new_values)))
    assert done == 1 and moved["index"] == 1
    assert stored(opensearch_url, index, key)["_source"]["field0"] == new_values["field0"]
    record = factory.record(200)
    assert observed(opensearch_url, index, lambda: ops["insert"](record))[1]["index"] == 1
    assert stored(opensearch_url, index, record["ycsb_key"])["_source"] == record

    assert observed(opensearch_url, index, lambda: ops["remove"](key)) == (1, {"index": 0, "delete": 1, "get": 0, "query": 0})
    assert stored(opensearch_url, index, key)["found"] is False
    assert ops["remove"](key) == 0
    assert ops["read"](key) == 0
    adapter.close()


def window(factory: RecordFactory, op: RangeOp | AggregateOp, index: int) -> Window:
    """What the runner passes a range or aggregate: match values and the window ending at record `index`."""
    end = factory.value(op.range_field, index)
    width = timedelta(seconds=op.window) if isinstance(end, datetime) else op.window
    return Window({f: factory.value(f, index) for f in op.match}, end - width, end)


def test_contract_range_and_nested_update_on_document_catalog(opensearch_url: str) -> None:
    spec, index = workload("document-catalog", 300), "dbarena-products"
    adapter = create_adapter("opensearch", opensearch_url)
    adapter.connect()
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = dataset_factories(spec)[entity.name]
    operations = {op.name: op for op in spec.operations}
    ops = {op.name: adapter.bind(op, spec) for op in spec.operations}
    records = [factory.record(i) for i in range(300)]

    for chosen in (0, 17, 123):
        browse = operations["browse"]
        assert isinstance(browse, RangeOp)
        values = window(factory, browse, chosen)
        expected = sum(1 for r in records if r["category"] == values.match["category"] and values.low <= r["price"] <= values.high)
        assert expected >= 1  # the chosen record lies in its own window
        assert observed(opensearch_url, index, partial(ops["browse"], values)) \
            == (min(expected, 20), {"index": 0, "delete": 0, "get": 0, "query": 1})

    key = factory.key_of(5)
    new_values = factory.new_values(("attributes.k1",), nonce=2)
    done, moved = observed(opensearch_url, index, lambda: ops["set-attribute"](Change(key, new_values)))
    assert done == 1 and moved["index"] == 1
    attributes = stored(opensearch_url, index, key)["_source"]["attributes"]
    assert attributes == {**json.loads(records[5]["attributes"]), "k1": new_values["attributes.k1"]}  # one key changed
    adapter.close()


def test_contract_full_text_search_on_product_search(opensearch_url: str) -> None:
    spec, index = workload("product-search", 300), "dbarena-catalog"
    adapter = create_adapter("opensearch", opensearch_url)
    adapter.connect()
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    records = [dataset_factories(spec)[entity.name].record(i) for i in range(300)]
    ops = {op.name: adapter.bind(op, spec) for op in spec.operations}
    words = [{*r["title"].split(), *r["description"].split()} for r in records]
    frequency = Counter(w for doc in words for w in doc)
    rare = sorted(w for w, n in frequency.items() if 2 <= n <= 3)[:2]
    common = frequency.most_common(1)[0][0]

    expected = sum(1 for doc in words if doc & set(rare))  # any of the terms matches
    assert 2 <= expected < 10
    assert observed(opensearch_url, index, lambda: ops["search"](Query(tuple(rare), {}))) \
        == (expected, {"index": 0, "delete": 0, "get": 0, "query": 1})
    assert ops["search"](Query((common, rare[0]), {})) == 10  # top `limit` by relevance
    assert ops["search"](Query(("zzzznotaword",), {})) == 0

    category = records[0]["category"]
    in_category = sum(1 for r, doc in zip(records, words) if common in doc and r["category"] == category)
    assert observed(opensearch_url, index, lambda: ops["search-in-category"](Query((common,), {"category": category}))) \
        == (min(in_category, 10), {"index": 0, "delete": 0, "get": 0, "query": 1})
    adapter.close()


def test_contract_range_and_aggregate_on_metrics_timeseries(opensearch_url: str) -> None:
    spec, index = workload("metrics-timeseries", 2000), "dbarena-metrics"
    adapter = create_adapter("opensearch", opensearch_url)
    adapter.connect()
    load_all(adapter, spec)
    entity = spec.dataset.entities[0]
    factory = dataset_factories(spec)[entity.name]
    records = [factory.record(i) for i in range(2000)]
    series, hourly = (op for name in ("series-last-hour", "hourly-mean-per-host") for op in spec.operations if op.name == name)
    assert isinstance(series, RangeOp) and isinstance(hourly, AggregateOp)
    ops = {op.name: adapter.bind(op, spec) for op in spec.operations}

    for chosen in (1999, 700, 5):
        values = window(factory, series, chosen)
        expected = sum(1 for r in records if r["host"] == values.match["host"] and values.low <= r["ts"] <= values.high)
        assert observed(opensearch_url, index, partial(ops["series-last-hour"], values)) \
            == (expected, {"index": 0, "delete": 0, "get": 0, "query": 1})

        values = window(factory, hourly, chosen)
        buckets = {(r["host"], int(r["ts"].timestamp()) // 60) for r in records if values.low <= r["ts"] <= values.high}
        assert observed(opensearch_url, index, partial(ops["hourly-mean-per-host"], values)) \
            == (len(buckets), {"index": 0, "delete": 0, "get": 0, "query": 1})  # one row per host and minute
    adapter.close()


def test_kv_cache_run_produces_a_valid_record_with_telemetry(opensearch_url: str) -> None:
    load = LoadProfile(users=4, processes=2, duration_s=2, warmup_s=1)
    record = run_and_record(RunRequest(engine="opensearch", url=opensearch_url, workload=workload("kv-cache", 1000).active(),
                                      load=load), Progress())
    assert record.complete and record.valid, record.invalid_reasons
    assert record.engine_version.startswith("2.") and "opensearch" in record.engine_version
    assert set(record.operations) == {"read", "update", "insert"}
    for op in record.operations.values():
        assert op.count > 0 and op.errors == 0, op
    assert record.load_phase is not None and record.load_phase.records == 1000
    stats = record.telemetry["indices"]["dbarena-usertable"]
    assert stats["index_total"] >= 1000 + record.operations["update"].count + record.operations["insert"].count
    assert stats["get_total"] >= record.operations["read"].count
    assert record.telemetry["nodes"] and all(n["heap_used_bytes"] > 0 for n in record.telemetry["nodes"].values())
    settings = record.manifest["engine_settings"]
    assert settings["write_refresh"] == "false" and settings["number_of_replicas"] == "0"
    assert settings["translog.durability"].lower() == "request"
    assert record.manifest["client_libraries"]["opensearch-py"]


def test_unsupported_operations_are_refused_up_front() -> None:
    load = LoadProfile(users=1, processes=1, duration_s=1, warmup_s=0)
    # Port 1 answers nothing: each refusal must come before any connection is tried.
    with pytest.raises(UnsupportedOperation, match=r"friends-of-friends \(traverse\): opensearch: a document index has no graph"):
        run_and_record(RunRequest(engine="opensearch", url="http://127.0.0.1:1", workload=workload("social-graph", 100), load=load))
    with pytest.raises(UnsupportedOperation, match=r"touch \(update\): elasticsearch adapter does not expire records"):
        run_and_record(RunRequest(engine="elasticsearch", url="http://127.0.0.1:1", workload=workload("session-cache", 100),
                                 load=load))
    adapter = SearchAdapter("opensearch", "http://127.0.0.1:1")
    kv = workload("kv-cache", 100)
    native = NativeOp(name="raw", kind=OperationKind.NATIVE, entity="usertable", weight=1, statements={"opensearch": "{}"})
    assert adapter.unsupported_reason(native, kv) == "opensearch: native statements are not mapped for the search engines yet"
    for name in ("kv-cache", "user-accounts", "product-search", "document-catalog", "metrics-timeseries", "audit-log"):
        spec = workload(name, 100)
        assert all(adapter.unsupported_reason(op, spec) is None for op in spec.operations), name

    # Sorting on a field with no single value is refused before the run (no server needed), and by prepare/bind.
    users = workload("user-accounts", 10)
    by_json = users.operations[0].model_copy(update={"sort": SortSpec(field="metadata")})
    users = users.model_copy(update={"operations": (by_json,)})
    assert adapter.unsupported_reason(by_json, users) == (
        "opensearch: operation 'login' orders or buckets by 'metadata', a json field, which has no single value here")
    with pytest.raises(UnsupportedOperation, match=r"login \(find\): opensearch: operation 'login' orders or buckets by 'metadata'"):
        run_and_record(RunRequest(engine="opensearch", url="http://127.0.0.1:1", workload=users, load=load))
    with pytest.raises(UnsupportedOperation, match="'metadata', a json field, which has no single value"):
        adapter.prepare(users)
    with pytest.raises(UnsupportedOperation, match="'metadata', a json field, which has no single value"):
        adapter.bind(by_json, users)


def test_unreachable_server_and_disconnects(opensearch_url: str) -> None:
    with pytest.raises(EngineUnavailable, match="not reachable"):
        SearchAdapter("opensearch", "http://127.0.0.1:1").connect()
    with pytest.raises(Exception, match="refresh="):
        SearchAdapter("opensearch", f"{opensearch_url}?refresh=sometimes")
    adapter = SearchAdapter("opensearch", opensearch_url)
    adapter.connect()
    assert adapter.is_disconnect(opensearchpy.ConnectionError("N/A", "connection refused", None))
    assert not adapter.is_disconnect(opensearchpy.NotFoundError(404, "index_not_found_exception", {}))
    adapter.close()
