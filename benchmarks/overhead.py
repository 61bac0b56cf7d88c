"""Harness overhead, side by side with native tools and plain client loops in one run (ratios, not absolutes).

    make bench-overhead            # or: .venv/bin/python benchmarks/overhead.py --engines postgres,redis --pairs 3

Targets (issue 13), each the MEDIAN ratio harness / native over alternating rounds on the same server, table
and keys, 8 clients; the harness at each of --processes, the best process count counting:
- PostgreSQL primary-key read (benchmarks/overhead/pk-read.yaml) >= 0.85 of `pgbench -S` as the issue ran it
  (pgbench's default query protocol, simple: the server parses and plans each query). For information, the
  stricter comparisons: `pgbench -S -M prepared` (the harness's protocol, so the server's work per call is
  the same and the ratio is the clients' cost alone), a pgbench script running the harness's exact query on
  the harness's table, and a plain loop of the harness's client stack, gevent + psycopg's libpq wrapper,
  making the same call (the floor of that stack);
- Redis GET of redis-benchmark's keys (redis-get.yaml) >= 0.45 of `redis-benchmark -t get`, and the read as
  the adapter stores records (kv-read.yaml: HGETALL of the record's hash) >= 0.45 of redis-benchmark's
  HGETALL of byte-identical copies of those hashes (`dbarena:usertable:__rand_int__`, 12-digit copies: the
  harness's keys `dbarena:usertable:<n>` are not zero-padded, so redis-benchmark cannot address them);
- MongoDB (FerretDB), OpenSearch, Neo4j, InfluxDB read by key (kv-read.yaml) >= 0.80 of a plain loop of the
  same client library making the same call, 8 gevent greenlets per process (benchmarks/overhead_loop.py);
- recording cost per operation (timer + histogram + the loop's bookkeeping) <= 3 µs.
A round runs the native side, then the harness at each process count. Each figure comes with its client CPU
in µs per operation: the harness's worker processes over the measurement window (their CPU share x window,
as the workers report it), the plain loop's process over the same window, pgbench's / redis-benchmark's
whole run (getrusage of children). Engines start natively on free loopback ports and are stopped by PID.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.engines.registry import ENGINES as ENGINE_TABLE
from harness.errors import UserError
from harness.provision.native import base
from harness.provision.native.ferretdb.launcher import POSTGRES_URL_ENV
from harness.provision.native.postgres.launcher import find_bin_dir
from harness.provision.native.registry import get_launcher
from harness.results.build import run_and_record
from harness.runner import run as run_module
from harness.runner.progress import Progress
from harness.runner.protocol import WorkerResult
from harness.runner.recorder import LAG_LIMIT_NS, Recorder
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ROOT / "benchmarks" / "overhead"
CLIENTS = 8
WARMUP_S = 1.0
YIELD_EVERY = 64  # harness.runner.worker.YIELD_EVERY (importing the worker would patch this process with gevent)
PLAIN_TARGET = 0.80
RECORDING_TARGET_US = 3.0
ENGINES = ("postgres", "redis", "mongodb", "opensearch", "neo4j", "influxdb")
LAUNCHERS = {"mongodb": "ferretdb"}  # engine -> its native launcher, when the names differ


# ---- pure helpers (tests/benchmarks/test_overhead.py) --------------------------------------


@dataclass(frozen=True)
class Figure:
    """One measurement: operations per second, and the client's CPU µs per operation when known."""

    ops_s: float
    cpu_us_op: float | None = None

    def __str__(self) -> str:
        cpu = f" ({self.cpu_us_op:,.1f} µs CPU/op)" if self.cpu_us_op is not None else ""
        return f"{self.ops_s:>9,.0f} ops/s{cpu}"


def cpu_us_per_op(cpu_s: float, operations: int) -> float | None:
    """CPU seconds spent / operations, in µs; None when nothing was done."""
    return cpu_s * 1e6 / operations if operations > 0 else None


def median_ratio(natives: Sequence[Figure], harness: Sequence[Figure]) -> float:
    """The median of the per-round ratios harness / native (round i pairs natives[i] with harness[i])."""
    if len(natives) != len(harness) or not natives:
        raise ValueError(f"{len(natives)} native and {len(harness)} harness figures: need equal, non-zero counts")
    return statistics.median(h.ops_s / n.ops_s for n, h in zip(natives, harness, strict=True))


