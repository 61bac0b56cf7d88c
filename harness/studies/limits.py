"""Safety limits checked before a run starts: how long, how many processes, how much data.

A run that would take a day, oversubscribe the machine or fill its memory or disk is
refused with one line naming the value and what to do, before any engine is started;
`--override-limits` runs it anyway. What the limits are:

- the measured duration (with its warm-up) is at most `MAX_RUN_S` (24 h);
- worker processes are at most `PROCESSES_PER_CORE` per core of this machine;
- the dataset fits where it will live: the fake engine keeps every record in this machine's
  memory, a native engine (started here) on the disk of its data folder. An external or
  compose engine's disk is not visible from here and is not checked.

The dataset's size is estimated from its field specs: a sample of generated records,
measured as JSON, times the record count. `footprint(...).line()` is what the studies print
before loading.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.dataset.generate import dataset_factories
from harness.errors import UserError
from harness.provision.paths import data_root
from harness.spec.models import Workload
from harness.spec.suite import LoadProfile

__all__ = ["MAX_RUN_S", "OVERRIDE", "PROCESSES_PER_CORE", "Footprint", "available_memory", "check_load", "check_room",
           "footprint"]

OVERRIDE = "--override-limits"
MAX_RUN_S = 24 * 3600.0
PROCESSES_PER_CORE = 4
SAMPLE = 32  # records generated per entity to estimate its record size
MEMORY_FACTOR, MEMORY_OVERHEAD = 2.0, 200  # a record held in Python: ~2x its JSON plus the dict itself (bytes)
DISK_FACTOR = 3.0  # a record on an engine's disk: data, indexes, write-ahead log
MEMORY_SHARE = 0.8  # the fake engine may take this share of the available memory


@dataclass(frozen=True)
class Footprint:
    """How much data a run loads: records and their mean generated size."""

    records: int
    record_bytes: float  # mean size of one record as JSON

    @property
    def data_bytes(self) -> float:
        return self.records * self.record_bytes

    def line(self) -> str:
        """'dataset: 10,000 records × ~1.2 KB ≈ 11.3 MiB' (what the studies print before loading)."""
        return f"dataset: {self.records:,} records × ~{size_text(self.record_bytes)} ≈ {size_text(self.data_bytes)}"


def size_text(count: float) -> str:
    """Bytes in words: 512 B, 1.2 KB, 3.4 MiB, 5.6 GiB."""
    if count < 1024:
        return f"{count:.0f} B"
    if count < 1024**2:
        return f"{count / 1024:.1f} KB"
    if count < 1024**3:
        return f"{count / 1024**2:.1f} MiB"
    return f"{count / 1024**3:.1f} GiB"


def footprint(workload: Workload) -> Footprint:
    """The records `workload` loads and their mean size, from a sample of generated records."""
    factories = dataset_factories(workload)
    records, total = 0, 0.0
    for entity in workload.dataset.entities:
        if not entity.count:
            continue  # starts empty (count: 0): nothing to load
        step = max(1, entity.count // SAMPLE)
        sample = [factories[entity.name].record(i) for i in range(0, min(entity.count, step * SAMPLE), step)]
        mean = sum(len(json.dumps(record, default=str)) for record in sample) / len(sample)
        records += entity.count
        total += entity.count * mean
    return Footprint(records, total / records if records else 0.0)


def check_load(load: LoadProfile, override: bool = False) -> None:
    """UserError (one line) when `load` runs longer than MAX_RUN_S or on more processes than the cores allow."""
    if override:
        return
    total = load.duration_s + load.warmup_s
    if total > MAX_RUN_S:
        raise UserError(f"duration {load.duration_s:,.0f}s plus warm-up {load.warmup_s:,.0f}s is over the "
                        f"{MAX_RUN_S / 3600:.0f} h limit of one run; shorten --duration (or the suite's duration), "
                        f"or add {OVERRIDE} to run it anyway")
    cores = os.cpu_count() or 1
    if load.processes > cores * PROCESSES_PER_CORE:
        raise UserError(f"--processes {load.processes} is more than {PROCESSES_PER_CORE} per core on this "
                        f"{cores}-core machine ({cores * PROCESSES_PER_CORE} at most): the workers would measure the "
                        f"scheduler; use fewer (1-2 per core is typical), or add {OVERRIDE} to run it anyway")


def available_memory() -> int | None:
    """MemAvailable of this machine in bytes (Linux), None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def free_disk(path: Path) -> int | None:
    """Free bytes on the file system holding `path` (its nearest existing folder), None when unknown."""
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def check_room(size: Footprint, engine: str, mode: str, override: bool = False) -> None:
    """UserError (one line) when the data would not fit where `engine`, reached by `mode`, keeps it."""
    if override:
        return
    if engine == "fake":
        need, have = size.records * (size.record_bytes * MEMORY_FACTOR + MEMORY_OVERHEAD), available_memory()
        if have is not None and need > have * MEMORY_SHARE:
            raise UserError(f"{size.line()}: the fake engine would hold ~{size_text(need)} in memory and "
                            f"{size_text(have)} is available; lower --scale (or the counts), or add {OVERRIDE} "
                            "to run it anyway")
    elif mode == "native":
        folder = data_root()
        need, have = size.data_bytes * DISK_FACTOR, free_disk(folder)
        if have is not None and need > have:
            raise UserError(f"{size.line()}: {engine} would need ~{size_text(need)} of disk in {folder} and "
                            f"{size_text(have)} is free; lower --scale, free space or set DBARENA_DATA to a larger "
                            f"disk, or add {OVERRIDE} to run it anyway")
