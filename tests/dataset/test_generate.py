"""Generated data is deterministic, unique where it must be, and skewed where asked."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.dataset.generate import RecordFactory, dataset_factories
from harness.dataset.keys import Hotspot, Latest, Sequential, Uniform, Zipfian, zipf_skew
from harness.spec.loader import load_workload

ROOT = Path(__file__).resolve().parents[2]


def users_factory(seed: int = 42) -> RecordFactory:
    workload = load_workload(ROOT / "workloads" / "user-accounts.yaml")
    return RecordFactory(workload.dataset.entities[0], seed)


def test_records_are_deterministic_and_fields_regenerate_alone() -> None:
    a, b = users_factory(), users_factory()
    assert a.record(17) == b.record(17)
    assert a.value("email", 17) == a.record(17)["email"]
    assert users_factory(seed=7).record(17) != a.record(17)


def test_unique_fields_are_unique() -> None:
    factory = users_factory()
    for field in ("id", "email", "username"):
        values = [factory.value(field, i) for i in range(20_000)]
        assert len(set(values)) == len(values), field


def test_zipfian_is_skewed_and_uniform_is_not() -> None:
    size = 10_000
    zipf = Zipfian(random.Random(1))
    uniform = Uniform(random.Random(1))
    zipf_samples = [zipf.next(size) for _ in range(50_000)]
    uniform_samples = [uniform.next(size) for _ in range(50_000)]
    assert all(0 <= s < size for s in zipf_samples)
    assert zipf_skew(zipf_samples) > 0.2  # the hottest 1% of keys take a large share
    assert zipf_skew(uniform_samples) < 0.05


def test_latest_prefers_recent_records_and_hotspot_its_hot_set() -> None:
    latest = Latest(random.Random(2))
    samples = [latest.next(1000) for _ in range(10_000)]
    assert sum(s >= 900 for s in samples) / len(samples) > 0.5
    hotspot = Hotspot(random.Random(3), hot_fraction=0.1, hot_share=0.9)
    hot = [hotspot.next(1000) for _ in range(10_000)]
    assert zipf_skew(hot) > 0.01
    assert [Sequential(5).next(10) for _ in range(1)] == [5]


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "workloads").glob("*.yaml")))
def test_batch_generation_equals_record_by_record(name: str) -> None:
    """The numpy column generators must give exactly the scalar generators' values."""
    workload = load_workload(ROOT / "workloads" / f"{name}.yaml")
    for entity_name, factory in dataset_factories(workload).items():
        batch = [record for chunk in factory.batches(2500, 1000) for record in chunk]
        assert batch == [factory.record(i) for i in range(2500)], entity_name


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "workloads").glob("*.yaml")))
def test_a_batch_at_any_offset_equals_record_by_record(name: str) -> None:
    """A worker's bulk load generates its range with `batch(start, stop)`: the same records as one by one."""
    workload = load_workload(ROOT / "workloads" / f"{name}.yaml")
    for entity_name, factory in dataset_factories(workload).items():
        assert factory.batch(123_457, 124_000) == list(factory.records(123_457, 124_000)), entity_name
        assert factory.batch(7, 7) == []
        columns = factory.columns(500, 620)  # what the load workers hand an adapter (`load_columns`)
        assert columns.names == tuple(factory.entity.fields) and len(columns) == 120
        assert [dict(zip(columns.names, row)) for row in columns.rows()] == list(factory.records(500, 620))
