"""Report figures as standalone SVG text (matplotlib, no pyplot, no display, no network).

Figures are built on `matplotlib.figure.Figure` and rendered by the SVG backend, so no
GUI backend is ever loaded and global pyplot state is never touched. Text is drawn as
paths, so a page shows the same glyphs without any font; ids are salted so the output
is reproducible.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator
from matplotlib.typing import RcKeyType

from harness.metrics.histogram import decode, merge
from harness.results.points import measured_points
from harness.results.record import RunRecord
from harness.studies.models import CapacityResult

__all__ = ["capacity_by_engine", "capacity_curve", "history_trend", "latency_distribution", "parse_slo_us",
           "percentiles_by_engine", "timeseries"]

_STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "dbarena",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
}
_NO_METADATA: dict[str, str | None] = {"Date": None, "Creator": None, "Format": None, "Type": None}
_WIDTH = 9.0
BAD = "#c62828"
PERCENTILE_TICKS = (50.0, 90.0, 99.0, 99.9, 99.99, 99.999, 99.9999)


@contextmanager
def _figure(height: float, rows: int = 1) -> Iterator[tuple[Figure, list[Axes]]]:
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(_WIDTH, height), layout="constrained")
        axes = fig.subplots(rows, 1, sharex=True, squeeze=False)
        yield fig, [row[0] for row in axes]


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata=_NO_METADATA)
    return buffer.getvalue()


def _unit(values_us: Sequence[float]) -> tuple[float, str]:
    """A divisor and label that keep latency numbers readable (µs, ms or s)."""
    top = max(values_us, default=0.0)
    if top < 2_000:
        return 1.0, "µs"
    if top < 2_000_000:
        return 1_000.0, "ms"
    return 1_000_000.0, "s"


def _percentile_x(percentile: float) -> float:
    """HdrHistogram's x: 1 / (1 - quantile), so each extra nine gets the same width."""
    return 1.0 / (1.0 - percentile / 100.0)


def _percentile_curve(histogram: HdrHistogram) -> tuple[np.ndarray, list[int]]:
    """(x, latency) at 160 points of the HdrHistogram percentile axis, out to the nines its count supports;
    the last point is the exact max."""
    count = histogram.get_total_count()
    xs = np.logspace(0, math.log10(max(1e4, min(1e6, 10 ** math.ceil(math.log10(count))))), 160)
    values = [int(histogram.get_value_at_percentile(100.0 * (1 - 1 / x))) for x in xs]
    values[-1] = int(histogram.get_max_value())
    return xs, values


