"""Every supported (workload, engine) pair of the library runs end to end on its real server.

The semantic checks (right page, right 2-hop set, right aggregate) live in each adapter's
test module; this one proves the whole path — load, workers, every operation, record —
for each cell that `dbarena engines matrix` says "yes" to, and that n/a cells are refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.engines.matrix import MATRIX_ENGINES, support
from harness.errors import UnsupportedOperation
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = {"postgres": "postgres", "redis": "redis", "mongodb": "mongodb", "elasticsearch": "opensearch",
           "influxdb": "influxdb", "neo4j": "neo4j"}
RECORDS = 800  # per entity (the first one; others scale alike)


def cells() -> list[object]:
    params = []
    for path in sorted((ROOT / "workloads").glob("*.yaml")):
        for engine in MATRIX_ENGINES:
            marker = getattr(pytest.mark, FIXTURE[engine] if engine != "elasticsearch" else "opensearch")
            params.append(pytest.param(path.stem, engine, id=f"{path.stem}-{engine}", marks=marker))
    return params


@pytest.mark.parametrize(("workload_name", "engine"), cells())
def test_library_cell(workload_name: str, engine: str, request: pytest.FixtureRequest) -> None:
    workload = load_workload(ROOT / "workloads" / f"{workload_name}.yaml").active()
    workload = workload.scaled(RECORDS / workload.dataset.entities[0].count)
    url = request.getfixturevalue(f"{FIXTURE[engine]}_url")
    supported, reasons = support(workload, engine)
    load = LoadProfile(users=4, processes=1, duration=2, warmup=1)
    if not supported:
        with pytest.raises(UnsupportedOperation):
            run_and_record(RunRequest(engine=engine, url=url, workload=workload, load=load), Progress())
        assert reasons
        return
    record = run_and_record(RunRequest(engine=engine, url=url, workload=workload, load=load), Progress())
    assert record.complete and record.valid, record.invalid_reasons
    total = sum(op.count for op in record.operations.values())
    assert total > 0
    for name, op in record.operations.items():
        assert op.errors == 0, (name, op.errors_sample)
