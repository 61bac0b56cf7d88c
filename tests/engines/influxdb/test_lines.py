"""The bulk load's line encoder gives exactly the line influxdb-client's Point writes; the server stores them all."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from harness.dataset.generate import dataset_factories
from harness.engines.influxdb.lines import LineEncoder
from harness.engines.influxdb.statements import LOAD_TIME_NS, Layout, layout_problem
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "workloads").glob("*.yaml")))
def test_lines_are_the_points_lines_for_every_library_workload(name: str) -> None:
    spec = load_workload(ROOT / "workloads" / f"{name}.yaml")
    for entity in spec.dataset.entities:
        if layout_problem(entity):
            continue
        layout = Layout.of(entity)
        encoder = LineEncoder(layout)
        for record in dataset_factories(spec)[entity.name].batch(0, 300):
            assert encoder.line(record, LOAD_TIME_NS) == layout.point(record, LOAD_TIME_NS).to_line_protocol()


EDGES: list[dict[str, Any]] = [
    {"id": 1, "s": 'say "hi" \\ back, a=b\nnext', "f": 1.0, "g": 2.5, "b": True, "n": None, "tags": ["a", "b"]},
    {"id": "k,e y=1\\", "s": "", "f": float("inf"), "g": float("nan"), "b": False, "n": 3, "tags": []},
    {"id": 2, "s": "x", "f": -0.0, "g": 1e300, "b": True, "n": 2**62, "t": datetime(2024, 5, 6, 7, 8, 9, 123456)},
    {"id": 3, "s": "y", "f": 0.1, "t": datetime(2024, 5, 6, 7, 8, 9, 654321, tzinfo=timezone(timedelta(hours=2)))},
    {"id": 4, "f": None, "g": None},  # no field left: Point writes nothing
]


@pytest.mark.parametrize("record", EDGES)
def test_edge_cases_match_point(record: dict[str, Any]) -> None:
    for layout in (Layout("m e,x", ("id",), None), Layout("m", ("id",), "t" if "t" in record else None)):
        assert LineEncoder(layout).line(record, LOAD_TIME_NS) == layout.point(record, LOAD_TIME_NS).to_line_protocol()


@pytest.mark.influxdb
def test_two_workers_load_every_record_by_the_servers_count(influxdb_url: str) -> None:
    spec = load_workload(ROOT / "benchmarks" / "bulkload" / "accounts.yaml")  # read-only: the count stays the load's
    spec = spec.scaled(3_001 / spec.dataset.entities[0].count)
    before = counters(influxdb_url)
    load = LoadProfile.model_validate({"users": 2, "processes": 2, "duration": 1, "warmup": 0})
    record = run_and_record(RunRequest(engine="influxdb", url=influxdb_url, workload=spec, load=load), Progress())
    assert record.load_phase is not None and record.load_phase.records == 3_001
    assert counters(influxdb_url) - before >= 3_001  # the server's httpd counter of points written
    (series,) = query(influxdb_url, 'SELECT count("abalance") FROM "accounts"')["results"][0]["series"]
    assert series["values"][0][1] == 3_001


def counters(url: str) -> int:
    stats = get(url, "/debug/vars", {})
    return int(next(v["values"] for k, v in stats.items() if k.startswith("httpd:"))["pointsWrittenOK"])


def query(url: str, influxql: str) -> Any:
    return get(url, "/query", {"db": "dbarena", "q": influxql})


def get(url: str, path: str, params: dict[str, str]) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{url.split('?')[0]}{path}?{urllib.parse.urlencode(params)}", timeout=10) as reply:
        return json.load(reply)
