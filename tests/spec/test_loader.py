"""The spec loader: valid specs load; every bad spec gives exactly one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import SpecError
from harness.spec.loader import load_selection, load_suite, load_workload, validate_file
from harness.spec.models import OperationKind

ROOT = Path(__file__).resolve().parents[2]
BAD = sorted((Path(__file__).parent / "bad").glob("*.yaml"))


def expected_message(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path} needs an '# expect:' first line"
    return first.removeprefix("# expect: ")


WORKLOADS = sorted((ROOT / "workloads").glob("*.yaml")) + sorted((ROOT / "benchmarks" / "overhead").glob("*.yaml"))
SUITES = sorted((ROOT / "benchmarks").glob("*.yaml"))
SELECTIONS = sorted((ROOT / "benchmarks" / "selection").glob("*.yaml"))


@pytest.mark.parametrize("path", WORKLOADS, ids=lambda p: p.stem)
def test_shipped_workloads_are_valid(path: Path) -> None:
    workload = load_workload(path)
    assert workload.operations
    assert validate_file(path) == []


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_shipped_suites_are_valid(path: Path) -> None:
    assert validate_file(path) == []
    assert load_suite(path).runs


@pytest.mark.parametrize("path", SELECTIONS, ids=lambda p: p.stem)
def test_shipped_selections_are_valid(path: Path) -> None:
    assert validate_file(path) == []
    selection = load_selection(path)
    assert selection.engines and (ROOT / "workloads" / f"{selection.workload}.yaml").exists()


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_spec_gives_one_clear_line(path: Path) -> None:
    problems = validate_file(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: ")
    assert expected_message(path) in problems[0]


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_validate_cli_exits_nonzero_without_traceback(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_file_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_file(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: no such file"]
    with pytest.raises(SpecError, match="is a directory"):
        load_workload(tmp_path)
    (tmp_path / "empty-dir").mkdir()
    assert main(["validate", str(tmp_path / "empty-dir")]) == 1
    assert "is a directory" in capsys.readouterr().err


def test_validate_cli_accepts_valid_directory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "workloads")]) == 0
    assert "valid" in capsys.readouterr().out


def test_presets_reweight_and_drop_operations() -> None:
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml")
    ycsb_c = workload.with_preset("ycsb-c")
    assert [op.name for op in ycsb_c.operations] == ["read"]
    assert ycsb_c.operations[0].kind is OperationKind.READ


def test_scaling_multiplies_counts() -> None:
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml")
    assert workload.scaled(2.5).dataset.entities[0].count == workload.dataset.entities[0].count * 2.5


def test_models_are_frozen() -> None:
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml")
    with pytest.raises(Exception, match="frozen"):
        workload.name = "other"  # type: ignore[misc]
