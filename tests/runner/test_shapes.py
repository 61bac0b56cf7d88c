"""Load shapes (stages) and scenarios: what each user does when, and what the record says per stage/scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.metrics.histogram import decode
from harness.results.build import run_and_record
from harness.runner.pacing import NS_PER_S, scenario_of, segments_for
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

ROOT = Path(__file__).resolve().parents[2]
STAGES = {"users": 4, "warmup": 1, "stages": [{"duration": "2s", "users": 2}, {"duration": "2s", "rate": 300},
                                              {"duration": "1s", "rate": 800}]}
SCENARIOS = {"warmup": 1, "duration": 3, "scenarios": [
    {"name": "writes", "operations": ["insert", "update"], "users": 2, "rate": 200},
    {"name": "reads", "operations": ["read"], "users": 2, "think_time": "5ms"}]}


def kv():  # type: ignore[no-untyped-def]
    return load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(0.05)


def test_stages_set_the_duration_and_the_largest_user_count() -> None:
    load = LoadProfile.model_validate(STAGES)
    assert load.duration_s == 5.0 and load.users == 4 and load.open_loop
    assert LoadProfile.model_validate({"stages": [{"duration": 1, "users": 12}]}).users == 12


@pytest.mark.parametrize("bad", [
    {**STAGES, "scenarios": SCENARIOS["scenarios"]},
    {"target_rate": 10, "stages": [{"duration": 1}]},
    {"target_rate": 10, "think_time": "1ms"},
    {"scenarios": [{"name": "a", "operations": ["read"], "users": 1}, {"name": "b", "operations": ["read"], "users": 1}]},
])
def test_incoherent_shapes_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        LoadProfile.model_validate(bad)


def test_segments_follow_the_stages_and_the_first_covers_the_warmup() -> None:
    load = LoadProfile.model_validate(STAGES)
    t0, start = 0, NS_PER_S  # warm-up of 1 s
    third = segments_for(load, user_slot=2, t0_ns=t0, measure_from_ns=start, measure_until_ns=start + 5 * NS_PER_S)
    assert [(s.start_ns, s.end_ns, s.active, s.rate) for s in third] == [
        (0, 3 * NS_PER_S, False, None), (3 * NS_PER_S, 5 * NS_PER_S, True, 300), (5 * NS_PER_S, 6 * NS_PER_S, True, 800)]
    first = segments_for(load, user_slot=0, t0_ns=t0, measure_from_ns=start, measure_until_ns=start + 5 * NS_PER_S)
    assert first[0].active and first[0].group_users == 2


def test_scenarios_take_the_user_slots_in_order() -> None:
    load = LoadProfile.model_validate(SCENARIOS)
    assert load.users == 4
    assert [scenario_of(load, slot).name for slot in range(4)] == ["writes", "writes", "reads", "reads"]  # type: ignore[union-attr]
    (segment,) = segments_for(load, user_slot=3, t0_ns=0, measure_from_ns=0, measure_until_ns=NS_PER_S)
    assert (segment.rate, segment.group_users, segment.position, segment.think_time_s) == (None, 2, 1, 0.005)


def test_a_staged_run_is_summarised_per_stage() -> None:
    load = LoadProfile.model_validate({**STAGES, "processes": 2})
    record = run_and_record(RunRequest(engine="fake", url="fake://stages?latency_us=500", workload=kv(), load=load),
                            Progress())
    assert record.valid, record.invalid_reasons
    assert [(s.users, s.target_rate) for s in record.stages] == [(2, None), (4, 300.0), (4, 800.0)]
    assert record.stages[1].total_throughput_ops_s == pytest.approx(300, rel=0.1)
    assert record.stages[2].total_throughput_ops_s == pytest.approx(800, rel=0.1)
    for name, op in record.operations.items():  # every measured operation is in exactly one stage
        assert sum(stage.operations[name].count for stage in record.stages) == op.count
        assert sum(decode(stage.operations[name].histogram).get_total_count() for stage in record.stages) == op.count
    measured_rows = sum(p.count for p in record.timeseries if p.phase == "measure")
    assert measured_rows == sum(op.count for op in record.operations.values())


def test_scenarios_run_their_own_operations_at_their_own_rates() -> None:
    load = LoadProfile.model_validate(SCENARIOS)
    record = run_and_record(RunRequest(engine="fake", url="fake://scenarios?latency_us=500", workload=kv(), load=load),
                            Progress())
    assert record.valid, record.invalid_reasons
    writes, reads = record.scenarios
    assert writes.throughput_ops_s == pytest.approx(200, rel=0.1)
    assert writes.count == record.operations["insert"].count + record.operations["update"].count
    assert reads.count == record.operations["read"].count
    # 2 closed-loop readers pausing 5 ms after each call of >= 0.5 ms: at most 2 / 5.5 ms
    assert 0 < reads.throughput_ops_s <= 2 / 0.0055


def test_a_scenario_naming_an_operation_outside_the_mix_is_one_line() -> None:
    load = LoadProfile.model_validate({"scenarios": [{"name": "w", "operations": ["upsert"], "users": 1}]})
    with pytest.raises(SpecError) as caught:
        run_and_record(RunRequest(engine="fake", url="fake://", workload=kv(), load=load), Progress())
    (line,) = caught.value.problems
    assert "load.scenarios.w.operations: 'upsert' not in the mix of kv-cache" in line and "update" in line
