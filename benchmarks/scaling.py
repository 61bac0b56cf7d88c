"""Scaling across workers: ops/s with 2 worker processes vs 1, same users per worker (target >= 1.7).

    .venv/bin/python benchmarks/scaling.py                  # 3 pairs, 8 users per worker, 1 ms service time
    .venv/bin/python benchmarks/scaling.py --pairs 5 --users-per-worker 8 --latency-us 1000 --duration 5

The fake engine (in memory, `fake://scale?latency_us=N`: every call waits N µs, a cooperative
gevent sleep) in closed loop, kv-cache with preset ycsb-c (reads only) at a small scale. With
enough simulated latency the users spend their time waiting, not computing, so a second
worker process should double the throughput unless the harness (or the machine) is the limit.

Runs alternate in pairs, the order flipped every other pair (1-2, 2-1, 1-2, ...) so slow drift
of a shared machine hits both sides alike; the figure is the median of the per-pair ratios.
Each run also prints what explains a shortfall: the share of the ideal rate reached
(users / service time), the median latency (a closed-loop user's whole call: the simulated
wait plus its scheduling delay) and the machine's CPU busy share during the run, from
/proc/stat (other processes included: on a shared machine that is what the workers get).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from harness.results.build import run_and_record
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

TARGET = 1.7


@dataclass(frozen=True)
class Figure:
    """One run: ops/s and what explains it."""

    workers: int
    users: int
    ops_s: float
    p50_us: float
    cpu_busy: float  # share of all cores busy during the run (every process on the machine)

    def line(self, latency_us: int) -> str:
        ideal = self.users * 1e6 / latency_us
        return (f"{self.workers} worker(s) x {self.users // self.workers} users: {self.ops_s:>9,.0f} ops/s  "
                f"({self.ops_s / ideal:4.0%} of the ideal {ideal:,.0f})  p50 {self.p50_us / 1000:5.2f} ms  "
                f"machine CPU busy {self.cpu_busy:4.0%}")


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def run_once(workers: int, args: argparse.Namespace) -> Figure:
    spec = load_workload(ROOT / "workloads" / "kv-cache.yaml").with_preset("ycsb-c").scaled(args.scale)
    users = workers * args.users_per_worker
    load = LoadProfile(users=users, processes=workers, duration_s=args.duration, warmup_s=args.warmup)
    request = RunRequest(engine="fake", url=f"fake://scale?latency_us={args.latency_us}", workload=spec, load=load,
                         preset="ycsb-c", scale=args.scale)
    with open(os.devnull, "w") as quiet:
        busy0, total0 = cpu_times()
        record = run_and_record(request, Progress(stream=quiet))
        busy1, total1 = cpu_times()
    check(record, workers)
    read = record.operations["read"]
    p50 = read.latency_us.p50 if read.latency_us else 0.0
    return Figure(workers=workers, users=users, ops_s=record.total_throughput_ops_s, p50_us=p50,
                  cpu_busy=(busy1 - busy0) / max(1, total1 - total0))


def check(record: RunRecord, workers: int) -> None:
    """A figure from a broken run is no figure."""
    if not record.complete or record.load.processes != workers:
        raise SystemExit(f"scaling: run {record.run_id} incomplete or wrong processes: {record.invalid_reasons}")
    errors = sum(op.errors for op in record.operations.values())
    if errors:
        raise SystemExit(f"scaling: run {record.run_id} had {errors} errors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="pairs of runs (1 worker, 2 workers), at least 3")
    parser.add_argument("--users-per-worker", type=int, default=8)
    parser.add_argument("--latency-us", type=int, default=1000, help="the fake engine's service time per call")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--scale", type=float, default=0.1, help="kv-cache scale (0.1: 1,000 records)")
    args = parser.parse_args()
    if args.pairs < 3:
        parser.error("--pairs: at least 3 (the figure is a median of pairs)")
    ratios = []
    for pair in range(args.pairs):
        order = (1, 2) if pair % 2 == 0 else (2, 1)
        figures = {workers: run_once(workers, args) for workers in order}
        ratio = figures[2].ops_s / figures[1].ops_s
        ratios.append(ratio)
        print(f"pair {pair + 1} ({order[0]} then {order[1]}):")
        for workers in (1, 2):
            print(f"  {figures[workers].line(args.latency_us)}")
        print(f"  ratio 2/1: {ratio:.2f}", flush=True)
        time.sleep(0.5)
    median = statistics.median(ratios)
    verdict = "met" if median >= TARGET else "NOT met"
    print(f"\n== scaling, fake engine latency {args.latency_us} µs, closed loop, kv-cache ycsb-c, "
          f"{args.users_per_worker} users per worker, {args.duration:.0f} s per run ==")
    print(f"ratios 2 workers / 1 worker: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"median ratio {median:.2f}   (target >= {TARGET}: {verdict})")


if __name__ == "__main__":
    main()
