"""dbarena verify: answers normalised and compared (no engine), and real adapters with a bug planted in
their timed path or their statement (PostgreSQL, with Redis as the second opinion) reported as `differ`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from harness.cli import main
from harness.engines.base import DatasetInUse, LockHolder
from harness.engines.calls import Query
from harness.engines.influxdb.answers import bucket_start
from harness.engines.postgres import adapter as postgres_adapter
from harness.engines.postgres.statements import build
from harness.engines.registry import create_adapter
from harness.spec.loader import load_workload
from harness.spec.models import FindOp, Operation, RangeOp, SearchOp, Workload
from harness.studies.verify import AGREE, DIFFER, NA, Verdict, verify
from harness.studies.verify.normal import Normal, canonical, differs, key_text, normalise, self_check, stray_hits
from harness.studies.verify.study import load

ROOT = Path(__file__).resolve().parents[2]


def workload(name: str, records: int) -> Workload:
    spec = load_workload(ROOT / "workloads" / f"{name}.yaml")
    return spec.scaled(records / spec.dataset.entities[0].count)


def op_of(spec: Workload, name: str) -> Any:
    return next(op for op in spec.operations if op.name == name)


# ---- normalisation and comparison, no engine ------------------------------------------------


def test_values_every_driver_returns_are_one_canonical_value() -> None:
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert canonical(moment) == canonical("2026-01-01T00:00:00Z") == canonical(b"2026-01-01T00:00:00+00:00") \
        == canonical(datetime(2026, 1, 1)) == 1767225600.0
    assert key_text(12) == key_text("12") == key_text(b"12") == key_text(12.0) == "12"
    uuid = UUID("12345678-1234-5678-1234-567812345678")
    assert key_text(uuid) == key_text(str(uuid)) == str(uuid)
    assert canonical("user000123") == "user000123"


def test_a_sorted_find_cut_at_its_limit_may_pick_any_of_the_tied_rows() -> None:
    op = FindOp(name="f", kind="find", entity="e", weight=1, match=("a",), sort={"field": "t"}, limit=3)
    a = Normal(keys=("k1", "k2", "k3"), sort_values=(1.0, 2.0, 2.0))
    b = Normal(keys=("k1", "k4", "k2"), sort_values=(1.0, 2.0, 2.0))  # k4 ties with k3 at the cut
    assert differs(op, a, b) is None
    c = Normal(keys=("k9", "k2", "k3"), sort_values=(1.0, 2.0, 2.0))  # a settled row differs
    assert differs(op, a, c) is not None
    assert differs(op, a, Normal(keys=("k1", "k2", "k3"), sort_values=(1.0, 2.0, 3.0))) is not None


def test_unsorted_results_compare_as_sets_and_only_counts_once_cut() -> None:
    op = FindOp(name="f", kind="find", entity="e", weight=1, match=("a",), limit=3)
    assert differs(op, Normal(keys=("a", "b")), Normal(keys=("b", "a"))) is None
    assert differs(op, Normal(keys=("a", "b")), Normal(keys=("b", "c"))) is not None
    assert differs(op, Normal(keys=("a", "b", "c")), Normal(keys=("d", "e", "f"))) is None  # cut: the engine's pick
    assert differs(op, Normal(keys=("a", "b")), Normal(keys=("a", "b", "c"))) == "2 vs 3 rows"


def test_aggregates_agree_within_the_float_tolerance_only() -> None:
    spec = workload("metrics-timeseries", 200)
    op = op_of(spec, "hourly-mean-per-host")
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    pg = normalise(op, spec, [{"host": "h1", "bucket": start, "value": 50.0000001}])
    es = normalise(op, spec, [{"host": "h1", "bucket": start.timestamp() * 1.0, "value": 50.0}])
    assert differs(op, pg, es) is None
    off = normalise(op, spec, [{"host": "h1", "bucket": start, "value": 50.01}])
    assert differs(op, pg, off) is not None
    moved = normalise(op, spec, [{"host": "h1", "bucket": start + timedelta(minutes=1), "value": 50.0}])
    assert differs(op, pg, moved) is not None


def test_record_fields_compare_whatever_shape_each_driver_returns() -> None:
    spec = workload("document-catalog", 200)
    view = op_of(spec, "view")
    pg = normalise(view, spec, [{"sku": "s1", "price": 12.5, "attributes": {"k1": "v", "k2": 3},
                                 "tags": ["a", "b"], "stock": 7}])
    redis = normalise(view, spec, [{"sku": "s1", "price": "12.5", "attributes": '{"k2":3,"k1":"v"}',
                                    "tags": '["a","b"]', "stock": "7"}])
    influx = normalise(view, spec, [{"sku": "s1", "price": 12.5, "attributes": '{"k1":"v","k2":3}', "tags": "a,b"}])
    assert differs(view, pg, redis) is None and differs(view, pg, influx) is None
    changed = normalise(view, spec, [{"sku": "s1", "price": 12.5, "attributes": {"k1": "w", "k2": 3}}])
    assert "attributes" in str(differs(view, pg, changed))


def test_influx_buckets_are_named_by_their_start() -> None:
    end = datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc)  # aggregateWindow stamps a window by its end
    assert bucket_start(end, 60) == datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc)
    assert bucket_start(end + timedelta(seconds=30), 60) == datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc)


def test_search_hits_must_hold_a_term_and_the_match_values() -> None:
    spec = workload("product-search", 200)
    op: SearchOp = op_of(spec, "search-in-category")
    query = Query(("bavu",), {"category": "sports"})
    rows = [{"id": 1, "title": "bavu kiro", "description": "", "category": "sports"},
            {"id": 2, "title": "kiro", "description": "zana", "category": "sports"},  # no term
            {"id": 3, "title": "Bavu", "description": "", "category": "books"}]  # another category
    assert stray_hits(op, spec, rows, query) == ["2", "3"]
    hits = normalise(op, spec, rows[:1])
    assert differs(op, hits, normalise(op, spec, rows[:1])) is None


def test_a_count_that_is_not_an_int_or_not_the_answers_is_caught() -> None:
    answer = Normal(keys=("a", "b"))
    assert self_check(answer, 2) is None
    assert "not a count" in str(self_check(answer, object()))
    assert "not a count" in str(self_check(answer, True))
    assert "counted 5" in str(self_check(answer, 5))


def test_calls_run_reads_then_updates_inserts_deletes_and_only_inserts_make_new_keys() -> None:
    from harness.dataset.generate import dataset_factories
    from harness.studies.verify.study import draw_arguments

    spec = workload("session-cache", 300)
    drawn = draw_arguments(spec, 20, spec.dataset.seed)
    assert list(drawn) == ["get", "touch", "create", "logout"]
    factory = dataset_factories(spec)["sessions"]
    loaded = {factory.key_of(i) for i in range(300)}
    assert set(drawn["get"]) | set(drawn["logout"]) | {change.key for change in drawn["touch"]} <= loaded
    assert not {record["sid"] for record in drawn["create"]} & loaded
    again = draw_arguments(spec, 20, spec.dataset.seed)  # seeded: the same keys (`now` fields take the clock)
    assert again["get"] == drawn["get"] and [c.key for c in again["touch"]] == [c.key for c in drawn["touch"]]


# ---- real adapters with planted bugs ---------------------------------------------------------


def verdicts_of(spec: Workload, urls: dict[str, str], samples: int = 8) -> dict[tuple[str, str], Verdict]:
    found = verify(spec, list(urls), samples, provision="external", urls=urls, say=lambda _: None)
    return {(v.operation, v.engine): v for v in found}


def plant(monkeypatch: pytest.MonkeyPatch, name: str, executor: Callable[[Any, Operation, Workload], Any]) -> None:
    """PostgresAdapter.bind gives `executor(adapter, op, workload)` for operation `name`, the real one otherwise."""
    real = postgres_adapter.PostgresAdapter.bind

    def bind(self: postgres_adapter.PostgresAdapter, op: Operation, spec: Workload) -> Any:
        return executor(self, op, spec) if op.name == name else real(self, op, spec)
    monkeypatch.setattr(postgres_adapter.PostgresAdapter, "bind", bind)


@pytest.mark.postgres
@pytest.mark.redis
def test_postgres_and_redis_agree_on_audit_log(postgres_url: str, redis_url: str) -> None:
    found = verdicts_of(workload("audit-log", 2000), {"postgres": postgres_url, "redis": redis_url})
    assert {v.status for v in found.values()} == {AGREE}, found
    assert set(found) == {(op, engine) for op in ("append", "user-history", "resource-lookup")
                          for engine in ("postgres", "redis")}


@pytest.mark.postgres
def test_an_executor_that_drops_a_filter_differs(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The timed path drops `user_id = ...`; the statement verify reads still has it: the counts disagree."""
    def unfiltered(adapter: Any, op: Operation, spec: Workload) -> Any:
        conn = adapter.client
        return lambda match: len(conn.execute("SELECT id FROM events ORDER BY created_at DESC LIMIT 50").fetchall())
    plant(monkeypatch, "user-history", unfiltered)
    found = verdicts_of(workload("audit-log", 2000), {"postgres": postgres_url})
    verdict = found[("user-history", "postgres")]
    assert verdict.status == DIFFER and "the executor counted 50 but its statement returns" in verdict.detail, verdict
    assert found[("resource-lookup", "postgres")].status == AGREE


