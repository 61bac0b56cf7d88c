"""A distributed run across hosts: network namespaces as the engine host, two load hosts and the master's.

Needs root (CI runs as root) and fails, never skips, where namespaces cannot be made.

The LAN (tests/runner/netns.py) is a bridge in a namespace of its own; the hosts:

    engine   10.251.0.1 and .2   redis-server bound to both addresses (started here, by PID)
    plain    10.251.0.11         a worker: `python -m harness.runner.worker --master 10.251.0.4:5557`
    slow     10.251.0.12         a worker whose path to the engine is DELAY_MS slower (below)
    control  10.251.0.4          the parent (`python -m tests.runner.test_distributed`: run_benchmark
                                 + build_record), whose master subprocess listens on 10.251.0.4:5557

Every worker gets the same engine URL from the master (redis://10.251.0.1:6379/0), so the delay
has to come from the path, not the URL. This kernel has no netem qdisc and the image has no
nftables/iptables (no DNAT), so the slow host *claims* 10.251.0.1 itself: the address sits on
its `lo` (ARP restricted so that it never answers for it on the LAN) and a delay proxy in that
namespace listens on 10.251.0.1:6379 and forwards to the engine's second address, 10.251.0.2,
after DELAY_MS per request. The plain worker and the parent reach the real engine directly.

The record merges every worker, so per-worker latency is read from what each worker sent: the
parent script wraps `harness.runner.run.merge_operations` (passing every argument through) and
writes the WorkerResults it was given next to the record. A WorkerResult's `process` is the
worker's index in `Measurement.workers`, whose pid is one of the worker processes started here.

Checked, in one run with 2 users per worker: every operation counted once (record count ==
measured per-second rows; HGETALL calls in Redis's own INFO commandstats == operations counted,
warm-up included, plus at most one uncounted call in flight per user at the window's end);
the merged histogram equals the sum of the two workers' (bucket by bucket, per second too); the
slow worker's every call took at least DELAY_MS and the plain worker's median is far below it.
In a second run one worker is SIGKILLed mid-measurement: the record is `complete: false`, the
reason names that worker's pid, and the survivor's operations are still there.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from harness.metrics.histogram import decode, new_histogram
from tests.runner.netns import Host, Lan, Lines, NetnsError

ROOT = Path(__file__).resolve().parents[2]
REDIS_PORT = 6379
MASTER_PORT = 5557
DELAY_MS = 20.0
SCALE = 0.05  # kv-cache: 500 records
PARENT_TIMEOUT_S = 60.0

pytestmark = [pytest.mark.slow, pytest.mark.redis]


@dataclass
class Cluster:
    lan: Lan
    engine: Host
    plain: Host
    slow: Host
    control: Host

    @property
    def url(self) -> str:
        return f"redis://{self.engine.address}:{REDIS_PORT}/0"

    @property
    def master(self) -> str:
        return f"{self.control.address}:{MASTER_PORT}"


def _start_redis(engine: Host, data: Path) -> None:
    from harness.provision.native.redis.launcher import redis_server

    engine.start([redis_server(), "--port", str(REDIS_PORT), "--bind", engine.address, "10.251.0.2",
                  "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
                  "--dir", str(data), "--loglevel", "warning"], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if engine.run(["redis-cli", "-h", engine.address, "-p", str(REDIS_PORT), "ping"]).stdout.strip() == "PONG":
            return
        time.sleep(0.1)
    raise NetnsError("redis-server did not answer within 15 s")


def _build(lan: Lan, data: Path) -> Cluster:
    cluster = Cluster(lan=lan, engine=lan.host("engine", 1, 2), plain=lan.host("plain", 11),
                      slow=lan.host("slow", 12), control=lan.host("control", 4))
    _start_redis(cluster.engine, data)
    cluster.slow.claim(cluster.engine.address)
    proxy = cluster.slow.start(
        [sys.executable, "-m", "tests.runner.netns", "proxy", "--listen", f"{cluster.engine.address}:{REDIS_PORT}",
         "--to", f"10.251.0.2:{REDIS_PORT}", "--delay-ms", str(DELAY_MS), "--lifetime-s", "300"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proxy.stdout is not None
    Lines(proxy.stdout).wait_for("ready", timeout_s=15)
    return cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (CI runs as root); this test does not skip")
    lan = Lan()
    try:
        lan.__enter__()
        built = _build(lan, tmp_path_factory.mktemp("redis"))
    except (NetnsError, OSError) as exc:
        lan.close()
        pytest.fail(f"cannot make the test hosts: {exc}")
    except BaseException:
        lan.close()
        raise
    try:
        yield built
    finally:
        lan.close()


@dataclass
class Run:
    """One distributed run: the record, the workers as the master saw them, what each sent."""

    record: dict[str, Any]
    workers: list[dict[str, Any]]
    parts: list[dict[str, Any]]
    calls: dict[str, int]  # Redis commandstats calls during the run (after - before)

    def pid_of(self, process: int) -> int:
        return next(w["pid"] for w in self.workers if w["index"] == process)


class Distributed:
    """The parent in the control host and one worker in each load host."""

    def __init__(self, cluster: Cluster, out: Path, users: int, duration_s: float) -> None:
        self.out = out
        self.parent = cluster.control.start(
            [sys.executable, "-m", "tests.runner.test_distributed", "--url", cluster.url, "--master", cluster.master,
             "--users", str(users), "--duration", str(duration_s), "--out", str(out)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.parent.stdout is not None
        self.lines = Lines(self.parent.stdout)
        self.lines.wait_for("master listening", timeout_s=PARENT_TIMEOUT_S)
        self.workers = {name: host.start([sys.executable, "-m", "harness.runner.worker", "--master", cluster.master],
                                         cwd=ROOT, stdout=subprocess.DEVNULL)
                        for name, host in (("plain", cluster.plain), ("slow", cluster.slow))}

    def result(self) -> Run:
        code = self.parent.wait(timeout=PARENT_TIMEOUT_S)
        assert code == 0, f"parent exited {code}: {self.lines.seen[-10:]}"
        data = json.loads(self.out.read_text())
        return Run(record=data["record"], workers=data["workers"], parts=data["parts"], calls=data["calls"])


def _summed(histograms: list[str]) -> HdrHistogram:
    total = new_histogram()
    for encoded in histograms:
        if encoded:
            total.add(decode(encoded))
    return total


def _buckets(histogram: HdrHistogram) -> list[tuple[int, int]]:
    return [(v.value_iterated_to, v.count_at_value_iterated_to) for v in histogram.get_recorded_iterator()]


def test_two_hosts_count_every_operation_once_and_show_one_slow_path(cluster: Cluster, tmp_path: Path) -> None:
    users = 4
    run_ = Distributed(cluster, tmp_path / "run.json", users=users, duration_s=3)
    run = run_.result()
    record, read = run.record, run.record["operations"]["read"]
    assert record["complete"] and record["valid"], record["invalid_reasons"]
    assert read["errors"] == 0 and read["count"] > 0

    # The two worker processes started here took part, each with 2 users, on one clock.
    assert sorted(w["pid"] for w in run.workers) == sorted(p.pid for p in run_.workers.values())
    assert [w["users"] for w in sorted(run.workers, key=lambda w: w["index"])] == [2, 2]
    assert all(abs(w["clock_offset_s"]) < 0.5 for w in run.workers)

    # Every operation counted once.
    measured = [p for p in record["timeseries"] if p["op"] == "read" and p["phase"] == "measure"]
    warmup = [p for p in record["timeseries"] if p["op"] == "read" and p["phase"] == "warmup"]
    assert sum(p["count"] for p in measured) == read["count"]
    assert sum(p["count"] for p in warmup) == read["warmup_count"]
    counted = read["count"] + read["warmup_count"] + read["errors"]
    assert counted <= run.calls.get("hgetall", 0) <= counted + users, (counted, run.calls)

    # The merged histogram is the sum of the workers' (bucket by bucket), and so is each second.
    parts = {part["process"]: part["operations"]["read"] for part in run.parts}
    assert sorted(parts) == [0, 1]
    merged = decode(read["histogram"])
    assert merged.get_total_count() == read["count"] == sum(p["count"] for p in parts.values())
    assert _buckets(merged) == _buckets(_summed([p["histogram"] for p in parts.values()]))
    for point in record["timeseries"]:
        rows = [r for part in run.parts for r in part["timeseries"]
                if (r["t"], r["op"], r["phase"]) == (point["t"], point["op"], point["phase"])]  # one row per phase
        assert point["count"] == sum(r["count"] for r in rows)

    # The delay on the slow host's path shows in that worker's latency, and only there.
    slow_pid = run_.workers["slow"].pid
    by_host = {("slow" if run.pid_of(process) == slow_pid else "plain"): decode(part["histogram"])
               for process, part in parts.items()}
    delay_us = DELAY_MS * 1000
    assert by_host["slow"].get_min_value() >= 0.99 * delay_us
    assert by_host["plain"].get_value_at_percentile(50) < delay_us / 4
    assert by_host["plain"].get_total_count() > by_host["slow"].get_total_count()
    assert merged.get_max_value() >= 0.99 * delay_us
    print(f"\n2 hosts x 2 users: {read['count']} reads measured + {read['warmup_count']} in warm-up; "
          f"Redis HGETALL calls {run.calls.get('hgetall')}; merged p50 {read['latency_us']['p50']} µs")
    for name, histogram in sorted(by_host.items()):
        print(f"  {name} worker: {histogram.get_total_count()} reads, min {histogram.get_min_value()} µs, "
              f"p50 {histogram.get_value_at_percentile(50)} µs, p99 {histogram.get_value_at_percentile(99)} µs")

    for proc in run_.workers.values():  # a worker quits with its master
        assert proc.wait(timeout=15) == 0


def test_a_worker_killed_mid_run_leaves_an_incomplete_record_naming_it(cluster: Cluster, tmp_path: Path) -> None:
    run_ = Distributed(cluster, tmp_path / "run.json", users=4, duration_s=6)
    run_.lines.wait_for("[measure", timeout_s=PARENT_TIMEOUT_S)
    victim = run_.workers["plain"]
    os.kill(victim.pid, signal.SIGKILL)
    run = run_.result()
    record = run.record
    assert not record["complete"] and not record["valid"]
    lost = [reason for reason in record["invalid_reasons"] if "lost" in reason]
    assert len(lost) == 1 and f"pid {victim.pid}" in lost[0], record["invalid_reasons"]
    survivor = run_.workers["slow"].pid
    assert [run.pid_of(part["process"]) for part in run.parts] == [survivor]
    assert record["operations"]["read"]["count"] == run.parts[0]["operations"]["read"]["count"] > 0
    print(f"\nkilled pid {victim.pid}: complete={record['complete']}, invalid_reasons={record['invalid_reasons']}, "
          f"notes={record['notes']}")


# ---- the parent, run inside the control host ---------------------------------------------


def _commandstats(url: str) -> dict[str, int]:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=10)
    try:
        info: Any = client.info("commandstats")  # the sync client: a dict
        return {name.removeprefix("cmdstat_"): stats["calls"] for name, stats in info.items()}
    finally:
        client.close()


def parent_main(argv: list[str]) -> int:
    """Run kv-cache ycsb-c on redis with 2 remote workers; write the record, workers and their parts."""
    import harness.runner.run as runner
    from harness.results.build import build_record
    from harness.runner.progress import Progress
    from harness.runner.protocol import WorkerResult
    from harness.spec.loader import load_workload
    from harness.spec.suite import LoadProfile

    parser = argparse.ArgumentParser()
    for flag in ("--url", "--master", "--out"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    args = parser.parse_args(argv)

    parts: list[WorkerResult] = []
    merge = runner.merge_operations

    def recorded(workload: Any, results: Any, measured_s: float) -> Any:
        parts.extend(results)
        return merge(workload, results, measured_s)

    runner.merge_operations = recorded  # a pass-through: what each worker sent, next to the merge
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml").with_preset("ycsb-c").scaled(SCALE)
    request = runner.RunRequest(engine="redis", url=args.url, workload=workload, preset="ycsb-c", scale=SCALE,
                                load=LoadProfile(users=args.users, duration_s=args.duration, warmup_s=1),
                                expect_workers=2, master_bind=args.master)
    before = _commandstats(args.url)
    measurement = runner.run_benchmark(request, Progress(stream=sys.stdout, min_interval_s=0))
    after = _commandstats(args.url)
    Path(args.out).write_text(json.dumps({
        "record": build_record(request, measurement).model_dump(mode="json"),
        "workers": [w.model_dump(mode="json") for w in measurement.workers],
        "parts": [p.model_dump(mode="json") for p in parts],
        "calls": {name: calls - before.get(name, 0) for name, calls in after.items()},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(parent_main(sys.argv[1:]))
