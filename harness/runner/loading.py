"""The load phase: schema, then every entity through the engine's bulk path, with progress."""

from __future__ import annotations

import time
from typing import Any

from harness.dataset.generate import dataset_factories
from harness.engines.base import EngineAdapter
from harness.metrics.models import LoadPhase
from harness.runner.progress import Progress
from harness.spec.models import Workload

BATCH = 1000


def load_dataset(adapter: EngineAdapter[Any], workload: Workload, progress: Progress) -> LoadPhase:
    """Prepare the schema and bulk-load every entity; returns the load throughput."""
    began = time.perf_counter()
    adapter.prepare(workload)
    total = 0
    factories = dataset_factories(workload)
    for entity in workload.dataset.entities:
        factory = factories[entity.name]
        started = time.perf_counter()
        done = 0
        for batch in factory.batches(entity.count, BATCH):
            adapter.load(entity, batch)
            done += len(batch)
            rate = done / max(1e-9, time.perf_counter() - started)
            progress.update(f"loading {entity.name}: {done:,}/{entity.count:,} records ({rate:,.0f}/s)")
        total += done
        progress.update(f"loading {entity.name}: {done:,}/{entity.count:,} records done", force=True)
    adapter.finish_load(workload)
    seconds = time.perf_counter() - began
    progress.done(f"loaded {total:,} records in {seconds:.1f}s ({total / max(seconds, 1e-9):,.0f} records/s)")
    return LoadPhase(records=total, seconds=round(seconds, 3), records_per_s=round(total / max(seconds, 1e-9), 1))
