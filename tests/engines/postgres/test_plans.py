"""Plans captured after a run (harness.runner.run.explain_plans): on arguments valid for the operation,
never for longer than the operation's timeout."""

from __future__ import annotations

import time

import pytest

from harness.engines.postgres.adapter import PostgresAdapter
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest, explain_plans
from harness.spec.models import NativeOp
from harness.spec.suite import LoadProfile
from tests.engines.helpers import load_all, workload

pytestmark = pytest.mark.postgres


def test_the_insert_plan_of_a_run_is_a_plan_not_a_unique_violation(postgres_url: str) -> None:
    load = LoadProfile(users=2, processes=1, duration_s=1, warmup_s=0)
    record = run_and_record(RunRequest(engine="postgres", url=postgres_url, workload=workload("kv-cache", 500),
                                      load=load), Progress())
    assert record.operations["insert"].count > 0  # the run inserted: a plan on the mix's next key would collide
    plan = record.telemetry["plans"]["insert"]
    assert plan.startswith("Insert on usertable") and "Execution Time" in plan, plan


def test_a_slow_statement_is_explained_within_its_timeout_without_running_it_to_the_end(postgres_url: str) -> None:
    spec = workload("kv-cache", 50)
    sleep = NativeOp.model_validate({"name": "sleep", "kind": "native", "entity": "usertable", "weight": 1,
                                     "statements": {"postgres": "SELECT pg_sleep(8)"}, "timeout": 1})
    spec = spec.model_copy(update={"operations": (sleep,)})
    adapter = PostgresAdapter("postgres", postgres_url)
    adapter.connect()
    try:
        load_all(adapter, spec)
        began = time.monotonic()
        plans = explain_plans(adapter, spec, seed=1)
        took = time.monotonic() - began
        assert took < 2.0, f"the plan capture took {took:.1f} s (timeout 1 s)"
        plan = plans["sleep"]
        assert plan.startswith("-- not executed: EXPLAIN ANALYZE outlasted the operation timeout (1 s)"), plan
        assert "Result" in plan  # the plan itself, without ANALYZE
        adapter.client.execute("SELECT 1")  # the connection goes on
    finally:
        adapter.close()
