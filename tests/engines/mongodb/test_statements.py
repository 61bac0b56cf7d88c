"""Golden tests of the MongoDB statements: the documents each library operation sends, with no server.

The inline cases below are the ones to read; `statements.golden.json` holds every operation of
every library workload (workloads/*.yaml) with its documents for a sample argument, or the reason
MongoDB refuses it. After an intended change, regenerate it with
`DBARENA_UPDATE_GOLDEN=1 .venv/bin/pytest tests/engines/mongodb/test_statements.py` and review the diff.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from bson import json_util

from harness.dataset.generate import dataset_factories
from harness.engines import calls
from harness.engines.calls import Change, Window
from harness.engines.mongodb import statements
from harness.engines.mongodb.adapter import MongoAdapter
from harness.engines.mongodb.statements import (
    Command,
    Delete,
    Find,
    Insert,
    Range,
    Read,
    Scan,
    Statement,
    Update,
    fill_placeholders,
)
from harness.errors import HarnessBug
from harness.spec.models import (
    NativeOp,
    Operation,
    OperationKind,
    ScanOp,
    SearchOp,
    UpdateOp,
    Workload,
)
from tests.engines import golden
from tests.engines.helpers import ROOT, workload

GOLDEN = Path(__file__).with_name("statements.golden.json")
LIBRARY = sorted(path.stem for path in (ROOT / "workloads").glob("*.yaml"))
ADAPTER = MongoAdapter("mongodb", "mongodb://127.0.0.1:1/dbarena")  # never connected: refusals need no server


def op_named(spec: Workload, name: str) -> Operation:
    return next(op for op in spec.operations if op.name == name)


def sent(st: Statement, argument: Any) -> dict[str, Any]:
    """What the executor sends for `argument`: the pymongo call and its documents."""
    if isinstance(st, Read):
        return {"find_one": st.filter(argument), "projection": st.projection}
    if isinstance(st, Insert):
        return {"insert_one": st.document(argument)}
    if isinstance(st, Update):
        return {"update_one": st.filter(argument), "update": st.update(argument)}
    if isinstance(st, Delete):
        return {"delete_one": st.filter(argument)}
    if isinstance(st, Scan):  # the executor sends the call's key and length
        return {"find": st.filter(argument.key), "projection": st.projection, "sort": st.sort, "limit": argument.length}
    if isinstance(st, Find):
        return {"find": st.filter(argument), "projection": st.projection, "sort": st.sort, "limit": st.limit}
    if isinstance(st, Range):
        return {"find": st.filter(argument), "projection": st.find.projection, "sort": st.find.sort,
                "limit": st.find.limit}
    return {"cursor_command" if st.returns_cursor else "command": st.command(argument)}


# ---- the cases to read ----------------------------------------------------------------------


def test_user_accounts_login_is_a_find_on_email_with_the_constant_filter_and_a_projection() -> None:
    spec = workload("user-accounts", 100)
    st = statements.statement(op_named(spec, "login"), spec)
    assert st == Find(match=(("email", "email"),), constant={"is_active": True},
                      projection={"_id": 1, "email": 1, "is_active": 1}, sort=None, limit=0)
    assert sent(st, {"email": "ann@example.com"}) == {
        "find": {"email": "ann@example.com", "is_active": True},  # the call's match first, then the constant
        "projection": {"_id": 1, "email": 1, "is_active": 1}, "sort": None, "limit": 0}


def test_user_accounts_profile_touch_and_signup_go_by_id() -> None:
    spec = workload("user-accounts", 100)
    assert sent(statements.statement(op_named(spec, "profile"), spec), "u-1") == {
        "find_one": {"_id": "u-1"}, "projection": None}
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    touch = statements.statement(op_named(spec, "touch-login"), spec)
    assert sent(touch, Change("u-1", {"last_login": when, "updated_at": when})) == {
        "update_one": {"_id": "u-1"}, "update": {"$set": {"last_login": when, "updated_at": when}}}
    signup = statements.statement(op_named(spec, "signup"), spec)
    assert sent(signup, {"id": "u-2", "email": "bo@example.org", "metadata": '{"plan": "pro", "seats": 3}'}) == {
        "insert_one": {"_id": "u-2", "email": "bo@example.org", "metadata": {"plan": "pro", "seats": 3}}}


def test_document_catalog_browse_is_a_price_band_in_a_category_sorted_and_paged() -> None:
    spec = workload("document-catalog", 100)
    st = statements.statement(op_named(spec, "browse"), spec)
    assert st == Range(Find(match=(("category", "category"),), constant={},
                            projection={"_id": 1, "name": 1, "price": 1}, sort=(("price", 1),), limit=20), "price")
    assert sent(st, Window({"category": "books"}, 10.0, 60.0)) == {
        "find": {"category": "books", "price": {"$gte": 10.0, "$lte": 60.0}},
        "projection": {"_id": 1, "name": 1, "price": 1}, "sort": (("price", 1),), "limit": 20}


def test_document_catalog_set_attribute_sets_one_nested_key_and_a_whole_json_field_is_decoded() -> None:
    spec = workload("document-catalog", 100)
    nested = statements.statement(op_named(spec, "set-attribute"), spec)
    assert sent(nested, Change("sku-1", {"attributes.k1": "blue"})) == {
        "update_one": {"_id": "sku-1"}, "update": {"$set": {"attributes.k1": "blue"}}}
    whole = UpdateOp(name="replace", kind=OperationKind.UPDATE, entity="products", weight=1, set=("attributes", "stock"))
    assert sent(statements.statement(whole, spec), Change("sku-1", {"attributes": '{"k1": "red"}', "stock": 4})) == {
        "update_one": {"_id": "sku-1"}, "update": {"$set": {"attributes": {"k1": "red"}, "stock": 4}}}


def test_audit_log_user_history_is_newest_first_50_a_page() -> None:
    spec = workload("audit-log", 100)
    assert sent(statements.statement(op_named(spec, "user-history"), spec), {"user_id": 7}) == {
        "find": {"user_id": 7}, "projection": None, "sort": (("created_at", -1),), "limit": 50}


def test_kv_cache_scan_and_delete() -> None:
    spec = workload("kv-cache", 100)
    assert sent(statements.statement(op_named(spec, "scan"), spec), calls.Scan("user42", 37)) == {
        "find": {"_id": {"$gte": "user42"}}, "projection": None, "sort": (("_id", 1),), "limit": 37}
    scan = statements.statement(ScanOp(name="page", kind=OperationKind.SCAN, entity="usertable", weight=1), spec)
    assert isinstance(scan, Scan) and sent(scan, calls.Scan("user1", 5))["limit"] == 5  # the call's length
    logout = workload("session-cache", 100)
    assert sent(statements.statement(op_named(logout, "logout"), logout), "sess-1") == {"delete_one": {"_id": "sess-1"}}


def test_native_commands_fill_typed_placeholders_into_a_fresh_document_per_call() -> None:
    spec = workload("kv-cache", 100)
    find = NativeOp(name="raw", kind=OperationKind.NATIVE, entity="usertable", weight=1,
                    statements={"mongodb": '{"find": "usertable", "filter": {"_id": "{key}", "n": "{n}"}, "limit": 1}'})
    st = statements.statement(find, spec)
    assert isinstance(st, Command) and st.returns_cursor
    first = st.command({"key": "user1"})
    assert first == {"find": "usertable", "filter": {"_id": "user1", "n": "{n}"}, "limit": 1}  # unknown: as written
    first["lsid"] = "the driver adds its session"
    assert st.command({"key": 5}) == {"find": "usertable", "filter": {"_id": 5, "n": "{n}"}, "limit": 1}
    count = find.model_copy(update={"statements": {"ferretdb": '{"count": "usertable"}', "mongodb": '{"ping": 1}'}})
    assert statements.statement(count, spec, "ferretdb") == Command({"count": "usertable"}, returns_cursor=False)
    assert statements.statement(count, spec, "mongodb") == Command({"ping": 1}, returns_cursor=False)
    assert fill_placeholders([{"a": "{key}"}, "{key}x", 3], {"key": 1}) == [{"a": 1}, "{key}x", 3]


def test_per_call_documents_never_share_or_change_the_statement() -> None:
    spec = workload("user-accounts", 100)
    st = statements.statement(op_named(spec, "login"), spec)
    assert isinstance(st, Find)
    query = st.filter({"email": "a@b"})
    query["is_active"] = False
    assert st.filter({"email": "a@b"}) == {"email": "a@b", "is_active": True} and st.constant == {"is_active": True}


def test_kinds_the_adapter_refuses_have_no_statement() -> None:
    spec = workload("product-search", 100)
    search = op_named(spec, "search")
    assert isinstance(search, SearchOp) and ADAPTER.unsupported_reason(search, spec)
    with pytest.raises(HarnessBug, match="no MongoDB statement for 'search'"):
        statements.statement(search, spec)
    raw = NativeOp(name="raw", kind=OperationKind.NATIVE, entity="catalog", weight=1, statements={"postgres": "SELECT 1"})
    with pytest.raises(HarnessBug, match="no native statement for mongodb"):
        statements.statement(raw, spec)
    assert statements.command_problem("[1]") == 'must be a command document, like {"find": ...}'
    assert (statements.command_problem("db.x.find()") or "").startswith("is not (extended) JSON: ")


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
            st = statements.statement(op, spec)
            argument = golden.sample_argument(op, factories[op.entity], terms=("word",))
            ops[op.name] = {"statement": type(st).__name__, "sends": sent(st, argument)}
        out[name] = ops
    return out


def as_json(snapshot: dict[str, Any]) -> str:
    return json_util.dumps(snapshot, indent=2, json_options=json_util.RELAXED_JSON_OPTIONS) + "\n"


def test_every_library_operation_matches_the_golden_file() -> None:
    # the same documents first, then key order too: it is the order of what is sent
    golden.check_golden(GOLDEN, as_json(library_snapshot()), compare=json.loads)


def test_the_golden_file_covers_every_library_workload_and_what_mongodb_supports() -> None:
    golden = json.loads(GOLDEN.read_text())
    assert sorted(golden) == LIBRARY
    supported = {(w, op) for w, ops in golden.items() for op, entry in ops.items() if "sends" in entry}
    assert {("kv-cache", "scan"), ("document-catalog", "browse"), ("user-accounts", "login"),
            ("metrics-timeseries", "series-last-hour"), ("social-graph", "follow")} <= supported
    assert "refused" in golden["product-search"]["search"] and "refused" in golden["session-cache"]["create"]
