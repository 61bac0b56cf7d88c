"""Harness overhead, side by side with the native load tools in one run (ratios, not absolutes).

    make bench-overhead            # or: .venv/bin/python benchmarks/overhead.py --duration 10

1. PostgreSQL: `pgbench -S` (its own table) and a pgbench script doing the harness's exact
   primary-key read on the harness's table, then the harness's read — all with 8 clients.
2. Redis: `redis-benchmark -t get -c 8` on keys it wrote, then the harness's GET of the same
   keys with 8 users.
3. Recording cost per operation: timer + histogram + bookkeeping, in a tight loop.

Engines are started natively on free loopback ports and stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from harness.provision.native import base
from harness.provision.native.postgres.launcher import find_bin_dir
from harness.provision.native.registry import get_launcher
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.recorder import Recorder
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

CLIENTS = 8



def tool(name: str, *candidates: Path) -> str:
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        sys.exit(f"overhead: `{name}` not found (apt-get install postgresql-contrib redis-tools)")
    return found


def harness_rate(engine: str, url: str, workload: str, duration: float, processes: int, skip_load: bool) -> float:
    spec = load_workload(ROOT / "benchmarks" / "overhead" / f"{workload}.yaml")
    load = LoadProfile(users=CLIENTS, processes=processes, duration=duration, warmup=2)
    record = run_and_record(RunRequest(engine=engine, url=url, workload=spec, load=load, skip_load=skip_load),
                           Progress(min_interval_s=5))
    assert all(op.errors == 0 for op in record.operations.values()), record.operations
    return record.total_throughput_ops_s


def pgbench_tps(pgbench: str, port: int, args: list[str]) -> float:
    out = subprocess.run([pgbench, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-n", *args, "postgres"],
                         capture_output=True, text=True, check=True).stdout
    found = re.search(r"tps = ([\d.]+)", out)
    assert found, out
    return float(found.group(1))


def postgres_figures(duration: float, processes: list[int]) -> dict[str, float]:
    launcher = get_launcher("postgres")
    server = base.start(launcher, port=base.free_port_for(launcher), progress=print)
    try:
        pgbench = tool("pgbench", find_bin_dir() / "pgbench")
        subprocess.run([pgbench, "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", "-i", "-s", "1", "-q",
                        "postgres"], capture_output=True, check=True)
        builtin = pgbench_tps(pgbench, server.port, ["-S", "-M", "prepared", "-c", str(CLIENTS), "-j", "2",
                                                     "-T", str(int(duration))])
        harness = {f"harness read, {p} process(es)": harness_rate("postgres", server.url, "pk-read", duration, p,
                                                                   skip_load=n > 0)
                   for n, p in enumerate(processes)}
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write('\\set aid random(1, 100000)\nSELECT * FROM "accounts" WHERE "aid" = :aid;\n')
        same_table = pgbench_tps(pgbench, server.port, ["-f", script.name, "-M", "prepared", "-c", str(CLIENTS),
                                                        "-j", "2", "-T", str(int(duration))])
    finally:
        base.stop(server)
    return {"pgbench -S": builtin, "pgbench, same query and table": same_table, **harness}


def redis_figures(duration: float, processes: list[int]) -> dict[str, float]:
    launcher = get_launcher("redis")
    server = base.start(launcher, port=base.free_port_for(launcher), progress=print)
    try:
        bench = tool("redis-benchmark")
        common = [bench, "-h", "127.0.0.1", "-p", str(server.port), "-r", "100000", "-q"]
        subprocess.run([*common, "-t", "set", "-n", "400000", "-c", "16"], capture_output=True, check=True)
        requests = str(int(60_000 * duration))
        out = subprocess.run([*common, "-t", "get", "-n", requests, "-c", str(CLIENTS)],
                             capture_output=True, text=True, check=True).stdout
        found = re.search(r"GET: ([\d.]+) requests per second", out.replace("\r", "\n"))
        assert found, out
        native = float(found.group(1))
        harness = {f"harness GET, {p} process(es)": harness_rate("redis", server.url, "redis-get", duration, p,
                                                                  skip_load=True) for p in processes}
    finally:
        base.stop(server)
    return {"redis-benchmark -t get": native, **harness}


def recording_cost_us(n: int = 300_000) -> dict[str, float]:
    """Per-operation cost of the measurement path, in µs: closed loop and open loop."""
    out = {}
    clock = time.perf_counter_ns
    for label, open_loop in (("closed loop", False), ("open loop", True)):
        recorder = Recorder(["op"], t0_ns=clock(), warmup_s=0, duration_s=3600, open_loop=open_loop)
        stats = recorder.stats[0]
        jitter = [random.randint(0, 5000) for _ in range(1024)]
        began = clock()
        for i in range(n):
            start = clock()
            end = clock() + jitter[i & 1023]
            recorder.record(stats, start - 1000 if open_loop else 0, start, end)
        spent = clock() - began
        began = clock()
        for i in range(n):  # the loop's own cost, subtracted: what remains is timer + recording
            _ = jitter[i & 1023]
        loop = clock() - began
        out[label] = (spent - loop) / n / 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--processes", default="1,2", help="harness worker process counts to try, e.g. 1,2")
    args = parser.parse_args()
    processes = [int(p) for p in args.processes.split(",")]
    pg = postgres_figures(args.duration, processes)
    rd = redis_figures(args.duration, processes)
    cost = recording_cost_us()
    print(f"\n== harness overhead (8 clients, {args.duration:.0f} s each; natives and harness in one run) ==")
    for name, value in {**pg, **rd}.items():
        print(f"{name:40s} {value:>10,.0f} ops/s")
    for p in processes:
        read, get = pg[f"harness read, {p} process(es)"], rd[f"harness GET, {p} process(es)"]
        print(f"ratio harness / pgbench -S, {p} proc        {read / pg['pgbench -S']:>10.2f}   (target >= 0.60)")
        print(f"ratio harness / pgbench same query, {p} proc {read / pg['pgbench, same query and table']:>9.2f}")
        print(f"ratio harness / redis-benchmark, {p} proc   {get / rd['redis-benchmark -t get']:>10.2f}   (target >= 0.22)")
    for label, value in cost.items():
        print(f"{'recording cost per op, ' + label:40s} {value:>10.2f} µs   (target <= 5)")


if __name__ == "__main__":
    main()