def parse_pgbench(text: str) -> tuple[float, int]:
    """pgbench's report -> (tps without initial connection time, transactions processed)."""
    tps = re.search(r"^tps = ([\d.]+)", text, re.MULTILINE)
    done = re.search(r"number of transactions actually processed: (\d+)", text)
    if tps is None or done is None:
        raise ValueError(f"not a pgbench report: {text[-300:]!r}")
    return float(tps.group(1)), int(done.group(1))


def parse_redis_benchmark(text: str) -> float:
    """redis-benchmark -q's last "<test>: N requests per second" (progress lines end in carriage returns)."""
    found = re.findall(r"([\d.]+) requests per second", text.replace("\r", "\n"))
    if not found:
        raise ValueError(f"not a redis-benchmark -q report: {text[-300:]!r}")
    return float(found[-1])


def worker_cpu_s(results: Sequence[WorkerResult]) -> float | None:
    """The harness workers' CPU seconds over their measurement windows (CPU share x window), if all report it."""
    if not results or any(r.cpu_fraction is None for r in results):
        return None
    return sum((r.cpu_fraction or 0.0) * r.measured_s for r in results)


@dataclass
class Comparison:
    """Rounds of native and harness figures per harness process count; the target is on the best median.

    `natives[p][i]` is the native figure round i pairs with `harness[p][i]`: one list shared by every process
    count when the native tool does not change with it (pgbench, redis-benchmark), a list per count when it
    does (the plain loop runs in as many processes as the harness run it pairs with).
    """

    name: str
    native: str
    target: float | None  # None: for information
    natives: dict[int, list[Figure]] = field(default_factory=dict)
    harness: dict[int, list[Figure]] = field(default_factory=dict)

    def medians(self) -> dict[int, float]:
        return {p: median_ratio(self.natives[p], figures) for p, figures in self.harness.items()}

    def lines(self) -> list[str]:
        out = [f"-- {self.name} vs {self.native}"]
        for p, figures in self.harness.items():
            for i, (native, harness) in enumerate(zip(self.natives[p], figures, strict=True)):
                out.append(f"   {p}p round {i + 1}: native {native}   harness {harness}   "
                           f"ratio {harness.ops_s / native.ops_s:.2f}")
        medians = self.medians()
        out.append("   median ratio: " + ", ".join(f"{p} process(es) {r:.2f}" for p, r in medians.items()))
        best = max(medians.values())
        verdict = ("(for information)" if self.target is None else
                   f"target >= {self.target:.2f}: {'MET' if best >= self.target else 'NOT MET'}")
        out.append(f"   best of {', '.join(map(str, medians))} processes: {best:.2f}   {verdict}")
        return out


# ---- measurements -----------------------------------------------------------------------------

_WORKERS: list[WorkerResult] = []


def capture_worker_results() -> None:
    """Wrap the run's `_measurement` to keep the workers' results (their CPU share), which the record drops."""
    original = run_module._measurement

    def capturing(request: Any, outcome: Any, **kwargs: Any) -> Any:
        _WORKERS[:] = list(outcome.results.results) if outcome.results is not None else []
        return original(request, outcome, **kwargs)

    run_module._measurement = capturing  # type: ignore[assignment]


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tool(name: str, *candidates: Path) -> str:
    """The native tool's path; UserError (one line: what to install) when it is missing."""
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise UserError(f"`{name}` not found (Debian: apt-get install postgresql-contrib redis-tools)")
    return found


def harness_figure(engine: str, url: str, workload: str, duration: float, processes: int,
                   skip_load: bool = True) -> Figure:
    """One harness run, closed loop, 8 users over `processes` worker processes."""
    spec = load_workload(WORKLOADS / f"{workload}.yaml")
    load = LoadProfile.model_validate({"users": CLIENTS, "processes": processes, "duration": duration,
                                       "warmup": WARMUP_S})
    for attempt in (1, 2):  # once more after a failure: a worker lost on a busy machine is not the figure
        _WORKERS.clear()
        record = run_and_record(RunRequest(engine=engine, url=url, workload=spec, load=load, skip_load=skip_load),
                                Progress(stream=io.StringIO()))  # quiet: the rounds print their figures
        failed = {name: (op.errors, op.timeouts) for name, op in record.operations.items()
                  if op.errors or op.timeouts}
        if not failed and record.complete:
            break
        problem = f"the harness run on {engine} failed: {failed or record.failure}"
        if attempt == 2:
            sys.exit(f"overhead: {problem} {record.notes}")
        print(f"   ({problem}; once more)", flush=True)
    for reason in record.invalid_reasons:
        print(f"   (harness run marked invalid: {reason})")
    done = sum(op.count for op in record.operations.values())
    cpu = worker_cpu_s(_WORKERS)
    return Figure(record.total_throughput_ops_s, cpu_us_per_op(cpu, done) if cpu is not None else None)


