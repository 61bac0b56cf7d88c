"""Which operations must find what they ask for: the generator guarantees a match, and nothing in the mix removes it."""

from __future__ import annotations

from pathlib import Path

from harness.runner.outcomes import GUARD_GRACE_S, drain_s, must_hit
from harness.spec.loader import load_workload
from harness.spec.models import FindOp, OperationKind

ROOT = Path(__file__).resolve().parents[2]


def musts(name: str) -> dict[str, bool]:
    spec = load_workload(ROOT / "workloads" / f"{name}.yaml")
    return {op.name: must_hit(op, spec) for op in spec.operations}


def test_by_key_calls_and_selections_of_a_loaded_record_must_hit() -> None:
    assert musts("kv-cache") == {"read": True, "update": True, "insert": False, "read-latest": True, "scan": False,
                                 "read-modify-write": True}
    assert musts("metrics-timeseries") == {"ingest": False, "series-last-hour": True, "hourly-mean-per-host": True}


def test_nothing_must_hit_where_records_may_vanish_or_the_answer_may_rightly_be_empty() -> None:
    assert not any(musts("session-cache").values())  # deletes and expiries in the mix
    assert not any(musts("social-graph").values())  # traversals and inserts
    assert not musts("product-search")["search"]


def test_a_constant_filter_or_a_match_on_an_updated_field_is_not_guaranteed() -> None:
    spec = load_workload(ROOT / "workloads" / "kv-cache.yaml")
    plain = FindOp(name="by-field", kind=OperationKind.FIND, entity="usertable", weight=1, match=("field1",))
    filtered = plain.model_copy(update={"filter": {"field2": "x"}})
    ops = tuple(op for op in spec.operations if op.kind is not OperationKind.UPDATE and op.name != "read-modify-write")
    quiet = spec.model_copy(update={"operations": ops})
    assert must_hit(plain, quiet) and not must_hit(filtered, quiet)
    assert not must_hit(plain, spec)  # kv-cache's updates write field1


def test_the_drain_lasts_the_longest_operation_timeout_and_the_guard() -> None:
    spec = load_workload(ROOT / "workloads" / "kv-cache.yaml")
    assert drain_s(spec, 2.0) >= 2.0 + GUARD_GRACE_S
    slow = spec.operations[0].model_copy(update={"timeout_s": 30.0})
    assert drain_s(spec.model_copy(update={"operations": (slow, *spec.operations[1:])}), 2.0) >= 30.0 + GUARD_GRACE_S


def test_on_a_near_real_time_engine_a_query_of_an_entity_with_inserts_may_miss_a_read_by_key_may_not() -> None:
    """OpenSearch with refresh=false acknowledges a write before a search can see it (next refresh, 1 s)."""
    spec = load_workload(ROOT / "workloads" / "audit-log.yaml")
    lookup = next(op for op in spec.operations if op.name == "resource-lookup")
    assert must_hit(lookup, spec) and not must_hit(lookup, spec, queries_see_writes=False)
    kv = load_workload(ROOT / "workloads" / "kv-cache.yaml")
    read = next(op for op in kv.operations if op.name == "read")
    assert must_hit(read, kv, queries_see_writes=False)


def test_which_search_engine_urls_make_writes_visible_to_queries_at_once() -> None:
    from harness.engines.registry import create_adapter

    assert not create_adapter("opensearch", "http://127.0.0.1:9200").queries_see_writes_at_once
    assert create_adapter("opensearch", "http://127.0.0.1:9200?refresh=wait_for").queries_see_writes_at_once
    assert create_adapter("postgres", "postgresql://u@127.0.0.1/db").queries_see_writes_at_once
