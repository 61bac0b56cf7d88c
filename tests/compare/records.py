"""Synthetic run records with known latency distributions, for compare/recommend tests."""

from __future__ import annotations

import random

from harness.metrics.histogram import Percentiles, encode, new_histogram
from harness.results.record import LoadSettings, OperationResult, RunRecord, TimePoint


def synthetic_run(median_us: float, seconds: int = 20, per_second: int = 500, seed: int = 0,
                  workload_hash: str = "h1", run_id: str = "run", noise: float = 0.15) -> RunRecord:
    """A read-only run: log-normal latencies around `median_us`, `per_second` ops each second."""
    rng = random.Random(seed)
    whole = new_histogram()
    points = []
    for second in range(seconds):
        hist = new_histogram()
        count = int(per_second * rng.gauss(1.0, 0.02))
        for _ in range(count):
            value = int(median_us * rng.lognormvariate(0, noise)) + 1
            hist.record_value(value)
            whole.record_value(value)
        summary = Percentiles.of(hist)
        assert summary is not None
        points.append(TimePoint(t=second, op="read", phase="measure", count=count, errors=0, p50_us=summary.p50,
                                p99_us=summary.p99, p999_us=summary.p999, max_us=summary.max))
    summary = Percentiles.of(whole)
    assert summary is not None
    total = whole.get_total_count()
    return RunRecord(
        run_id=run_id, started_at=f"2026-01-01T00:00:{seed % 60:02d}+00:00", complete=True, engine="fake",
        engine_version="1", workload="kv-cache", workload_hash=workload_hash, seed=1, scale=1.0,
        load=LoadSettings(users=4, processes=1, duration_s=seconds, warmup_s=0, target_rate=None, schedule="poisson"),
        manifest={}, valid=True,
        operations={"read": OperationResult(kind="read", count=total, throughput_ops_s=total / seconds,
                                            latency_us=summary, histogram=encode(whole))},
        total_throughput_ops_s=total / seconds, measured_s=seconds, timeseries=tuple(points),
    )


def invalid(record: RunRecord, *reasons: str, causes: tuple[str, ...] = ()) -> RunRecord:
    """`record` marked invalid with `reasons` and the record's `invalid_causes` (e.g. "client", "errors")."""
    return record.model_copy(update={"valid": False, "invalid_reasons": reasons, "invalid_causes": causes})


def all_failed(record: RunRecord) -> RunRecord:
    """`record` as if every call had failed: no success, each operation's count moved to its errors."""
    operations = {name: op.model_copy(update={"count": 0, "errors": op.count, "throughput_ops_s": 0.0,
                                               "latency_us": None})
                  for name, op in record.operations.items()}
    return invalid(record.model_copy(update={"operations": operations, "total_throughput_ops_s": 0.0}),
                   "100.0% of calls failed (limit 1%)", causes=("errors",))


def with_outcomes(record: RunRecord, op: str = "read", calls: int | None = None, errors: int = 0, timeouts: int = 0,
                  not_found: int = 0, must_hit: bool = True) -> RunRecord:
    """`record` with `op`'s outcomes set: of `calls` in all (default: its count), `errors` failed, `timeouts`
    timed out, the rest succeeded, `not_found` of them finding nothing (a must-hit operation by default)."""
    result = record.operations[op]
    calls = result.count if calls is None else calls
    outcome = result.model_copy(update={"count": calls - errors - timeouts, "errors": errors, "timeouts": timeouts,
                                        "not_found": not_found, "must_hit": must_hit})
    return record.model_copy(update={"operations": {**record.operations, op: outcome}})


def with_warmup(record: RunRecord, seconds: int, per_second: int = 99_999) -> RunRecord:
    """`record` shifted behind a warm-up of `seconds` whose points hold `per_second` calls (an unmistakable value),
    laid out as in a real run: the window's first second is t = `seconds` (the warm-up is [0, seconds)), and it
    also has a warm-up point, the warm-up's calls that ended after the window opened."""
    warm = tuple(TimePoint(t=t, op=p.op, phase="warmup", count=per_second, errors=0, p99_us=10_000_000)
                 for t in range(seconds + 1) for p in record.timeseries if p.t == 0)
    shifted = tuple(p.model_copy(update={"t": p.t + seconds}) for p in record.timeseries)
    load = record.load.model_copy(update={"warmup_s": float(seconds)})
    return record.model_copy(update={"timeseries": warm + shifted, "load": load})


def with_drain(record: RunRecord, count: int = 4, latency_us: int = 10_000_000) -> RunRecord:
    """`record` with the second after its window, as in a real run: `count` calls made in the window's last
    moments that ended after it (the slowest), a measured point of a fragment of a second."""
    end = int(record.load.warmup_s + record.measured_s)
    drain = tuple(TimePoint(t=end, op=name, phase="measure", count=count, errors=0, p50_us=latency_us,
                            p99_us=latency_us, p999_us=latency_us, max_us=latency_us) for name in record.operations)
    ops = {name: op.model_copy(update={"count": op.count + count}) for name, op in record.operations.items()}
    return record.model_copy(update={"timeseries": record.timeseries + drain, "operations": ops})
