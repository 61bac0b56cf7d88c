"""Native operations: several statements as one transaction, parameters drawn per call, refused at validate.

Each bad spec gives exactly one line naming the field; each sampler draws the exact pmf
pgbench documents (chi-square); `--scale` multiplies the ranges written in `scale`.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from scipy.stats import chisquare

from harness.dataset.params import param_drawer, sampler
from harness.engines.base import EngineAdapter
from harness.engines.registry import create_adapter, engine_info
from harness.errors import SpecError
from harness.spec.loader import load_workload, validate_file
from harness.spec.models import NativeOp, ParamSpec

ROOT = Path(__file__).resolve().parents[2]
TPCB = ROOT / "workloads" / "tpcb-like.yaml"


def spec_with(op: dict[str, Any], entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A one-operation workload (a small accounts table) with `op` merged into its native operation."""
    native = {"name": "unit", "kind": "native", "entity": "accounts", "weight": 1, **op}
    return {"version": 1, "name": "native-test", "dataset": {"entities": entities or [
        {"name": "accounts", "count": 100, "key": "aid",
         "fields": {"aid": {"type": "int", "sequence": True, "min": 1}, "abalance": {"type": "int", "min": 0, "max": 0}}},
    ]}, "operations": [native]}


def problems(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return [line.removeprefix(f"{path}: ") for line in validate_file(path)]


GOOD = {"params": {"aid": {"uniform": [1, "100 * scale"]}, "delta": {"uniform": [-5, 5]}},
        "statements": {"postgres": ["UPDATE accounts SET abalance = abalance + %(delta)s WHERE aid = %(aid)s",
                                    "SELECT abalance FROM accounts WHERE aid = %(aid)s"]}}


def test_the_good_spec_and_the_shipped_tpcb_are_valid(tmp_path: Path) -> None:
    assert problems(tmp_path, spec_with(GOOD)) == []
    workload = load_workload(TPCB)
    (op,) = workload.operations
    assert isinstance(op, NativeOp) and op.is_transaction("postgres") and len(op.statement_list("postgres")) == 5
    assert {name: spec.bounds for name, spec in op.params.items()} == {
        "aid": (1, "100000 * scale"), "bid": (1, "1 * scale"), "tid": (1, "10 * scale"), "delta": (-5000, 5000)}
    counts = {e.name: e.count for e in workload.dataset.entities}
    assert counts == {"pgbench_branches": 1, "pgbench_tellers": 10, "pgbench_accounts": 100_000, "pgbench_history": 0}


def test_scale_multiplies_the_ranges_written_in_scale_and_the_tables() -> None:
    workload = load_workload(TPCB).scaled(3)
    (op,) = workload.operations
    assert isinstance(op, NativeOp)
    assert {name: spec.bounds for name, spec in op.params.items()} == {
        "aid": (1, 300_000), "bid": (1, 3), "tid": (1, 30), "delta": (-5000, 5000)}
    counts = {e.name: e.count for e in workload.dataset.entities}
    assert counts == {"pgbench_branches": 3, "pgbench_tellers": 30, "pgbench_accounts": 300_000, "pgbench_history": 0}


def test_a_fractional_scale_keeps_ranges_and_tables_in_step() -> None:
    workload = load_workload(TPCB).scaled(0.5)  # a positive bound never scales below 1, as a record count
    (op,) = workload.operations
    assert isinstance(op, NativeOp)
    assert {name: spec.bounds for name, spec in op.params.items()} == {
        "aid": (1, 50_000), "bid": (1, 1), "tid": (1, 5), "delta": (-5000, 5000)}
    counts = {e.name: e.count for e in workload.dataset.entities}
    assert counts == {"pgbench_branches": 1, "pgbench_tellers": 5, "pgbench_accounts": 50_000, "pgbench_history": 0}


@pytest.mark.parametrize(("bounds", "scale", "expected"), [
    (["10 * scale", 10], 2, "operations.unit.params.x: at scale 2 its range ['10 * scale', 10] is [20, 10], which is "
                            "empty; use a larger --scale"),
    ([-1000, "100 // (scale - 2)"], 2, "operations.unit.params.x: '100 // (scale - 2)' cannot be computed at scale 2 "
                                   "(integer division or modulo by zero)"),
])
def test_a_scale_that_breaks_a_range_is_one_line(tmp_path: Path, bounds: list[Any], scale: float, expected: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(spec_with({"statements": {"postgres": "SELECT %(x)s"}, "params": {"x": {"uniform": bounds}}})))
    with pytest.raises(SpecError) as caught:
        load_workload(path).scaled(scale)
    assert caught.value.problems == (expected,)


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "two statements in one string": (
        {"statements": {"postgres": "UPDATE accounts SET abalance = 1; SELECT 1"}},
        "operations[0].statements.postgres: holds 2 statements in one string; give a list with one statement per item "
        "(run as one transaction)"),
    "positional placeholder": (
        {"statements": {"postgres": "SELECT abalance FROM accounts WHERE aid = %s"}},
        "operations[0].statements.postgres: '%s' is not a placeholder here; name parameters as %(name)s "
        "(a literal % is %%)"),
    "undeclared placeholder": (
        {"statements": {"postgres": ["SELECT abalance FROM accounts WHERE aid = %(aidd)s"]},
         "params": {"aid": {"uniform": [1, 10]}}},
        "operations[0].statements.postgres[0]: placeholder 'aidd' is not a declared parameter (declared: key, aid) "
        "(did you mean 'aid'?)"),
    "declared but unused": (
        {"statements": {"postgres": "SELECT 1"}, "params": {"aid": {"uniform": [1, 10]}}},
        "operations[0].params.aid: declared but used by no statement; use it or remove it"),
    "pgbench colon": (
        {"statements": {"postgres": "SELECT abalance FROM accounts WHERE aid = :aid"},
         "params": {"aid": {"uniform": [1, 10]}}},
        "operations[0].statements.postgres: pgbench's :aid is written %(aid)s here"),
    "syntax error": (
        {"statements": {"postgres": ["UPDAT accounts SET abalance = 1"]}},
        "operations[0].statements.postgres[0]: PostgreSQL would reject it: syntax error at or near \"UPDAT\", at index 0"),
    "transaction control": (
        {"statements": {"postgres": ["BEGIN", "SELECT 1"]}},
        "operations[0].statements.postgres[0]: transaction control (BEGIN, COMMIT, ROLLBACK...) is not allowed; "
        "the list already runs as one transaction"),
    "expression that does not parse": (
        {"statements": {"postgres": "SELECT %(aid)s"}, "params": {"aid": {"uniform": [1, "100000 *"]}}},
        "operations[0].params.aid.uniform: '100000 *' does not parse; write arithmetic in scale, "
        "e.g. \"100000 * scale\""),
    "unknown name in an expression": (
        {"statements": {"postgres": "SELECT %(aid)s"}, "params": {"aid": {"uniform": [1, "100000 * sclae"]}}},
        "operations[0].params.aid.uniform: '100000 * sclae': unknown name 'sclae'; only 'scale' may be used"),
    "a call in an expression": (
        {"statements": {"postgres": "SELECT %(aid)s"}, "params": {"aid": {"uniform": [1, "__import__('os')"]}}},
        "operations[0].params.aid.uniform: \"__import__('os')\": only numbers, 'scale', + - * / // % and parentheses "
        "are allowed"),
    "empty range": (
        {"statements": {"postgres": "SELECT %(aid)s"}, "params": {"aid": {"uniform": [10, 1]}}},
        "operations[0].params.aid.uniform: low (10) exceeds high (1) at scale 1"),
    "two distributions": (
        {"statements": {"postgres": "SELECT %(aid)s"}, "params": {"aid": {"uniform": [1, 2], "zipfian": [1, 2]}}},
        "operations[0].params.aid: give exactly one of uniform, zipfian, exponential with its [low, high] range "
        "(got uniform, zipfian)"),
    "exponential without its parameter": (
        {"statements": {"postgres": "SELECT %(aid)s"}, "params": {"aid": {"exponential": [1, 2]}}},
        "operations[0].params.aid: an exponential parameter needs its 'parameter' (> 0), as pgbench's "
        "random_exponential"),
    "key as a parameter name": (
        {"statements": {"postgres": "SELECT %(key)s"}, "params": {"key": {"uniform": [1, 2]}}},
        "operations[0].params.key: 'key' is the record the operation's distribution chooses; give the parameter "
        "another name"),
    "undeclared in another engine's syntax": (
        {"statements": {"redis": "GET account:{acct}"}},
        "operations[0].statements.redis: placeholder 'acct' is not a declared parameter (declared: key)"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_each_bad_native_operation_is_one_line(tmp_path: Path, case: str) -> None:
    op, expected = BAD[case]
    assert problems(tmp_path, spec_with(op)) == [expected]


def test_empty_and_keyless_entities_are_only_written(tmp_path: Path) -> None:
    entities = [
        {"name": "accounts", "count": 10, "key": "aid", "fields": {"aid": {"type": "int", "sequence": True}}},
        {"name": "history", "count": 0, "key": "aid", "primary_key": False, "fields": {"aid": {"type": "int"}}},
    ]
    data = spec_with({"statements": {"postgres": "INSERT INTO history (aid) VALUES (%(key)s)"}}, entities)
    assert problems(tmp_path, data) == []
    data["operations"].append({"name": "peek", "kind": "read", "entity": "history", "weight": 1})
    assert problems(tmp_path, data) == [
        "operations[1].entity: history starts empty (count: 0); only inserts and native operations may use it"]
    data["operations"][0]["entity"] = "history"
    data["operations"].pop()
    assert problems(tmp_path, data) == [
        "operations[0].entity: history starts empty (count: 0); a native operation chooses its key there: "
        "name an entity that is loaded"]


# ---- the samplers draw the exact pmf --------------------------------------------------


def chi_square_p(draws: list[int], pmf: dict[int, float]) -> float:
    seen = Counter(draws)
    assert set(seen) <= set(pmf), f"values outside the range: {sorted(set(seen) - set(pmf))[:5]}"
    values = sorted(pmf)
    observed = [seen[v] for v in values]
    expected = [pmf[v] * len(draws) for v in values]
    return float(chisquare(observed, expected).pvalue)


N = 60_000


def test_uniform_draws_every_value_of_the_range_equally() -> None:
    draw = sampler(ParamSpec(uniform=(-5, 5)), random.Random(1))
    assert chi_square_p([draw() for _ in range(N)], {v: 1 / 11 for v in range(-5, 6)}) > 0.001


@pytest.mark.parametrize("exponent", [0.5, 1.0, 1.5])
def test_zipfian_low_bound_most_popular_with_the_exact_pmf(exponent: float) -> None:
    draw = sampler(ParamSpec(zipfian=(10, 29), zipf_constant=exponent), random.Random(2))
    weights = {10 + r: (r + 1) ** -exponent for r in range(20)}
    total = sum(weights.values())
    assert chi_square_p([draw() for _ in range(N)], {v: w / total for v, w in weights.items()}) > 0.001


def test_exponential_follows_pgbench_formula() -> None:
    lb, ub, rate = 1, 20, 5.0
    n = ub - lb + 1
    pmf = {lb + i: (math.exp(-rate * i / n) - math.exp(-rate * (i + 1) / n)) / (1 - math.exp(-rate)) for i in range(n)}
    draw = sampler(ParamSpec(exponential=(lb, ub), parameter=rate), random.Random(3))
    assert chi_square_p([draw() for _ in range(N)], pmf) > 0.001


def test_every_parameter_is_drawn_per_call_and_unscaled_expressions_read_scale_1() -> None:
    draws = param_drawer({"aid": ParamSpec(uniform=(1, "3 * scale")), "d": ParamSpec(uniform=(7, 7))}, random.Random(4))
    seen = [draws() for _ in range(300)]
    assert {s["aid"] for s in seen} == {1, 2, 3} and {s["d"] for s in seen} == {7}


# ---- every other engine refuses a list before the run -----------------------------------



def adapter(engine: str) -> EngineAdapter[Any]:
    """An adapter of `engine` at its default URL, never connected (unsupported_reason needs no server)."""
    return create_adapter(engine, engine_info(engine).default_url)


def test_other_engines_refuse_a_transaction_with_a_reason() -> None:
    workload = load_workload(TPCB)
    (op,) = workload.operations
    assert isinstance(op, NativeOp)
    listed = op.model_copy(update={"statements": {e: op.statement_list("postgres") for e in ("redis", "neo4j", "mongodb")}})
    multi = workload.model_copy(update={"operations": (listed,)})
    assert adapter("postgres").unsupported_reason(op, workload) is None
    for engine in ("redis", "neo4j", "mongodb"):
        reason = adapter(engine).unsupported_reason(listed, multi)
        assert reason is not None and "one transaction" in reason, (engine, reason)
    for engine in ("ferretdb", "opensearch", "influxdb"):
        assert adapter(engine).unsupported_reason(op, workload), engine
