"""Every workload of the library on every engine that can serve it: who comes out ahead, by how much.

    .venv/bin/python benchmarks/library_tour.py [--duration 8] [--scale 0.2]

Same load for all (8 users, 1 process, closed loop). Engines are started natively one at a
time on free loopback ports (mongodb on FerretDB, elasticsearch on OpenSearch) and stopped
by PID. Ranked per workload by total throughput, with the slowest operation's p99 beside it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from harness.engines.matrix import MATRIX_ENGINES, support
from harness.engines.registry import native_of
from harness.provision.native import base
from harness.provision.native.registry import get_launcher
from harness.report.terminal import table
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--engines", default=",".join(MATRIX_ENGINES))
    args = parser.parse_args()
    workloads = [load_workload(p).active().scaled(args.scale) for p in sorted((ROOT / "workloads").glob("*.yaml"))]
    load = LoadProfile(users=8, processes=1, duration=args.duration, warmup=3)
    results: dict[str, list[tuple[str, float, int]]] = {w.name: [] for w in workloads}
    for engine in args.engines.split(","):
        runnable = [w for w in workloads if support(w, engine)[0]]
        if not runnable:
            continue
        launcher = get_launcher(native_of(engine).name)
        server = base.start(launcher, port=base.free_port_for(launcher), progress=print)
        try:
            for workload in runnable:
                record = run_and_record(RunRequest(engine=engine, url=server.url, workload=workload, load=load,
                                                  scale=args.scale), Progress(min_interval_s=5))
                worst = max((op.latency_us.p99 for op in record.operations.values() if op.latency_us), default=0)
                results[workload.name].append((engine, record.total_throughput_ops_s, worst))
                print(f"{workload.name} on {engine}: {record.total_throughput_ops_s:,.0f} ops/s", flush=True)
        finally:
            base.stop(server)
    rows = []
    for workload_name, entries in results.items():
        entries.sort(key=lambda e: -e[1])
        best = entries[0][1] if entries else 0
        for rank, (engine, ops, p99) in enumerate(entries, start=1):
            rows.append([workload_name if rank == 1 else "", str(rank), engine, f"{ops:,.0f}",
                         f"{ops / best:.2f}" if best else "-", f"{p99 / 1000:.1f}"])
    print(table(rows, ["workload", "rank", "engine", "ops/s", "vs best", "worst p99 ms"]))


if __name__ == "__main__":
    main()
