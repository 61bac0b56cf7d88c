"""Scale sweep: the same workload at several data volumes, to see how throughput and p99 move.

A missing index or a plan that degrades with size shows as a curve that bends; for
PostgreSQL each run also stores its EXPLAIN plans, so the bend can be explained.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from harness.errors import UserError
from harness.paths import results_dir
from harness.results.build import run_and_record
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.studies.limits import check_room, footprint
from harness.studies.runs import RunFn, execute, stop_if_interrupted

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)\s*$", re.IGNORECASE)
_FACTOR = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


def parse_sizes(text: str) -> list[int]:
    """'10k,100k,1m' -> [10000, 100000, 1000000]."""
    sizes = []
    for part in text.split(","):
        found = _SIZE.match(part)
        if found is None:
            raise UserError(f"--scales: {part.strip()!r} is not a record count such as 10k, 250k or 1m")
        size = int(float(found.group(1)) * _FACTOR[found.group(2).lower()])
        if size < 1:
            raise UserError(f"--scales: {part.strip()!r} is no record; give counts of 1 or more, e.g. 10k,100k")
        sizes.append(size)
    return sorted(sizes)


def sweep(base: RunRequest, sizes: list[int], progress: Progress | None = None,
          run: RunFn = run_and_record, override_limits: bool = False) -> list[RunRecord]:
    """One saved run per size (the first entity gets that many records; others scale alike).

    A run stopped by the user (Ctrl-C) is saved and ends the sweep.
    """
    progress = progress or Progress()
    unscaled = base.workload.dataset.entities[0].count
    footprints = [footprint(base.workload.scaled(size / unscaled)) for size in sizes]
    for each in footprints:  # every size fits (harness/studies/limits.py) before the first one runs
        check_room(each, base.engine, str(base.provisioner.get("mode", "")), override_limits)
    records = []
    for size, data in zip(sizes, footprints, strict=True):
        factor = size / unscaled
        progress.say(f"== sweep: {size:,} records (scale {factor:g})")
        progress.say(data.line())
        request = replace(base, workload=base.workload.scaled(factor), scale=factor, suite="sweep")
        record = execute(request, progress, run).record
        stop_if_interrupted(record)
        records.append(record)
    return records


def sweep_table(records: list[RunRecord]) -> tuple[list[str], list[list[str]]]:
    ops = list(records[0].operations)
    header = ["records", "load rec/s", *[f"{op} ops/s" for op in ops], *[f"{op} p99 ms" for op in ops]]
    rows = []
    for record in records:
        size = record.load_phase.records if record.load_phase else 0
        row = [f"{size:,}", f"{record.load_phase.records_per_s:,.0f}" if record.load_phase else "-"]
        row += [f"{record.operations[op].throughput_ops_s:,.0f}" for op in ops]
        row += [f"{lat.p99 / 1000:.2f}" if (lat := record.operations[op].latency_us) else "n/a" for op in ops]
        rows.append(row)
    return header, rows


def sweep_plot_path(records: list[RunRecord]) -> Path:
    """`<results>/sweeps/<first run id>-sweep.png`."""
    return results_dir() / "sweeps" / f"{records[0].run_id}-sweep.png"


def sweep_plot(records: list[RunRecord], path: Path) -> Path:
    """Throughput and p99 against data size, one line per operation (log x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r.load_phase.records if r.load_phase else 0 for r in records]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for op in records[0].operations:
        top.plot(sizes, [r.operations[op].throughput_ops_s for r in records], marker="o", label=op)
        bottom.plot(sizes, [(lat.p99 / 1000 if (lat := r.operations[op].latency_us) else float("nan"))
                            for r in records], marker="o", label=op)
    top.set_ylabel("throughput (ops/s)")
    bottom.set_ylabel("p99 latency (ms)")
    bottom.set_xlabel("records loaded")
    bottom.set_xscale("log")
    top.set_title(f"{records[0].engine} · {records[0].workload}: scale sweep")
    top.legend()
    top.grid(alpha=0.3)
    bottom.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    plt.close(figure)
    return path
