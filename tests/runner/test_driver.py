"""Operation arguments: inserts never reuse a record, reads stay on records that exist."""

from __future__ import annotations

from pathlib import Path

from harness.runner.driver import KeySpace, OperationMix
from harness.spec.loader import load_workload
from harness.spec.models import OperationKind

ROOT = Path(__file__).resolve().parents[2]


def insert_keys(mix: OperationMix, n: int) -> list[str]:
    driver = next(d for d in mix.drivers if d.kind is OperationKind.INSERT)
    key_field = driver.factory.key_field
    return [driver.arguments()[key_field] for _ in range(n)]


def test_inserts_of_users_and_of_later_runs_never_collide() -> None:
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(0.01)
    loaded = {OperationMix(workload, 0, 2, seed=1).drivers[0].factory.key_of(i) for i in range(100)}
    first_run = insert_keys(OperationMix(workload, 0, 2, seed=1), 50) + insert_keys(OperationMix(workload, 1, 2, seed=1), 50)
    second_run = insert_keys(OperationMix(workload, 0, 2, seed=1, insert_offset=1 << 40), 50)
    assert len(set(first_run)) == 100
    assert not set(first_run) & loaded
    assert not set(second_run) & (set(first_run) | loaded)


def test_positions_past_the_loaded_records_map_to_acknowledged_inserts() -> None:
    space = KeySpace(loaded=100, insert_base=100 + (1 << 40), first_slot=1, users=2, total_users=4)
    assert space.size() == 100
    first, second = space.next_insert(), space.next_insert()
    assert (first, second) == (100 + (1 << 40) + 1, 100 + (1 << 40) + 2)  # the process's slots 1 and 2
    assert space.next_insert() == 100 + (1 << 40) + 4 + 1  # next round of the run's 4 slots
    space.acknowledge(second)  # acknowledged out of order: named in acknowledgement order
    assert space.size() == 101
    assert space.record_index(99) == 99
    assert space.record_index(100) == second