@pytest.mark.postgres
def test_an_executor_that_returns_a_lazy_cursor_differs(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The timed path executes and hands back the cursor: nothing was fetched, no count was materialised."""
    def lazy(adapter: Any, op: Operation, spec: Workload) -> Any:
        statement, conn = build(op, spec), adapter.client
        query = statement.query.as_string(conn)
        return lambda match: conn.cursor().execute(query, statement.parameters(match))
    plant(monkeypatch, "user-history", lazy)
    verdict = verdicts_of(workload("audit-log", 2000), {"postgres": postgres_url})[("user-history", "postgres")]
    assert verdict.status == DIFFER and "returned Cursor, not a count" in verdict.detail, verdict


@pytest.mark.postgres
@pytest.mark.redis
def test_a_statement_that_drops_a_filter_differs_from_the_other_engine(
        postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """statements.py loses browse's `category = ...`: executor and answer agree with each other, not with Redis."""
    from harness.engines.postgres import answers, statements

    real = statements.build

    def dropped(op: Operation, spec: Workload) -> Any:
        if isinstance(op, RangeOp) and op.name == "browse":
            op = op.model_copy(update={"match": ()})
        return real(op, spec)
    monkeypatch.setattr(postgres_adapter, "build", dropped)
    monkeypatch.setattr(answers, "build", dropped)
    found = verdicts_of(workload("document-catalog", 1000), {"postgres": postgres_url, "redis": redis_url})
    browse = found[("browse", "postgres")]
    assert browse.status == DIFFER and "argument Window(match={'category':" in browse.detail, browse
    assert "postgres: 20 rows" in browse.detail and "redis:" in browse.detail
    assert found[("view", "postgres")].status == AGREE
    assert found[("set-attribute", "postgres")].status == AGREE


@pytest.mark.postgres
@pytest.mark.redis
def test_the_command_prints_each_cell_and_exits_1_when_anything_differs(
        postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["verify", "session-cache", "--engines", "postgres,redis", "--records", "300", "--samples", "3",
            "--url", f"postgres={postgres_url}", "--url", f"redis={redis_url}"]
    assert main(args) == 0
    cells = {tuple(line.split()[:3]) for line in capsys.readouterr().out.splitlines()[2:] if line.strip()}
    assert {("get", "postgres", AGREE), ("get", "redis", AGREE), ("touch", "postgres", NA), ("touch", "redis", AGREE),
            ("logout", "postgres", AGREE), ("logout", "redis", AGREE)} <= cells
    plant(monkeypatch, "get", lambda adapter, op, spec: lambda key: None)  # counts nothing: None
    assert main(args) == 1
    out = capsys.readouterr().out
    assert any(line.split()[:3] == ["get", "postgres", DIFFER] and "returned NoneType, not a count" in line
               for line in out.splitlines()), out


@pytest.mark.postgres
def test_verify_refuses_a_dataset_a_run_is_measuring(postgres_url: str) -> None:
    """verify drops and reloads the data: under a run holding the dataset lock it refuses and the data stays."""
    spec = workload("audit-log", 200)
    holder = create_adapter("postgres", postgres_url)
    holder.connect()
    try:
        load(holder, spec)
        holder.lock_dataset(spec, LockHolder.here("a-measuring-run", spec.name))
        with pytest.raises(DatasetInUse, match="in use by run a-measuring-run"):
            verify(spec, ["postgres"], samples=2, provision="auto", urls={"postgres": postgres_url}, say=lambda _: None)
        rows = holder.client.execute("SELECT count(*) FROM events").fetchone()
        assert rows == (200,)  # the run's data was not dropped
    finally:
        holder.unlock_dataset()
        holder.close()
