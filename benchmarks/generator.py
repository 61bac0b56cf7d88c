"""Data generator throughput in records per second on one core (target: >= 200,000 simple records/s).

    .venv/bin/python benchmarks/generator.py

"Simple" is an int key, a float, a choice and a bool; the other rows show the workloads'
real entities for reference. Side by side with a plain Python loop building the same
dicts with `random`, the floor any generator pays.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from harness.dataset.generate import RecordFactory, dataset_factories
from harness.spec.loader import load_workload
from harness.spec.models import BoolField, ChoiceField, Entity, FloatField, IntField

SIMPLE = Entity(name="simple", count=1, key="id", fields={
    "id": IntField(type="int", sequence=True), "value": FloatField(type="float"),
    "kind": ChoiceField(type="choice", values=("a", "b", "c")), "flag": BoolField(type="bool"),
})


def rate(factory: RecordFactory, n: int) -> float:
    began = time.perf_counter()
    for batch in factory.batches(n, 1000):
        del batch
    return n / (time.perf_counter() - began)


def plain_loop(n: int) -> float:
    rng = random.Random(1)
    began = time.perf_counter()
    for i in range(n):
        _ = {"id": i, "value": rng.random(), "kind": rng.choice("abc"), "flag": rng.random() < 0.5}
    return n / (time.perf_counter() - began)


def main() -> None:
    n = 300_000
    simple = rate(RecordFactory(SIMPLE, 42), n)
    print(f"{'simple records (dbarena generator)':45s} {simple:>12,.0f} records/s   (target >= 200,000)")
    print(f"{'simple records (plain random loop)':45s} {plain_loop(n):>12,.0f} records/s")
    for name in ("kv-cache", "user-accounts", "audit-log", "metrics-timeseries", "product-search"):
        workload = load_workload(ROOT / "workloads" / f"{name}.yaml")
        factories = dataset_factories(workload)
        entity = workload.dataset.entities[0]
        print(f"{name + ' ' + entity.name:45s} {rate(factories[entity.name], 30_000):>12,.0f} records/s")


if __name__ == "__main__":
    main()
