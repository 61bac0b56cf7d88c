"""pgbench's TPC-B-like transaction, by pgbench and by dbarena, on the same server, side by side.

    make bench-tpcb            # or: .venv/bin/python benchmarks/tpcb.py --pairs 3 --duration 10

Each pair runs `pgbench -i -s SCALE` then `pgbench -n -b tpcb-like -c 8 -T DURATION` (`-M simple`,
pgbench's default; `--mode prepared` as dbarena, which prepares every statement), and
dbarena's workloads/tpcb-like.yaml at the same scale with 8 users for the same measured
duration (its own load: the same four tables), in alternating order (pgbench first in even
pairs), so drift of a shared machine hits both. Prints each pair's transactions per second,
the median ratio dbarena / pgbench (target >= 0.6), and checks after each dbarena run that
the server's balances agree: sum(abalance) = sum(bbalance) = sum(tbalance) = sum(delta).
The server is started natively on a free loopback port and stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from overhead import pgbench_tps, tool  # the same server setup and pgbench reading as the overhead benchmark

from harness.provision.native import base
from harness.provision.native.postgres.launcher import find_bin_dir
from harness.provision.native.registry import get_launcher
from harness.results.build import run_and_record
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

CLIENTS = 8
TARGET = 0.6
SUMS = ("SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(bbalance) FROM pgbench_branches), "
        "(SELECT sum(tbalance) FROM pgbench_tellers), (SELECT coalesce(sum(delta), 0) FROM pgbench_history), "
        "(SELECT count(*) FROM pgbench_history)")


def pgbench_run(pgbench: str, port: int, scale: int, duration: float, mode: str) -> float:
    """tps of `pgbench -b tpcb-like -M mode` on freshly initialised tables (without the initial connection time)."""
    subprocess.run([pgbench, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-i", "-s", str(scale), "-q",
                    "postgres"], capture_output=True, check=True)
    return pgbench_tps(pgbench, port, ["-b", "tpcb-like", "-M", mode, "-c", str(CLIENTS), "-T", str(int(duration))])


def dbarena_run(url: str, scale: int, duration: float) -> tuple[float, tuple[Any, ...]]:
    """(transactions per second, the server's sums) of dbarena's tpcb-like workload at `scale`."""
    spec = load_workload(ROOT / "workloads" / "tpcb-like.yaml")
    spec = spec.scaled(scale) if scale != 1 else spec
    load = LoadProfile(users=CLIENTS, duration_s=duration, warmup_s=1)
    record = run_and_record(RunRequest(engine="postgres", url=url, workload=spec, load=load, scale=scale),
                            Progress(min_interval_s=30))
    op = record.operations["tpcb"]
    assert op.errors == 0, f"{op.errors} failed transactions"
    with psycopg.connect(url, autocommit=True) as conn:
        sums = conn.execute(SUMS).fetchone()
    assert sums is not None and len(set(sums[:4])) == 1, f"balances disagree: {sums}"
    return record.total_throughput_ops_s, tuple(sums)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="alternating pgbench/dbarena pairs (>= 1)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--scale", type=int, default=1, help="pgbench scale factor (100,000 accounts each)")
    parser.add_argument("--mode", choices=("simple", "prepared"), default="simple",
                        help="pgbench's query protocol (-M); dbarena prepares every statement, as -M prepared")
    args = parser.parse_args()
    launcher = get_launcher("postgres")
    server = base.start(launcher, port=base.free_port_for(launcher), progress=print)
    rows: list[tuple[float, float]] = []
    try:
        pgbench = tool("pgbench", find_bin_dir() / "pgbench")
        for pair in range(max(1, args.pairs)):
            order = ("pgbench", "dbarena") if pair % 2 == 0 else ("dbarena", "pgbench")
            got: dict[str, float] = {}
            for who in order:
                if who == "pgbench":
                    got[who] = pgbench_run(pgbench, server.port, args.scale, args.duration, args.mode)
                else:
                    got[who], sums = dbarena_run(server.url, args.scale, args.duration)
                    print(f"pair {pair + 1}: dbarena balances agree: {sums[0]} in {sums[4]:,} history rows")
            rows.append((got["pgbench"], got["dbarena"]))
            print(f"pair {pair + 1} ({' then '.join(order)}): pgbench {got['pgbench']:,.0f} tps, "
                  f"dbarena {got['dbarena']:,.0f} tps, ratio {got['dbarena'] / got['pgbench']:.2f}")
    finally:
        base.stop(server)
    ratios = [ours / theirs for theirs, ours in rows]
    print(f"\n== tpcb-like, scale {args.scale}, {CLIENTS} clients, {args.duration:.0f} s per run, {len(rows)} pairs ==")
    print(f"pgbench -M {args.mode:8s}    median {statistics.median(r[0] for r in rows):>8,.0f} tps")
    print(f"dbarena tpcb-like     median {statistics.median(r[1] for r in rows):>8,.0f} tps")
    print(f"ratio dbarena / pgbench, median of pairs {statistics.median(ratios):.2f}   (target >= {TARGET})")


if __name__ == "__main__":
    main()
