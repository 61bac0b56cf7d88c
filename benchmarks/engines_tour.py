"""Every engine once, natively: start time to ready, server memory, and kv-cache throughput and p99.

    .venv/bin/python benchmarks/engines_tour.py [--duration 10] [--engines postgres,redis,...]

Each engine is started by dbarena's native launcher on a free loopback port (mongodb runs on
FerretDB, elasticsearch on OpenSearch), measured with the same load (8 users, 1 process,
closed loop), and stopped by PID. Memory is the server's resident set (with its children)
after the run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from harness.engines.registry import native_of
from harness.provision.native import base
from harness.provision.native.registry import get_launcher
from harness.report.terminal import table
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

ENGINES = ("postgres", "redis", "mongodb", "elasticsearch", "influxdb", "neo4j")



def rss_mib(pid: int) -> float:
    """Resident memory of a process and its descendants."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(c) for c in children)
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--engines", default=",".join(ENGINES))
    args = parser.parse_args()
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml").active()
    load = LoadProfile(users=8, processes=1, duration=args.duration, warmup=3)
    rows = []
    for engine in args.engines.split(","):
        launcher = get_launcher(native_of(engine).name)
        server = base.start(launcher, port=base.free_port_for(launcher), progress=print)
        try:
            record = run_and_record(RunRequest(engine=engine, url=server.url, workload=workload, load=load),
                                   Progress(min_interval_s=5))
            memory = rss_mib(server.pid)
        finally:
            base.stop(server)
        ops = record.operations
        rows.append([engine, launcher.engine, f"{server.ready_after_s:.1f}", f"{memory:,.0f}",
                     f"{record.total_throughput_ops_s:,.0f}",
                     *(f"{o.latency_us.p99 / 1000:.1f}" if o.latency_us else "n/a" for o in ops.values()),
                     "yes" if record.valid else "NO"])
    print(table(rows, ["engine", "server", "ready s", "RSS MiB", "kv ops/s", "read p99 ms", "update p99 ms",
                       "insert p99 ms", "valid"]))


if __name__ == "__main__":
    main()
