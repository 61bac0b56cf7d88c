"""Golden tests of the search statements: the request each library operation sends, with no server.

The inline cases below are the ones to read; `statements.golden.json` holds every operation of
every library workload (workloads/*.yaml) with its request for a sample argument, or the reason
the search engines refuse it. After an intended change, regenerate it with
`DBARENA_UPDATE_GOLDEN=1 .venv/bin/pytest tests/engines/search/test_statements.py` and review the diff.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from harness.dataset.generate import dataset_factories
from harness.engines.calls import Change, Query, Scan, Window
from harness.engines.limits import FIND_LIMIT, SEARCH_LIMIT
from harness.engines.search import statements
from harness.engines.search.adapter import SearchAdapter
from harness.engines.search.statements import (
    AGG_PAGE,
    Aggregate,
    Delete,
    Get,
    Index,
    Search,
    Statement,
    Update,
    build,
    index_body,
    next_page,
)
from harness.errors import HarnessBug
from harness.spec.models import (
    FindOp,
    Operation,
    OperationKind,
    RangeOp,
    ScanOp,
    SearchOp,
    SortSpec,
    UpdateOp,
    Workload,
)
from tests.engines import golden
from tests.engines.helpers import ROOT, workload

GOLDEN = Path(__file__).with_name("statements.golden.json")
LIBRARY = sorted(path.stem for path in (ROOT / "workloads").glob("*.yaml"))
ADAPTER = SearchAdapter("opensearch", "http://127.0.0.1:1")  # never connected: refusals need no server
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def op_named(spec: Workload, name: str) -> Operation:
    return next(op for op in spec.operations if op.name == name)


def statement(spec: Workload, name: str) -> Statement:
    op = op_named(spec, name)
    return build(op, spec.entity(op.entity))


def sent(st: Statement, argument: Any) -> dict[str, Any]:
    """What the executor sends for `argument`: the request, its index, document id and body."""
    if isinstance(st, Get):
        return {"get": st.index, "id": st.doc_id(argument), "_source_includes": st.source}
    if isinstance(st, Delete):
        return {"delete": st.index, "id": st.doc_id(argument)}
    if isinstance(st, Index):
        return {"index": st.index, "id": st.doc_id(argument), "body": st.body(argument)}
    if isinstance(st, Update):
        return {"update": st.index, "id": st.doc_id(argument), "body": st.body(argument)}
    if isinstance(st, Search):
        return {"search": st.index, "body": st.body(argument)}
    return {"aggregate": st.index, "body": st.body(argument)}


# ---- the cases to read ----------------------------------------------------------------------


def test_user_accounts_login_is_a_filter_on_email_and_the_constant_with_a_projection() -> None:
    spec = workload("user-accounts", 100)
    assert sent(statement(spec, "login"), {"email": "ann@example.com"}) == {
        "search": "dbarena-users",
        "body": {"track_total_hits": False, "_source": ["id", "email", "is_active"], "size": FIND_LIMIT,
                 # the call's match first, then the constant `filter`: no scoring, no total count
                 "query": {"bool": {"filter": [{"term": {"email": "ann@example.com"}}, {"term": {"is_active": True}}]}}}}


def test_user_accounts_profile_touch_and_signup_go_by_id() -> None:
    spec = workload("user-accounts", 100)
    assert sent(statement(spec, "profile"), "u-1") == {"get": "dbarena-users", "id": "u-1", "_source_includes": None}
    assert sent(statement(spec, "touch-login"), Change("u-1", {"last_login": WHEN, "updated_at": WHEN})) == {
        "update": "dbarena-users", "id": "u-1",
        "body": {"doc": {"last_login": "2026-01-02T03:04:05+00:00", "updated_at": "2026-01-02T03:04:05+00:00"}}}
    record = {"id": "u-2", "email": "bo@example.org", "metadata": '{"plan": "pro", "seats": 3}', "created_at": WHEN}
    assert sent(statement(spec, "signup"), record) == {
        "index": "dbarena-users", "id": "u-2",
        "body": {"id": "u-2", "email": "bo@example.org", "metadata": {"plan": "pro", "seats": 3},
                 "created_at": "2026-01-02T03:04:05+00:00"}}


def test_document_catalog_browse_is_a_price_band_in_a_category_sorted_and_paged() -> None:
    spec = workload("document-catalog", 100)
    assert sent(statement(spec, "browse"), Window({"category": "books"}, 10.0, 60.0)) == {
        "search": "dbarena-products",
        "body": {"track_total_hits": False, "_source": ["sku", "name", "price"], "sort": [{"price": "asc"}], "size": 20,
                 "query": {"bool": {"filter": [{"term": {"category": "books"}},
                                               {"range": {"price": {"gte": 10.0, "lte": 60.0}}}]}}}}


def test_document_catalog_set_attribute_merges_one_nested_key() -> None:
    spec = workload("document-catalog", 100)
    assert sent(statement(spec, "set-attribute"), Change("sku-1", {"attributes.k1": "blue"})) == {
        "update": "dbarena-products", "id": "sku-1", "body": {"doc": {"attributes": {"k1": "blue"}}}}
    whole = UpdateOp(name="replace", kind=OperationKind.UPDATE, entity="products", weight=1, set=("attributes", "stock"))
    assert sent(build(whole, spec.entity("products")), Change("sku-1", {"attributes": '{"k1": "red"}', "stock": 4})) == {
        "update": "dbarena-products", "id": "sku-1", "body": {"doc": {"attributes": {"k1": "red"}, "stock": 4}}}


def test_audit_log_user_history_is_newest_first_50_a_page() -> None:
    spec = workload("audit-log", 100)
    assert sent(statement(spec, "user-history"), {"user_id": 7}) == {
        "search": "dbarena-events",
        "body": {"track_total_hits": False, "sort": [{"created_at": "desc"}], "size": 50,
                 "query": {"bool": {"filter": [{"term": {"user_id": 7}}]}}}}


def test_kv_cache_scan_goes_up_the_key_and_session_logout_deletes_by_id() -> None:
    spec = workload("kv-cache", 100)
    assert sent(statement(spec, "scan"), Scan("user42", 37)) == {
        "search": "dbarena-usertable",
        "body": {"track_total_hits": False, "sort": [{"ycsb_key": "asc"}], "size": 37,
                 "query": {"range": {"ycsb_key": {"gte": "user42"}}}}}
    page = build(ScanOp(name="page", kind=OperationKind.SCAN, entity="usertable", weight=1, project=("field0",)),
                 spec.entity("usertable"))
    assert sent(page, Scan("user1", 5))["body"] == {
        "track_total_hits": False, "_source": ["field0"], "sort": [{"ycsb_key": "asc"}], "size": 5,
        "query": {"range": {"ycsb_key": {"gte": "user1"}}}}
    sessions = workload("session-cache", 100)
    assert sent(statement(sessions, "logout"), "sess-1") == {"delete": "dbarena-sessions", "id": "sess-1"}


def test_product_search_is_a_multi_match_of_the_terms_restricted_by_the_match_values() -> None:
    spec = workload("product-search", 100)
    assert sent(statement(spec, "search"), Query(("red", "shoe"), {})) == {
        "search": "dbarena-catalog",
        "body": {"track_total_hits": False, "size": 10,
                 "query": {"bool": {"must": {"multi_match": {"query": "red shoe", "fields": ["title", "description"]}},
                                    "filter": []}}}}
    assert sent(statement(spec, "search-in-category"), Query(("shoe",), {"category": "sport"}))["body"]["query"] == {
        "bool": {"must": {"multi_match": {"query": "shoe", "fields": ["title", "description"]}},
                 "filter": [{"term": {"category": "sport"}}]}}
    unlimited = SearchOp(name="s", kind=OperationKind.SEARCH, entity="catalog", weight=1, text_fields=("title",))
    assert sent(build(unlimited, spec.entity("catalog")), Query(("a",), {}))["body"]["size"] == SEARCH_LIMIT


def test_metrics_hourly_mean_is_a_composite_aggregation_paged_with_after_key() -> None:
    spec = workload("metrics-timeseries", 100)
    st = statement(spec, "hourly-mean-per-host")
    assert isinstance(st, Aggregate)
    first = st.body(Window({}, WHEN - timedelta(hours=1), WHEN))
    assert first == {
        "size": 0, "track_total_hits": False,
        "query": {"bool": {"filter": [{"range": {"ts": {"gte": "2026-01-02T02:04:05+00:00",
                                                         "lte": "2026-01-02T03:04:05+00:00"}}}]}},
        "aggs": {"rows": {
            "composite": {"size": AGG_PAGE, "sources": [{"host": {"terms": {"field": "host"}}},
                                                        {"@bucket": {"date_histogram": {"field": "ts", "fixed_interval": "60000ms"}}}]},
            "aggs": {"value": {"avg": {"field": "cpu"}}}}}}
    second = next_page(first, {"host": "h1", "@bucket": 60000})
    assert second["aggs"]["rows"]["composite"] == {**first["aggs"]["rows"]["composite"], "after": {"host": "h1", "@bucket": 60000}}
    assert {k: v for k, v in second.items() if k != "aggs"} == {k: v for k, v in first.items() if k != "aggs"}
    assert "after" not in first["aggs"]["rows"]["composite"]  # the first page's request is left as it was
    assert next_page(second, {"host": "h2"})["aggs"]["rows"]["composite"]["after"] == {"host": "h2"}


def test_index_bodies_are_strict_explicit_mappings_one_shard_no_replica() -> None:
    spec = workload("product-search", 100)
    body = index_body(spec.entity("catalog"))
    assert body["settings"] == {"number_of_shards": 1, "number_of_replicas": 0}
    mappings = body["mappings"]
    assert mappings["dynamic"] == "strict" and mappings["date_detection"] is False
    assert mappings["properties"]["title"] == {"type": "text"}  # analysed: BM25 searches it
    assert mappings["properties"]["category"] == {"type": "keyword"}
    assert [next(iter(t)) for t in mappings["dynamic_templates"]] == ["json_string", "json_long", "json_double", "json_boolean"]


def test_equality_on_text_json_and_tags() -> None:
    assert statements.equality("title", "red shoe", spec_of("product-search", "catalog", "title")) == [
        {"match_phrase": {"title": "red shoe"}}]
    assert statements.equality("metadata", '{"plan": "pro"}', spec_of("user-accounts", "users", "metadata")) == [
        {"term": {"metadata.plan": "pro"}}]
    assert statements.equality("tags", ["a", "b"], None) == [{"term": {"tags": "a"}}, {"term": {"tags": "b"}}]


def spec_of(name: str, entity: str, field: str) -> Any:
    return workload(name, 100).entity(entity).fields[field]


def test_per_call_bodies_are_fresh_and_leave_the_statement_unchanged() -> None:
    spec = workload("user-accounts", 100)
    st = statement(spec, "login")
    assert isinstance(st, Search)
    body = st.body({"email": "a@b"})
    body["query"]["bool"]["filter"].append({"term": {"x": 1}})
    body["size"] = 1
    assert st.body({"email": "a@b"}) == {
        "track_total_hits": False, "_source": ["id", "email", "is_active"], "size": FIND_LIMIT,
        "query": {"bool": {"filter": [{"term": {"email": "a@b"}}, {"term": {"is_active": True}}]}}}


def test_refusals_come_before_the_run_and_refused_kinds_have_no_statement() -> None:
    graph = workload("social-graph", 100)
    hop = op_named(graph, "friends-of-friends")
    assert ADAPTER.unsupported_reason(hop, graph) == (
        "opensearch: a document index has no graph traversal (each hop would be a client round trip)")
    with pytest.raises(HarnessBug, match="no search statement for traverse"):
        build(hop, graph.entity("person"))
    users = workload("user-accounts", 100)
    by_text = FindOp(name="by-name", kind=OperationKind.FIND, entity="users", weight=1, match=("email",),
                     sort=SortSpec(field="metadata"))
    assert ADAPTER.unsupported_reason(by_text, users) == (
        "opensearch: operation 'by-name' orders or buckets by 'metadata', a json field, which has no single value here")
    catalog = workload("product-search", 100)
    by_title = RangeOp(name="r", kind=OperationKind.RANGE, entity="catalog", weight=1, range_field="title", window=1)
    assert "'title', a text field" in (ADAPTER.unsupported_reason(by_title, catalog) or "")


# ---- every library operation, snapshot-style --------------------------------------------------


def library_snapshot() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in LIBRARY:
        spec = workload(name, 100)
        factories = dataset_factories(spec)
        ops: dict[str, Any] = {}
        for op in spec.operations:
            reason = ADAPTER.unsupported_reason(op, spec)
            if reason is not None:
                ops[op.name] = {"refused": reason}
                continue
            st = build(op, spec.entity(op.entity))
            ops[op.name] = {"statement": type(st).__name__, "sends": sent(st, golden.sample_argument(op, factories[op.entity]))}
        out[name] = ops
    return out


def as_json(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=2, ensure_ascii=False) + "\n"  # a body that is not JSON fails here


def test_every_library_operation_matches_the_golden_file() -> None:
    # the same documents first, then key order too: it is the order of what is sent
    golden.check_golden(GOLDEN, as_json(library_snapshot()), compare=json.loads)


def test_the_golden_file_covers_every_library_workload_and_what_the_search_engines_support() -> None:
    golden = json.loads(GOLDEN.read_text())
    assert sorted(golden) == LIBRARY
    supported = {(w, op) for w, ops in golden.items() for op, entry in ops.items() if "sends" in entry}
    assert {("kv-cache", "scan"), ("document-catalog", "browse"), ("user-accounts", "login"), ("product-search", "search"),
            ("metrics-timeseries", "hourly-mean-per-host"), ("social-graph", "follow"), ("session-cache", "logout")} <= supported
    refused = {(w, op) for w, ops in golden.items() for op, entry in ops.items() if "refused" in entry}
    assert refused == {("session-cache", "touch"), ("session-cache", "create"), ("social-graph", "friends-of-friends"),
                       ("social-graph", "mutual-follows"), ("social-graph", "connection-path"),
                       ("tpcb-like", "tpcb")}  # a native operation with PostgreSQL statements only
