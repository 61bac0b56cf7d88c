"""The live progress line: the warm-up and the measurement each show their own elapsed/total (progress.py)."""

from __future__ import annotations

import io
import re
from pathlib import Path

from harness.results.build import run_and_record
from harness.runner.progress import Progress, phase_clock, tick_clock
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

ROOT = Path(__file__).resolve().parents[2]


def test_each_phase_has_its_own_clock() -> None:
    assert phase_clock(0.0, 2.0, 8.0) == ("warm-up", 0.0, 2.0)
    assert phase_clock(1.5, 2.0, 8.0) == ("warm-up", 1.5, 2.0)
    assert phase_clock(2.0, 2.0, 8.0) == ("measure", 0.0, 8.0)
    assert phase_clock(9.0, 2.0, 8.0) == ("measure", 7.0, 8.0)  # [measure 00:07/00:08], not 00:09/00:10
    assert phase_clock(3.0, 0.0, 8.0) == ("measure", 3.0, 8.0)  # no warm-up


def test_a_fake_run_shows_warm_up_and_measure_apart() -> None:
    stream = io.StringIO()
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(0.05)
    load = LoadProfile.model_validate({"users": 2, "processes": 1, "duration": 3, "warmup": 2})
    record = run_and_record(RunRequest(engine="fake", url="fake://p?latency_us=200", workload=workload, load=load),
                            Progress(stream, min_interval_s=0.0))
    assert record.complete, record.invalid_reasons
    shown = re.findall(r"\[(warm-up|measure) (\d\d):(\d\d)/(\d\d):(\d\d)\]", stream.getvalue())
    assert {phase for phase, *_ in shown} == {"warm-up", "measure"}, stream.getvalue()
    for phase, mm, ss, total_mm, total_ss in shown:
        elapsed, total = int(mm) * 60 + int(ss), int(total_mm) * 60 + int(total_ss)
        assert total == (2 if phase == "warm-up" else 3), (phase, total)
        assert elapsed <= total, (phase, elapsed, total)


def test_tick_clock_labels_the_second_a_tick_covers() -> None:
    assert tick_clock(1.0, 1.0, 3.0) == ("warm-up", 0.0, 1.0)  # covers [0, 1): the warm-up's only second
    assert tick_clock(2.0, 1.0, 3.0) == ("measure", 0.0, 3.0)  # covers [1, 2): the first measured second
    assert tick_clock(4.0, 1.0, 3.0) == ("measure", 2.0, 3.0)  # covers [3, 4): the last measured second


def test_live_lines_match_the_records_timeseries() -> None:
    """Each line is the second it covers: phase, clock and ops/s as the record's timeseries has them, last one too."""
    stream = io.StringIO()
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(0.05)
    load = LoadProfile.model_validate({"users": 2, "processes": 1, "duration": 3, "warmup": 1})
    record = run_and_record(RunRequest(engine="fake", url="fake://p?latency_us=200", workload=workload, load=load),
                            Progress(stream, min_interval_s=0.0))
    assert record.complete, record.invalid_reasons
    shown = re.findall(r"\[(warm-up|measure) (\d\d):(\d\d)/(\d\d):(\d\d)\] ([\d,]+) ops/s", stream.getvalue())
    seconds = [(phase, int(ss)) for phase, _, ss, *_ in shown]
    assert seconds == [("warm-up", 0), ("measure", 0), ("measure", 1), ("measure", 2)], stream.getvalue()
    for (phase, _, ss, _, _, ops) in shown:
        t = int(ss) + (0 if phase == "warm-up" else 1)
        counted = sum(p.count for p in record.timeseries
                      if p.t == t and p.phase == ("warmup" if phase == "warm-up" else "measure"))
        assert counted > 0
        assert abs(int(ops.replace(",", "")) - counted) <= load.users, (phase, ss, ops, counted)  # calls in flight
