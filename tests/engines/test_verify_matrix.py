"""Every library workload on every engine the matrix runs it on gives the same answers (`dbarena verify`).

One test per workload (workloads/*.yaml), with the servers of the engines that run at least one
of its operations (the adapters decide, as harness/engines/matrix.py does; the elasticsearch
column is tested on OpenSearch, mongodb on FerretDB). Native operations run each engine's own
statement: verify says n/a for them, so a workload of native operations only (tpcb-like) runs
on no engine here. Small data (RECORDS of the first entity) and a few calls per
operation keep the whole matrix near a minute once the servers are up. A cell that differs
fails the test with its example; an n/a cell must carry the adapter's reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.engines.matrix import MATRIX_ENGINES
from harness.engines.registry import create_adapter, engine_info
from harness.spec.loader import load_workload
from harness.spec.models import NativeOp, Workload
from harness.studies.verify import AGREE, DIFFER, NA, verify
from harness.studies.verify.study import not_verified

ROOT = Path(__file__).resolve().parents[2]
RECORDS = 200
SAMPLES = 5
TESTED_AS = {"elasticsearch": "opensearch"}  # matrix column -> the engine (and fixture) that stands in here
WORKLOADS = sorted(path.stem for path in (ROOT / "workloads").glob("*.yaml"))


def small(name: str) -> Workload:
    spec = load_workload(ROOT / "workloads" / f"{name}.yaml")
    return spec.scaled(RECORDS / spec.dataset.entities[0].count)


def engines_of(spec: Workload) -> list[str]:
    """The matrix engines that run at least one of the workload's operations verify compares, named as tested here."""
    chosen = []
    for engine in MATRIX_ENGINES:
        adapter = create_adapter(engine, engine_info(engine).default_url)  # never connected
        if any(not_verified(adapter, op, spec) is None for op in spec.operations):
            chosen.append(TESTED_AS.get(engine, engine))
    return chosen


def _case(name: str) -> object:
    engines = engines_of(small(name))
    return pytest.param(name, engines, id=name, marks=[getattr(pytest.mark, engine) for engine in engines])


# pgbench's script: native PostgreSQL statements only, which verify leaves n/a (nothing to compare)
SINGLE_ENGINE: dict[str, list[str]] = {"tpcb-like": []}


def test_only_the_single_engine_workloads_run_on_fewer_than_two_engines() -> None:
    assert {name: engines_of(small(name)) for name in WORKLOADS if len(engines_of(small(name))) < 2} == SINGLE_ENGINE


@pytest.mark.parametrize(("name", "engines"), [_case(name) for name in WORKLOADS if name not in SINGLE_ENGINE])
def test_library_workload_answers_agree(name: str, engines: list[str], request: pytest.FixtureRequest) -> None:
    spec = small(name)
    assert len(engines) >= 2, f"{name} runs on fewer than two engines: nothing to compare"
    urls = {engine: request.getfixturevalue(f"{engine}_url") for engine in engines}
    verdicts = verify(spec, engines, SAMPLES, provision="external", urls=urls, say=lambda _: None)
    differing = [f"{v.operation} on {v.engine}: {v.detail}" for v in verdicts if v.status == DIFFER]
    assert not differing, "\n".join(differing)
    assert all(v.detail for v in verdicts if v.status == NA)
    assert len(verdicts) == len(spec.operations) * len(engines)
    compared = {v.operation for v in verdicts if v.status == AGREE}
    assert compared == {op.name for op in spec.operations if not isinstance(op, NativeOp)}