def timed_child(command: list[str]) -> tuple[str, float]:
    """Run a native tool; its stdout and the CPU seconds it used (getrusage of children)."""
    before = children_cpu_s()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"overhead: {Path(command[0]).name} failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return done.stdout, children_cpu_s() - before


Side = tuple[Comparison, Callable[[int], Figure], Callable[[int], Figure], bool]


def rounds(sides: Sequence[Side], pairs: int, processes: Sequence[int]) -> None:
    """`pairs` rounds; per comparison, a round runs the native side then the harness at each process count
    (`per_process`: the native side before each harness run, at that process count)."""
    for i in range(pairs):
        for comparison, native, harness, per_process in sides:
            shared = None if per_process else native(0)
            for p in processes:
                natives = comparison.natives.setdefault(p, [])
                natives.append(native(p) if shared is None else shared)
                comparison.harness.setdefault(p, []).append(harness(p))
                print(f"   {comparison.name}, {p}p round {i + 1}: native {natives[-1]}   "
                      f"harness {comparison.harness[p][-1]}", flush=True)


@contextmanager
def native_server(engine: str) -> Iterator[base.NativeServer]:
    launcher = get_launcher(LAUNCHERS.get(engine, engine))
    server = base.start(launcher, port=base.free_port_for(launcher), progress=lambda line: None)
    try:
        yield server
    finally:
        base.stop(server)


def postgres(duration: float, pairs: int, processes: Sequence[int]) -> list[Comparison]:
    pgbench = tool("pgbench", find_bin_dir() / "pgbench")
    with native_server("postgres") as server:
        conn = [pgbench, "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres"]
        timed_child([*conn, "-i", "-s", "1", "-q", "postgres"])
        harness_figure("postgres", server.url, "pk-read", 1.0, 1, skip_load=False)  # loads the table; not counted
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write('\\set aid random(1, 100000)\nSELECT * FROM "accounts" WHERE "aid" = :aid;\n')
        run = [*conn, "-n", "-c", str(CLIENTS), "-j", "2", "-T", str(max(1, round(duration)))]

        def bench(*args: str) -> Figure:
            out, cpu = timed_child([*run, *args, "postgres"])
            tps, done = parse_pgbench(out)
            return Figure(tps, cpu_us_per_op(cpu, done))

        def harness(p: int) -> Figure:
            return harness_figure("postgres", server.url, "pk-read", duration, p)

        # the target, as issue 13 names it: `pgbench -S`, pgbench's default (simple) query protocol
        builtin = Comparison("PostgreSQL primary-key read", "pgbench -S (its default, simple protocol)", 0.85)
        # for information, stricter: pgbench with the harness's protocol (statements prepared once per connection,
        # so the server parses and plans nothing per call and the ratio is the clients' cost alone)
        prepared = Comparison("PostgreSQL primary-key read", "pgbench -S -M prepared", None)
        same = Comparison("PostgreSQL primary-key read", "pgbench -M prepared, the harness's query on its table", None)
        # the floor of the client stack the harness uses (gevent + psycopg's libpq wrapper), for information
        plain = Comparison("PostgreSQL primary-key read", "a plain gevent + libpq loop of the same query", None)
        prepared_figures: list[Figure] = []
        same_figures: list[Figure] = []

        def natives(_: int) -> Figure:  # each round: pgbench -S, -S -M prepared, the same-query script
            figure = bench("-S")
            prepared_figures.append(bench("-S", "-M", "prepared"))
            same_figures.append(bench("-M", "prepared", "-f", script.name))
            return figure

        rounds([(builtin, natives, harness, False),
                (plain, lambda p: plain_loop("postgres", server.url, duration, p, "pk-read"), harness, True)],
               pairs, processes)
        Path(script.name).unlink()
        for info, figures in ((prepared, prepared_figures), (same, same_figures)):
            info.harness = builtin.harness  # the same harness runs, against the same rounds' other pgbench figures
            info.natives = {p: figures for p in processes}
    return [builtin, prepared, same, plain]


