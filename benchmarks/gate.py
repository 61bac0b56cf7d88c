"""Proof that the regression gate works: false-positive rate on A/A pairs, detection rate
of an injected 20% slowdown, over repeated pairs.

    .venv/bin/python benchmarks/gate.py --engine fake --pairs 20
    .venv/bin/python benchmarks/gate.py --engine postgres --pairs 20

fake: service time 1 ms ±20% (Gaussian jitter) vs 1.2 ms. postgres: primary-key reads of the
pk-read workload vs the same reads made 20% slower on the server (pg_sleep of a fifth of
the measured median, inside the statement). A pair is "flagged" when the comparison has
at least one regressed metric.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.compare.compare import compare
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest, run_benchmark
from harness.spec.loader import load_workload
from harness.spec.models import Operation, OperationKind, Workload
from harness.spec.suite import LoadProfile

LOAD = LoadProfile(users=4, processes=1, duration=5, warmup=1)


def quiet() -> Progress:
    return Progress(stream=open("/dev/null", "w"))


def fake_runs() -> tuple[Callable[[], RunRecord], Callable[[], RunRecord]]:
    spec = load_workload(ROOT / "workloads" / "kv-cache.yaml").with_preset("ycsb-b").scaled(0.1)

    def run(latency_us: int) -> RunRecord:
        url = f"fake://gate?latency_us={latency_us}&jitter=0.2"
        return run_benchmark(RunRequest(engine="fake", url=url, workload=spec, load=LOAD), quiet())

    return (lambda: run(1000)), (lambda: run(1200))


def slowed(spec: Workload, sleep_s: float) -> Workload:
    read = Operation(name="read", kind=OperationKind.NATIVE, entity="accounts", weight=1, distribution="uniform",
                     statements={"postgres": f'SELECT * FROM "accounts", pg_sleep({sleep_s:.6f}) WHERE "aid" = %(key)s'})
    return spec.model_copy(update={"operations": (read,)})


def postgres_runs() -> tuple[Callable[[], RunRecord], Callable[[], RunRecord]]:
    from harness.provision.native import base
    from harness.provision.native.registry import get_launcher

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = base.start(get_launcher("postgres"), port=port)
    spec = load_workload(ROOT / "benchmarks" / "overhead" / "pk-read.yaml").scaled(0.2)
    first = run_benchmark(RunRequest(engine="postgres", url=server.url, workload=spec, load=LOAD), quiet())
    median_s = first.operations["read"].latency_us.p50 / 1e6  # type: ignore[union-attr]
    slow = slowed(spec, 0.2 * median_s)
    print(f"postgres: median read {median_s * 1e6:.0f} µs; slowdown adds pg_sleep({0.2 * median_s * 1e6:.0f} µs)")

    def run(workload: Workload) -> RunRecord:
        return run_benchmark(RunRequest(engine="postgres", url=server.url, workload=workload, load=LOAD,
                                        skip_load=True), quiet())

    return (lambda: run(spec)), (lambda: run(slow))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["fake", "postgres"], default="fake")
    parser.add_argument("--pairs", type=int, default=20)
    args = parser.parse_args()
    baseline, slower = fake_runs() if args.engine == "fake" else postgres_runs()
    false_positives = detected = 0
    for pair in range(1, args.pairs + 1):
        a, a2, b = baseline(), baseline(), slower()
        aa = compare(a, a2, force=True)
        ab = compare(a, b, force=True)
        false_positives += bool(aa.regressions)
        detected += bool(ab.regressions)
        print(f"pair {pair:2d}: A/A {aa.verdict.value:12s} A/B(+20%) {ab.verdict.value:12s} "
              f"(A/B regressed: {', '.join(f'{c.operation}.{c.metric}' for c in ab.regressions) or '-'})", flush=True)
    print(f"\n{args.engine}: {args.pairs} pairs, 4 users, {LOAD.duration_s:.0f}s measured each")
    print(f"A/A flagged as regression:   {false_positives}/{args.pairs} = {false_positives / args.pairs:.0%} (target <= 5%)")
    print(f"+20% slowdown flagged:       {detected}/{args.pairs} = {detected / args.pairs:.0%} (target >= 95%)")


if __name__ == "__main__":
    main()
