"""Small helpers shared by the adapter tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness.dataset.generate import dataset_factories
from harness.engines.base import EngineAdapter
from harness.spec.loader import load_workload
from harness.spec.models import Workload

ROOT = Path(__file__).resolve().parents[2]


def workload(name: str, count: int) -> Workload:
    spec = load_workload(ROOT / "workloads" / f"{name}.yaml")
    return spec.scaled(count / spec.dataset.entities[0].count)


def load_all(adapter: EngineAdapter, spec: Workload) -> None:
    adapter.prepare(spec)
    factories = dataset_factories(spec)
    for entity in spec.dataset.entities:
        for batch in factories[entity.name].batches(entity.count, 100):
            adapter.load(spec, entity, batch)
    adapter.finish_load(spec)


def after(seconds: float, action: Callable[[], object]) -> threading.Thread:
    """Run `action` once, `seconds` from now, in a thread (stalls and kills during a run)."""
    def run() -> None:
        time.sleep(seconds)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