def copy_hashes(url: str, count: int) -> None:
    """Copy the harness's record hashes `dbarena:usertable:<n>` to `dbarena:usertable:<n, 12 digits>`."""
    import redis

    client = redis.Redis.from_url(url)
    for start in range(0, count, 1000):
        keys = range(start, min(count, start + 1000))
        dumps = client.pipeline(transaction=False)
        for n in keys:
            dumps.dump(f"dbarena:usertable:{n}")
        restores = client.pipeline(transaction=False)
        for n, data in zip(keys, dumps.execute(), strict=True):
            if data is None:
                sys.exit(f"overhead: the harness did not store dbarena:usertable:{n} (the Redis key layout changed?)")
            restores.restore(f"dbarena:usertable:{n:012d}", 0, data, replace=True)
        restores.execute()
    last = count - 1
    if client.hgetall(f"dbarena:usertable:{last:012d}") != client.hgetall(f"dbarena:usertable:{last}"):
        sys.exit("overhead: the copies of the record hashes differ from the harness's")
    client.close()


def redis_figures(duration: float, pairs: int, processes: Sequence[int]) -> list[Comparison]:
    bench = tool("redis-benchmark")
    with native_server("redis") as server:
        harness_figure("redis", server.url, "kv-read", 1.0, 1, skip_load=False)  # loads the hashes; not counted
        common = [bench, "-h", "127.0.0.1", "-p", str(server.port), "-c", str(CLIENTS), "-q"]
        timed_child([*common, "-r", "100000", "-t", "set", "-n", "400000"])
        count = load_workload(WORKLOADS / "kv-read.yaml").dataset.entities[0].count
        copy_hashes(server.url, count)
        rate = {"get": 60_000.0, "hgetall": 40_000.0}  # requests per run follow the last rate measured

        def native(name: str, *command: str) -> Callable[[int], Figure]:
            def measure(_: int) -> Figure:
                requests = max(10_000, int(rate[name] * duration))
                out, cpu = timed_child([*common, "-n", str(requests), *command])
                rate[name] = parse_redis_benchmark(out)
                return Figure(rate[name], cpu_us_per_op(cpu, requests))
            return measure

        get = Comparison("Redis GET", "redis-benchmark -t get", 0.45)
        kv = Comparison("Redis read of the adapter's record hash", "redis-benchmark HGETALL of its copies", 0.45)
        rounds([(get, native("get", "-r", "100000", "-t", "get"),
                 lambda p: harness_figure("redis", server.url, "redis-get", duration, p), False),
                (kv, native("hgetall", "-r", str(count), "HGETALL", "dbarena:usertable:__rand_int__"),
                 lambda p: harness_figure("redis", server.url, "kv-read", duration, p), False)], pairs, processes)
    return [get, kv]


