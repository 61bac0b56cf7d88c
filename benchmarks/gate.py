"""Proof that the regression gate works: false-positive rate on A/A pairs, detection rate
of an injected 20% slowdown, over repeated pairs.

    .venv/bin/python benchmarks/gate.py --engine fake --pairs 20
    .venv/bin/python benchmarks/gate.py --engine postgres --pairs 20

fake: service time 1 ms ±20% (Gaussian jitter) vs 1.2 ms, closed loop. postgres: open loop at
a fixed rate (a regression gate should not run the machine at saturation, where run-to-run
noise is largest), primary-key reads that also count a generate_series of N rows on the
server; B's N is calibrated so that its median latency is 20% above A's. A pair is
"flagged" when the comparison has at least one regressed metric.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from harness.compare.compare import compare
from harness.results.build import run_and_record
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.models import Operation, OperationKind, Workload
from harness.spec.suite import LoadProfile

LOAD = LoadProfile(users=4, processes=1, duration=5, warmup=1)


def quiet() -> Progress:
    return Progress(stream=open("/dev/null", "w"))


Runs = tuple[Callable[[], RunRecord], Callable[[], RunRecord], Callable[[], None]]  # baseline, slower, stop


def fake_runs() -> Runs:
    spec = load_workload(ROOT / "workloads" / "kv-cache.yaml").with_preset("ycsb-b").scaled(0.1)

    def run(latency_us: int) -> RunRecord:
        url = f"fake://gate?latency_us={latency_us}&jitter=0.2"
        return run_and_record(RunRequest(engine="fake", url=url, workload=spec, load=LOAD), quiet())

    return (lambda: run(1000)), (lambda: run(1200)), (lambda: None)


PG_LOAD = LoadProfile(users=4, processes=1, duration=5, warmup=1, target_rate=1000, schedule="deterministic")


def with_work(spec: Workload, rows: int) -> Workload:
    """The read plus `rows` rows of server-side work (a knob for an exact slowdown)."""
    query = f'SELECT * FROM "accounts" WHERE "aid" = %(key)s AND (SELECT count(*) FROM generate_series(1, {rows})) > 0'
    read = Operation(name="read", kind=OperationKind.NATIVE, entity="accounts", weight=1, distribution="uniform",
                     statements={"postgres": query})
    return spec.model_copy(update={"operations": (read,)})


def postgres_runs() -> Runs:
    from harness.provision.native import base
    from harness.provision.native.registry import get_launcher

    launcher = get_launcher("postgres")
    server = base.start(launcher, port=base.free_port_for(launcher))
    try:
        spec = load_workload(ROOT / "benchmarks" / "overhead" / "pk-read.yaml").scaled(0.2)
        run_and_record(RunRequest(engine="postgres", url=server.url, workload=spec, load=PG_LOAD), quiet())  # loads

        def run(workload: Workload) -> RunRecord:
            return run_and_record(RunRequest(engine="postgres", url=server.url, workload=workload, load=PG_LOAD,
                                            skip_load=True), quiet())

        def median(workload: Workload) -> float:
            return float(run(workload).operations["read"].latency_us.p50)  # type: ignore[union-attr]

        baseline = with_work(spec, 1)
        rows, effect = 1000, 0.0
        for _ in range(4):  # secant steps towards +20% on the median; each probe is measured beside a baseline
            base_us = (median(baseline) + median(baseline)) / 2
            effect = median(with_work(spec, rows)) / base_us - 1
            if abs(effect - 0.2) < 0.03:
                break
            rows = max(2, round(rows * 0.2 / max(effect, 0.01)))
        print(f"postgres: baseline median {base_us:.0f} µs; B counts {rows} rows more ({effect:+.0%} median when calibrated)")
    except BaseException:
        base.stop(server)
        raise
    return (lambda: run(baseline)), (lambda: run(with_work(spec, rows))), (lambda: base.stop(server))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["fake", "postgres"], default="fake")
    parser.add_argument("--pairs", type=int, default=20)
    args = parser.parse_args()
    baseline, slower, stop = fake_runs() if args.engine == "fake" else postgres_runs()
    try:
        false_positives, detected = run_pairs(args.pairs, baseline, slower)
    finally:
        stop()  # the PostgreSQL server this script started, by PID
    print(f"\n{args.engine}: {args.pairs} pairs, 4 users, {LOAD.duration_s:.0f}s measured each")
    print(f"A/A flagged as regression:   {false_positives}/{args.pairs} = {false_positives / args.pairs:.0%} (target <= 5%)")
    print(f"+20% slowdown flagged:       {detected}/{args.pairs} = {detected / args.pairs:.0%} (target >= 95%)")


def run_pairs(pairs: int, baseline: Callable[[], RunRecord], slower: Callable[[], RunRecord]) -> tuple[int, int]:
    false_positives = detected = 0
    for pair in range(1, pairs + 1):
        a, a2, b = baseline(), baseline(), slower()
        aa = compare(a, a2, force=True)
        ab = compare(a, b, force=True)
        false_positives += bool(aa.regressions)
        detected += bool(ab.regressions)
        print(f"pair {pair:2d}: A/A {aa.verdict.value:12s} A/B(+20%) {ab.verdict.value:12s} "
              f"(A/B regressed: {', '.join(f'{c.operation}.{c.metric}' for c in ab.regressions) or '-'})", flush=True)
    return false_positives, detected


if __name__ == "__main__":
    main()