def _percentile_axis(ax: Axes, curves: dict[str, tuple[np.ndarray, list[int]]], medians: list[float]) -> None:
    """The log percentile x axis (HdrHistogram style) and a y axis that goes log when the tail is long."""
    x_max = max(xs[-1] for xs, _ in curves.values())
    ticks = [p for p in PERCENTILE_TICKS if _percentile_x(p) <= x_max * 1.001]
    ax.set_xscale("log")
    ax.set_xlim(1, x_max)
    ax.xaxis.set_major_locator(FixedLocator([_percentile_x(p) for p in ticks]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{p:g}%" for p in ticks])
    top = max(v for _, values in curves.values() for v in values)
    if top / max(1.0, min(medians)) > 50:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(bottom=0)


def percentiles_by_engine(histograms: dict[str, list[str]], operation: str) -> str | None:
    """One operation's latency by percentile, one line per engine (label -> encoded HDR histograms of its runs,
    merged exactly: the repeats' calls pooled); None when no engine has a call."""
    curves: dict[str, tuple[np.ndarray, list[int]]] = {}
    medians: list[float] = []
    for label, encoded in histograms.items():
        histogram = merge(encoded)
        count = histogram.get_total_count()
        if count == 0:
            continue
        curves[label] = _percentile_curve(histogram)
        medians.append(histogram.get_value_at_percentile(50.0))
    if not curves:
        return None
    divisor, unit = _unit([v for _, values in curves.values() for v in values])
    with _figure(3.6) as (fig, (ax,)):
        for label, (xs, values) in curves.items():
            ax.plot(xs, [v / divisor for v in values], label=label)
        _percentile_axis(ax, curves, medians)
        ax.set_xlabel("percentile")
        ax.set_ylabel(f"latency ({unit})")
        ax.set_title(f"{operation}: latency by percentile, one line per engine (HDR histograms)")
        ax.legend(loc="upper left")
        return _svg(fig)


def capacity_by_engine(results: dict[str, CapacityResult], slo: str) -> str | None:
    """The SLO percentile against achieved throughput of each engine's open-loop steps (label -> its capacity
    search), the SLO as a horizontal line and each capacity as a dotted vertical one; None without a step."""
    bound = parse_slo_us(slo)
    metric = bound[0] if bound else "p99"
    field_name = f"{metric}_us" if metric in ("p50", "p99", "p999") else "p99_us"
    shown = {label: [p for p in sorted(r.curve, key=lambda p: p.target_rate) if getattr(p, field_name) is not None]
             for label, r in results.items()}
    if not any(shown.values()):
        return None
    values = [float(getattr(p, field_name)) for points in shown.values() for p in points]
    divisor, unit = _unit(values + ([bound[1]] if bound else []))
    with _figure(3.6) as (fig, (ax,)):
        for label, points in shown.items():
            if not points:
                continue
            line = ax.plot([p.achieved_ops_s for p in points], [getattr(p, field_name) / divisor for p in points],
                           marker="o", markersize=4, label=label)[0]
            bad = [p for p in points if not (p.slo_met and p.valid)]
            ax.scatter([p.achieved_ops_s for p in bad], [getattr(p, field_name) / divisor for p in bad], marker="x",
                       s=50, color=line.get_color(), zorder=3)
            found = results[label].capacity_ops_s
            if found is not None:
                ax.axvline(found, linestyle=":", linewidth=1, color=line.get_color())
        if bound:
            ax.axhline(bound[1] / divisor, color=BAD, linewidth=1, linestyle="-.", label=f"SLO {slo}")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("achieved throughput (ops/s); ×: step missed the SLO or invalid; dotted: capacity")
        ax.set_ylabel(f"{metric.replace('p999', 'p99.9')} ({unit})")
        ax.set_title(f"Capacity curves, one line per engine (open-loop steps, SLO {slo})")
        ax.legend(loc="upper left")
        return _svg(fig)


def latency_distribution(record: RunRecord) -> str | None:
    """Latency by percentile per operation, from the encoded HDR histograms (log-scaled tail)."""
    curves: dict[str, tuple[np.ndarray, list[int]]] = {}
    medians: list[float] = []
    for name, op in record.operations.items():
        for label, encoded in ((name, op.histogram), (f"{name} (service)", op.service_histogram)):
            histogram = decode(encoded) if encoded else None
            if histogram is None or histogram.get_total_count() == 0:
                continue
            curves[label] = _percentile_curve(histogram)
            medians.append(histogram.get_value_at_percentile(50.0))
    if not curves:
        return None
    divisor, unit = _unit([v for _, values in curves.values() for v in values])
    with _figure(3.6) as (fig, (ax,)):
        colors: dict[str, str] = {}  # an operation's service-time line shares its colour, dashed
        for label, (xs, values) in curves.items():
            name = label.removesuffix(" (service)")
            line = ax.plot(xs, [v / divisor for v in values], label=label, color=colors.get(name),
                           linestyle="--" if name != label else "-")[0]
            colors.setdefault(name, to_hex(line.get_color()))
        _percentile_axis(ax, curves, medians)
        ax.set_xlabel("percentile")
        ax.set_ylabel(f"latency ({unit})")
        ax.set_title("Latency by percentile (measured window, HDR histogram)")
        ax.legend(loc="upper left")
        return _svg(fig)


def timeseries(record: RunRecord) -> str | None:
    """Per-second throughput and p99 per operation over the measured window (`measured_points`: the warm-up's
    points are not drawn, so the second in which the warm-up ended has one point, the measured part's)."""
    points = [p for p in measured_points(record) if p.op in record.operations]
    if not points:
        return None
    divisor, unit = _unit([p.p99_us for p in points if p.p99_us is not None])
    with _figure(4.8, rows=2) as (fig, (top, bottom)):
        for name in record.operations:
            own = [p for p in points if p.op == name]
            if not own:
                continue
            xs = [p.t + 0.5 for p in own]
            line = top.plot(xs, [p.count for p in own], marker=".", label=name)[0]
            bottom.plot([p.t + 0.5 for p in own if p.p99_us is not None],
                        [p.p99_us / divisor for p in own if p.p99_us is not None], marker=".", color=line.get_color())
            if any(p.errors or p.timeouts for p in own):
                top.plot(xs, [p.errors + p.timeouts for p in own], linestyle=":", color=line.get_color(),
                         label=f"{name} errors + timeouts")
        for ax in (top, bottom):
            ax.set_ylim(bottom=0)
        top.set_ylabel("ops/s")
        bottom.set_ylabel(f"p99 ({unit})")
        warmup = record.load.warmup_s
        bottom.set_xlabel("seconds since the start of warm-up" + (f" (the {warmup:g} s warm-up is not drawn)"
                                                                   if warmup > 0 else ""))
        fig.suptitle("Per-second throughput and p99 (measured window)")
        fig.legend(loc="outside lower center", ncol=6)
        return _svg(fig)


def history_trend(frame: pd.DataFrame, baseline: RunRecord | None, current_run_id: str | None = None) -> str | None:
    """Throughput and p99 per operation over time; baseline values as dashed lines, bad runs crossed."""
    if frame.empty or frame["run_id"].nunique() < 2:
        return None
    frame = frame.assign(when=pd.to_datetime(frame["started_at"], utc=True).dt.tz_localize(None))
    divisor, unit = _unit([float(v) for v in frame["p99_us"].dropna()])
    with _figure(4.8, rows=2) as (fig, (top, bottom)):
        for name, rows in frame.groupby("operation", sort=False):
            rows = rows.sort_values("when")
            line = top.plot(rows["when"], rows["throughput_ops_s"], marker="o", markersize=4, label=str(name))[0]
            p99 = rows.dropna(subset=["p99_us"])
            bottom.plot(p99["when"], p99["p99_us"] / divisor, marker="o", markersize=4, color=line.get_color())
            base = baseline.operations.get(str(name)) if baseline else None
            if base is not None:
                top.axhline(base.throughput_ops_s, linestyle="--", linewidth=1, color=line.get_color())
                if base.latency_us is not None:
                    bottom.axhline(base.latency_us.p99 / divisor, linestyle="--", linewidth=1, color=line.get_color())
        bad = frame[~(frame["valid"].astype(bool) & frame["complete"].astype(bool))]
        if not bad.empty:
            top.scatter(bad["when"], bad["throughput_ops_s"], marker="x", s=60, color=BAD, zorder=3,
                        label="invalid / incomplete run")
            bottom.scatter(bad["when"], bad["p99_us"] / divisor, marker="x", s=60, color=BAD, zorder=3)
        if baseline is not None:
            top.plot([], [], linestyle="--", color="#616161", label=f"baseline {baseline.run_id}")
        if current_run_id is not None and (frame["run_id"] == current_run_id).any():
            when = frame.loc[frame["run_id"] == current_run_id, "when"].iloc[0]
            for ax in (top, bottom):
                ax.axvline(when, linestyle=":", color="#616161", linewidth=1)
        locator = AutoDateLocator()
        bottom.xaxis.set_major_locator(locator)
        bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        for ax in (top, bottom):
            ax.set_ylim(bottom=0)
        top.set_ylabel("ops/s")
        bottom.set_ylabel(f"p99 ({unit})")
        bottom.set_xlabel("run start (UTC); dotted: this run")
        fig.suptitle("History of this engine and workload")
        fig.legend(loc="outside lower center", ncol=6)
        return _svg(fig)


_SLO = re.compile(r"^\s*p(\d+(?:\.\d+)?)\s*<=?\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s)\s*$")


def parse_slo_us(slo: str) -> tuple[str, float] | None:
    """('p99', 5000.0) from 'p99<=5ms'; None when the SLO is not a single latency bound."""
    match = _SLO.match(slo)
    if not match:
        return None
    factor = {"us": 1.0, "µs": 1.0, "ms": 1_000.0, "s": 1_000_000.0}[match.group(3)]
    return f"p{match.group(1).replace('.', '')}", float(match.group(2)) * factor


def capacity_curve(result: CapacityResult) -> str | None:
    """Latency against achieved throughput for each open-loop step; SLO and capacity marked."""
    points = sorted(result.curve, key=lambda p: p.target_rate)
    if not points:
        return None
    slo = parse_slo_us(result.slo)
    values = [v for p in points for v in (p.p50_us, p.p99_us, p.p999_us) if v is not None]
    divisor, unit = _unit(values + ([slo[1]] if slo else []))
    with _figure(3.6) as (fig, (ax,)):
        for metric, style in (("p50", ":"), ("p99", "-"), ("p999", "--")):
            shown = [p for p in points if getattr(p, f"{metric}_us") is not None]
            if shown:
                ax.plot([p.achieved_ops_s for p in shown], [getattr(p, f"{metric}_us") / divisor for p in shown],
                        linestyle=style, marker="o", markersize=4, label=metric.replace("p999", "p99.9"))
        missed = [p for p in points if not p.slo_met and p.p99_us is not None]
        if missed:
            ax.scatter([p.achieved_ops_s for p in missed], [p.p99_us / divisor for p in missed if p.p99_us is not None],
                       s=60, facecolors="none", edgecolors=BAD, zorder=3, label="SLO missed")
        invalid = [p for p in points if not p.valid and p.p99_us is not None]
        if invalid:
            ax.scatter([p.achieved_ops_s for p in invalid], [p.p99_us / divisor for p in invalid if p.p99_us is not None],
                       marker="x", s=60, color=BAD, zorder=3, label="invalid step")
        if slo:
            ax.axhline(slo[1] / divisor, color=BAD, linewidth=1, linestyle="-.", label=f"SLO {result.slo}")
        if result.capacity_ops_s is not None:
            ax.axvline(result.capacity_ops_s, color="#2e7d32", linewidth=1,
                       label=f"capacity {result.capacity_ops_s:,.0f} ops/s")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("achieved throughput (ops/s)")
        ax.set_ylabel(f"latency ({unit})")
        ax.set_title(f"Latency vs throughput (open-loop steps, SLO {result.slo})")
        ax.legend(loc="upper left")
        return _svg(fig)