def plain_loop(engine: str, url: str, duration: float, processes: int, workload: str = "kv-read") -> Figure:
    """benchmarks/overhead_loop.py in `processes` processes, 8 greenlets in all, started together."""
    users = [CLIENTS // processes + (1 if i < CLIENTS % processes else 0) for i in range(processes)]
    procs = [subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "overhead_loop.py"), engine, url,
                               str(WORKLOADS / f"{workload}.yaml"), "read", str(n), str(WARMUP_S), str(duration)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for n in users]
    for proc in procs:  # each says "ready" once its clients are connected
        if proc.stdout is None or proc.stdout.readline().strip() != "ready":
            sys.exit(f"overhead: the plain loop on {engine} did not start (exit {proc.wait()})")
    start = time.time() + 0.2
    for proc in procs:
        if proc.stdin is not None:
            proc.stdin.write(f"{start}\n")
            proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=duration + 120)
        if proc.returncode != 0:
            sys.exit(f"overhead: the plain loop on {engine} failed (exit {proc.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    calls = sum(r["calls"] for r in results)
    return Figure(calls / duration, cpu_us_per_op(sum(r["cpu_s"] for r in results), calls))


@contextmanager
def plain_server(engine: str) -> Iterator[base.NativeServer]:
    """The engine's native server; FerretDB on a PostgreSQL backend of its own (DESIGN.md: on SQLite it uses no
    index and a read by key scans the collection)."""
    if engine != "mongodb":
        with native_server(engine) as server:
            yield server
        return
    with native_server("postgres") as backend:
        previous = os.environ.get(POSTGRES_URL_ENV)
        os.environ[POSTGRES_URL_ENV] = backend.url
        try:
            with native_server(engine) as server:
                yield server
        finally:
            if previous is None:
                os.environ.pop(POSTGRES_URL_ENV, None)
            else:
                os.environ[POSTGRES_URL_ENV] = previous


def plain_figures(engine: str, duration: float, pairs: int, processes: Sequence[int]) -> list[Comparison]:
    with plain_server(engine) as server:
        # loads the records, and runs for the engine's own warm-up (a JIT's ramp: Neo4j), at least one measurement's
        # length, so no side of round 1 meets a colder server than the others; not counted
        harness_figure(engine, server.url, "kv-read", max(duration, ENGINE_TABLE[engine].warmup_s or 0.0), 1,
                       skip_load=False)
        comparison = Comparison(f"{engine} read by key", "a plain loop of the same client call", PLAIN_TARGET)
        rounds([(comparison, lambda p: plain_loop(engine, server.url, duration, p),
                 lambda p: harness_figure(engine, server.url, "kv-read", duration, p), True)], pairs, processes)
    return [comparison]


# ---- recording cost ---------------------------------------------------------------------------


def recording_cost_us(n: int = 300_000) -> dict[str, float]:
    """Per-operation cost of what the worker's loop does around each call, in µs, closed and open loop:
    the count and yield check, the timer reads, the in-flight bookkeeping, Recorder.record (histograms,
    per-second rows, outcome counts) and the lag check (harness/runner/worker.py `_run`)."""
    out = {}
    clock = time.perf_counter_ns
    for label, open_loop in (("closed loop", False), ("open loop", True)):
        recorder = Recorder(["op"], t0_ns=clock(), warmup_s=0, duration_s=3600, open_loop=open_loop)
        stats = recorder.stats
        jitter = [random.randint(0, 5000) for _ in range(1024)]
        call: tuple[int, int, int] | None = None
        began = clock()
        for i in range(1, n + 1):
            if i % YIELD_EVERY == 0:
                pass
            intended = clock() - 1000 if open_loop else 0
            start = clock()
            call = (0, intended, start)
            call = None
            end = clock() + jitter[i & 1023]
            recorder.record(stats[0], intended, start, end, 1)
            if intended and start - intended > LAG_LIMIT_NS:
                recorder.late(0, end - start)
        spent = clock() - began
        began = clock()
        for i in range(n):  # the loop's own cost, subtracted: what remains is timer + recording + bookkeeping
            _ = jitter[i & 1023]
        loop = clock() - began
        out[label] = (spent - loop) / n / 1000
        del call
    return out


# ---- main -------------------------------------------------------------------------------------


def measure(engine: str, duration: float, pairs: int, processes: Sequence[int]) -> list[Comparison] | str:
    """The engine's comparisons, or why it could not be measured here (a missing tool or server: one line)."""
    print(f"== {engine}", flush=True)
    began = time.time()
    try:
        if engine == "postgres":
            found = postgres(duration, pairs, processes)
        elif engine == "redis":
            found = redis_figures(duration, pairs, processes)
        else:
            found = plain_figures(engine, duration, pairs, processes)
    except UserError as exc:  # EngineUnavailable among them
        print(f"   {engine} not measured: {exc}", flush=True)
        return str(exc)
    print(f"   ({engine}: {time.time() - began:.0f} s with the server's start and the load)", flush=True)
    return found


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0,
                        help="seconds per measurement (after a 1 s warm-up); the default keeps all engines "
                             "under ~12 minutes")
    parser.add_argument("--pairs", type=int, default=3, help="alternating rounds per comparison (median of them)")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"a subset of {','.join(ENGINES)}")
    parser.add_argument("--processes", default="1,2", help="harness worker process counts, e.g. 1,2")
    args = parser.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(args.engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    args.processes = [int(p) for p in args.processes.split(",")]
    if args.pairs < 1 or args.duration <= 0 or min(args.processes) < 1:
        parser.error("--pairs, --duration and --processes must be positive")
    return args


def main() -> None:
    args = parse_args()
    capture_worker_results()
    began = time.time()
    measured = {engine: measure(engine, args.duration, args.pairs, args.processes) for engine in args.engines}
    cost = recording_cost_us()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n== harness overhead: {CLIENTS} clients, {args.duration:g} s per measurement, {args.pairs} rounds, "
          f"{(time.time() - began) / 60:.1f} min, load average {load} ==")
    for engine, found in measured.items():
        if isinstance(found, str):
            print(f"-- {engine}: NOT MEASURED ({found}); leave it out with --engines")
            continue
        for comparison in found:
            print("\n".join(comparison.lines()))
    for label, value in cost.items():
        verdict = "MET" if value <= RECORDING_TARGET_US else "NOT MET"
        print(f"recording cost per op, {label}: {value:.2f} µs   (target <= {RECORDING_TARGET_US:g}: {verdict})")


if __name__ == "__main__":
    main()
