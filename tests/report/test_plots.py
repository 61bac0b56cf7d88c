"""The per-second plot draws the measured window only: one point per second and operation, never a warm-up value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from matplotlib.axes import Axes

from harness.report import plots
from harness.results.build import run_and_record
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile
from tests.compare.records import synthetic_run, with_warmup

ROOT = Path(__file__).resolve().parents[2]


def drawn(record: RunRecord, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[list[float], list[float]]]:
    """(xs, ys) of each operation's throughput line ('read') and p99 line ('read p99') in plots.timeseries."""
    lines: dict[str, tuple[list[float], list[float]]] = {}
    original = Axes.plot

    def spy(self: Axes, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("label") or f"{next(reversed(lines))} p99"  # the p99 line follows its throughput line
        lines.setdefault(name, (list(args[0]), list(args[1])))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Axes, "plot", spy)
    assert plots.timeseries(record) is not None
    return lines


def test_the_warm_up_is_not_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    record = with_warmup(synthetic_run(1000, seconds=5, per_second=200), 3)  # warm-up 99,999 ops/s, p99 10 s
    lines = drawn(record, monkeypatch)
    (xs, counts), (p99_xs, p99s) = lines["read"], lines["read p99"]
    measured = [p for p in record.timeseries if p.phase == "measure"]
    assert xs == p99_xs == [p.t + 0.5 for p in measured] == [3.5, 4.5, 5.5, 6.5, 7.5]  # from second 3, the window's
    assert counts == [p.count for p in measured] and sum(counts) == record.operations["read"].count
    assert p99s == [p.p99_us for p in measured]  # µs (all under 10 ms): the warm-up's 10 s p99 is not drawn


def test_a_real_runs_plot_has_one_point_per_measured_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake engine, 1 s warm-up + 2 s: the straddled second is drawn once and the drawn counts sum to the record's."""
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(0.05)
    record = run_and_record(RunRequest(engine="fake", url="fake://r?latency_us=300", workload=workload,
                                       load=LoadProfile(users=2, processes=1, duration_s=2, warmup_s=1)), Progress())
    lines = drawn(record, monkeypatch)
    for name, op in record.operations.items():
        if not op.count:
            continue
        xs, counts = lines[name]
        assert len(xs) == len(set(xs)), name  # one point per second
        assert sum(counts) == op.count, name  # the measured rows, and only they, sum to the count
