"""Native transactions on PostgreSQL: the server's own data proves each unit ran whole, or not at all.

pgbench's TPC-B-like transaction moves an account, a teller and a branch balance by the same
delta and logs it: after any number of committed transactions, and of rolled-back ones, the
four sums agree. A unit whose later statement fails leaves nothing of its earlier ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness.engines.registry import create_adapter
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.models import NativeOp, ParamSpec, Workload
from harness.spec.suite import LoadProfile
from tests.engines.helpers import load_all

pytestmark = pytest.mark.postgres
TPCB = Path(__file__).resolve().parents[3] / "workloads" / "tpcb-like.yaml"
SUMS = ("SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(bbalance) FROM pgbench_branches), "
        "(SELECT sum(tbalance) FROM pgbench_tellers), (SELECT coalesce(sum(delta), 0) FROM pgbench_history), "
        "(SELECT count(*) FROM pgbench_history)")


def small_tpcb() -> Workload:
    """tpcb-like with 2,000 accounts (a fast load): the same statements, the same contention on one branch."""
    spec = load_workload(TPCB)
    entities = tuple(e.model_copy(update={"count": 2_000}) if e.name == "pgbench_accounts" else e
                     for e in spec.dataset.entities)
    (op,) = spec.operations
    assert isinstance(op, NativeOp)
    params = {**op.params, "aid": ParamSpec(uniform=(1, 2_000))}
    return spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"entities": entities}),
                                   "operations": (op.model_copy(update={"params": params}),)})


def sums(url: str) -> tuple[Any, ...]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(SUMS).fetchone()
    assert row is not None
    return tuple(row)


def test_a_tpcb_run_keeps_every_balance_equal_to_the_history(postgres_url: str) -> None:
    spec = small_tpcb()
    load = LoadProfile(users=4, duration_s=2, warmup_s=0.5)
    record = run_and_record(RunRequest(engine="postgres", url=postgres_url, workload=spec, load=load),
                            Progress(min_interval_s=60))
    stats = record.operations["tpcb"]
    assert stats.count > 50 and stats.errors == 0
    accounts, branches, tellers, deltas, history = sums(postgres_url)
    assert accounts == branches == tellers == deltas
    assert history >= stats.count  # one history row per committed unit (the warm-up's too)


def test_a_failing_statement_rolls_back_the_whole_unit(postgres_url: str) -> None:
    spec = small_tpcb()
    adapter = create_adapter("postgres", postgres_url)
    adapter.connect()
    try:
        load_all(adapter, spec)
        (op,) = spec.operations
        assert isinstance(op, NativeOp)
        good = adapter.bind(op, spec)
        statements = (*op.statement_list("postgres")[:4],
                      "INSERT INTO pgbench_history (tid, bid, aid, delta) VALUES (%(tid)s, %(bid)s, %(aid)s, %(delta)s / 0)")
        failing = adapter.bind(op.model_copy(update={"name": "fails", "statements": {"postgres": statements}}), spec)
        argument = {"key": 1, "aid": 7, "bid": 1, "tid": 3, "delta": 1234}
        assert good(argument) == 5  # 3 updates, 1 row read, 1 insert
        with pytest.raises(psycopg.errors.DivisionByZero):
            failing({**argument, "delta": 99})
        assert good(argument) == 5  # the connection is usable: the failed unit was rolled back, not left open
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            balance = conn.execute("SELECT abalance FROM pgbench_accounts WHERE aid = 7").fetchone()
        assert balance == (2 * 1234,)
        assert sums(postgres_url) == (2468, 2468, 2468, 2468, 2)
        plan = adapter.explain(op, spec, argument)
        assert plan is not None and plan.count("-- statement") == 5 and "Update on pgbench_accounts" in plan
        assert sums(postgres_url) == (2468, 2468, 2468, 2468, 2)  # EXPLAIN ANALYZE left no trace
    finally:
        adapter.close()
