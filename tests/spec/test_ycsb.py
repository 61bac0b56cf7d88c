"""YCSB properties -> dbarena spec: each core workload maps to what YCSB runs, and what cannot be mapped
is refused, one line per property.

The expected values are YCSB's: CoreWorkload's defaults (readproportion 0.95, updateproportion
0.05, fieldcount 10, fieldlength 100, maxscanlength 1000, requestdistribution uniform,
writeallfields false) and the settings of workloads/workloada … workloadf (tests/spec/ycsb/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.errors import SpecError
from harness.spec.loader import load_workload
from harness.spec.models import Workload
from harness.spec.suite import LoadProfile
from harness.spec.ycsb import PROPERTIES, parse_properties, to_spec, workload_name, workload_yaml

HERE = Path(__file__).parent / "ycsb"
ROOT = Path(__file__).resolve().parents[2]
FIELDS = [f"field{i}" for i in range(10)]


def imported(name: str, **extra: str) -> tuple[Workload, LoadProfile]:
    props = {**parse_properties((HERE / name).read_text()), **extra}
    spec = to_spec(props, name)
    return Workload.model_validate(spec.workload), LoadProfile.model_validate(spec.load)


def ops(workload: Workload) -> dict[str, dict[str, Any]]:
    return {op.name: op.model_dump(exclude_defaults=True, exclude={"name", "entity"}) for op in workload.operations}


def test_parse_properties_reads_java_properties() -> None:
    text = "# comment\n! also\n a = 1 \nb:2\nc 3\nlong=x\\\n   y\nempty=\na=4\n"
    assert parse_properties(text) == {"a": "4", "b": "2", "c": "3", "long": "xy", "empty": ""}


def test_workloada_is_read_update_50_50_zipfian_writing_one_field() -> None:
    workload, load = imported("workloada")
    assert ops(workload) == {
        "read": {"kind": "read", "weight": 0.5, "distribution": "zipfian"},
        "update": {"kind": "update", "weight": 0.5, "distribution": "zipfian", "set": tuple(FIELDS), "write": "one"}}
    assert (load.users, load.operation_count, load.warmup_s, load.duration_s) == (1, 1000, 0, 3600)
    entity = workload.dataset.entities[0]
    assert (entity.name, entity.count, entity.key, list(entity.fields)) == ("usertable", 1000, "ycsb_key",
                                                                            ["ycsb_key", *FIELDS])


@pytest.mark.parametrize(("name", "expected"), [
    ("workloadb", {"read": (0.95, "zipfian"), "update": (0.05, "zipfian")}),
    ("workloadc", {"read": (1.0, "zipfian")}),
    ("workloadd", {"read": (0.95, "latest"), "insert": (0.05, "uniform")}),
    ("workloade", {"scan": (0.95, "zipfian"), "insert": (0.05, "uniform")}),
    ("workloadf", {"read": (0.5, "zipfian"), "read-modify-write": (0.5, "zipfian")}),
])
def test_each_core_workload_has_ycsbs_mix_and_distribution(name: str, expected: dict[str, tuple[float, str]]) -> None:
    workload, _ = imported(name)
    assert {op.name: (op.weight, op.distribution.value) for op in workload.operations} == expected


def test_workloade_scans_1_to_100_records_uniformly_and_f_reads_before_writing() -> None:
    e, _ = imported("workloade")
    scan = next(op for op in e.operations if op.name == "scan")
    assert ops(e)["scan"] == {"kind": "scan", "weight": 0.95, "distribution": "zipfian", "limit": 100}
    assert (scan.min_length, scan.max_length, scan.length_distribution) == (1, 100, "uniform")
    f, _ = imported("workloadf")
    assert ops(f)["read-modify-write"] == {"kind": "update", "weight": 0.5, "distribution": "zipfian",
                                           "set": tuple(FIELDS), "read_first": True, "write": "one"}


def test_the_imported_workloads_match_kv_caches_ycsb_presets() -> None:
    """kv-cache's presets ycsb-a … ycsb-f are YCSB's core workloads: the same record shape and operations."""
    kv = load_workload(ROOT / "workloads" / "kv-cache.yaml")
    for letter in "abcdef":
        workload, _ = imported(f"workload{letter}")
        preset = kv.with_preset(f"ycsb-{letter}")
        assert workload.dataset.entities[0].fields == preset.dataset.entities[0].fields
        shape = {"weight", "name", "zipf_constant", "hot_fraction", "hot_share"}
        mine = sorted((op.model_dump(exclude=shape) for op in workload.operations), key=repr)
        theirs = sorted((op.model_dump(exclude=shape) for op in preset.operations), key=repr)
        assert mine == theirs, letter


def test_ycsb_defaults_apply_to_what_a_file_leaves_out() -> None:
    spec = to_spec({"recordcount": "500", "scanproportion": "0.1", "maxexecutiontime": "60", "threadcount": "16",
                    "target": "2000", "fieldlengthdistribution": "zipfian", "minfieldlength": "10",
                    "fieldlength": "200", "requestdistribution": "hotspot", "hotspotdatafraction": "0.1",
                    "hotspotopnfraction": "0.9", "writeallfields": "true", "insertorder": "ordered",
                    "insertstart": "100", "insertcount": "200", "zipfianconstant": "1.2"}, "mine")
    workload, load = Workload.model_validate(spec.workload), LoadProfile.model_validate(spec.load)
    weights = {op.name: op.weight for op in workload.operations}
    assert weights == {"read": 0.95, "update": 0.05, "scan": 0.1}  # YCSB's default read/update proportions
    scan = next(op for op in workload.operations if op.name == "scan")
    assert (scan.max_length, scan.length_distribution, scan.hot_fraction, scan.hot_share) == (1000, "uniform", 0.1, 0.9)
    update = next(op for op in workload.operations if op.name == "update")
    assert update.write == "all"
    field = workload.dataset.entities[0].fields["field3"]
    assert field.model_dump() == {"type": "string", "length": 200, "min_length": 10, "length_distribution": "zipfian",
                                  "prefix": "", "unique": False}
    assert workload.dataset.entities[0].fields["ycsb_key"].type == "int"  # ordered: keys in insertion order
    assert (load.users, load.target_rate, load.duration_s, load.operation_count) == (16, 2000, 60, None)
    assert (load.insert_start, load.insert_count) == (100, 200)


def test_what_cannot_be_mapped_is_refused_one_line_per_property() -> None:
    props = {"workload": "site.ycsb.workloads.TimeSeriesWorkload", "requestdistribution": "exponential",
             "readallfields": "false", "fieldlengthdistribution": "histogram", "recordcount": "many",
             "maxscanlength": "20000", "scanproportion": "0.5", "mongodb.url": "mongodb://x", "dataintegrity": "true",
             "measurementtype": "hdrhistogram", "status.interval": "1"}
    with pytest.raises(SpecError) as caught:
        to_spec(props, "bad", where="mine.properties")
    lines = caught.value.problems
    named = sorted(line.split(": ")[1].split("=")[0] for line in lines)
    assert named == sorted(["workload", "requestdistribution", "readallfields", "fieldlengthdistribution",
                            "recordcount", "maxscanlength", "mongodb.url", "dataintegrity"])
    assert all(line.startswith("mine.properties: ") and "\n" not in line for line in lines)
    assert any("not supported, because a read returns every field" in line for line in lines)


def test_no_operation_is_refused_in_one_line() -> None:
    with pytest.raises(SpecError) as caught:
        to_spec({"readproportion": "0", "updateproportion": "0"}, "none")
    assert len(caught.value.problems) == 1 and "every operation proportion is 0" in caught.value.problems[0]


def test_the_written_workload_loads_as_a_spec(tmp_path: Path) -> None:
    path = tmp_path / "workloadd.yaml"
    path.write_text(workload_yaml(to_spec(parse_properties((HERE / "workloadd").read_text()), "workloadd"),
                                  "workloadd"))
    assert load_workload(path).name == "workloadd"
    assert workload_name("Workload_A") == "workload-a" and workload_name("1st") == "ycsb-1st"


def test_the_readme_maps_every_core_property() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [key for key in PROPERTIES if f"`{key}`" not in readme]
    assert not missing, f"README's YCSB table lacks {missing}"
