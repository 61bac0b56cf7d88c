"""benchmarks/overhead.py's pure helpers: the median of alternating pairs, the native tools' reports, CPU per op."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from harness.runner.protocol import WorkerResult

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "overhead.py"

# pgbench 15's report of `pgbench -S -M prepared -c 8 -j 2 -T 2` (this machine, 2026-11-30)
PGBENCH = """pgbench (15.10 (Debian 15.10-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 1
query mode: prepared
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 37356
number of failed transactions: 0 (0.000%)
latency average = 0.428 ms
initial connection time = 6.083 ms
tps = 18681.262545 (without initial connection time)
"""
# redis-benchmark 7.0 -q: progress lines end in a carriage return, the result line in a newline
REDIS_GET = "GET: rps=0.0 (overall: nan) avg_msec=nan (overall: nan)\rGET: rps=16988.0 (overall: 16988.0)\r" \
            "GET: 17026.11 requests per second, p50=0.255 msec                    \n\n"
REDIS_HGETALL = "HGETALL dbarena:usertable:__rand_int__: rps=16000.0 (overall: 16000.0)\r" \
                "HGETALL dbarena:usertable:__rand_int__: 16842.55 requests per second, p50=0.287 msec\n"


@pytest.fixture(scope="module")
def overhead() -> ModuleType:
    spec = importlib.util.spec_from_file_location("overhead_benchmark", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_median_of_pairs_pairs_rounds_in_order(overhead: ModuleType) -> None:
    f = overhead.Figure
    natives = [f(100.0), f(200.0), f(400.0)]
    harness = [f(90.0), f(100.0), f(360.0)]  # ratios 0.9, 0.5, 0.9: median 0.9 (a pooled ratio would be 0.79)
    assert overhead.median_ratio(natives, harness) == pytest.approx(0.9)
    four = overhead.median_ratio([*natives, f(100.0)], [*harness, f(60.0)])  # 0.5, 0.6, 0.9, 0.9
    assert four == pytest.approx(0.75)
    with pytest.raises(ValueError):
        overhead.median_ratio(natives, harness[:2])
    with pytest.raises(ValueError):
        overhead.median_ratio([], [])


def test_comparison_takes_the_better_process_count(overhead: ModuleType) -> None:
    f = overhead.Figure
    shared = [f(100.0), f(100.0), f(100.0)]
    comparison = overhead.Comparison("read", "tool", 0.85, natives={1: shared, 2: shared},
                                     harness={1: [f(80.0), f(86.0), f(90.0)], 2: [f(70.0), f(95.0), f(50.0)]})
    assert comparison.medians() == {1: pytest.approx(0.86), 2: pytest.approx(0.70)}
    assert comparison.lines()[-1].endswith("best of 1, 2 processes: 0.86   target >= 0.85: MET")


def test_parse_pgbench(overhead: ModuleType) -> None:
    assert overhead.parse_pgbench(PGBENCH) == (18681.262545, 37356)
    with pytest.raises(ValueError):
        overhead.parse_pgbench("pgbench: error: connection to server failed")


def test_parse_redis_benchmark(overhead: ModuleType) -> None:
    assert overhead.parse_redis_benchmark(REDIS_GET) == 17026.11
    assert overhead.parse_redis_benchmark(REDIS_HGETALL) == 16842.55
    with pytest.raises(ValueError):
        overhead.parse_redis_benchmark("Could not connect to Redis at 127.0.0.1:1: Connection refused")


def worker(measured_s: float, cpu_fraction: float | None) -> WorkerResult:
    return WorkerResult(process=0, complete=True, measured_s=measured_s, cpu_fraction=cpu_fraction, operations={},
                        timeseries=())


def test_cpu_per_op(overhead: ModuleType) -> None:
    assert overhead.cpu_us_per_op(0.5, 100_000) == pytest.approx(5.0)
    assert overhead.cpu_us_per_op(0.5, 0) is None
    workers = [worker(10.0, 0.5), worker(8.0, 0.25)]
    assert overhead.worker_cpu_s(workers) == pytest.approx(7.0)  # 0.5 x 10 s + 0.25 x 8 s
    assert overhead.worker_cpu_s([*workers, worker(10.0, None)]) is None
    assert overhead.worker_cpu_s([]) is None
