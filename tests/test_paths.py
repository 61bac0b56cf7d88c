"""Project paths: --home/$DBARENA_HOME, else the project around the current directory, else the shipped library
and the user data folder — so `dbarena` works from any directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import paths
from harness.cli import main
from harness.cli.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current directory that is no project, with no dbarena variables set."""
    for name in (paths.HOME_ENV, paths.RESULTS_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    here = tmp_path / "somewhere"
    here.mkdir()
    monkeypatch.chdir(here)
    return here


def test_outside_a_project_workloads_come_from_the_library_and_results_go_to_the_user_data_folder(
        nowhere: Path, tmp_path: Path) -> None:
    assert paths.project() is None and paths.find_project() is None
    assert paths.workloads_dir() == paths.library_dir() / "workloads"
    assert sorted(p.name for p in paths.workloads_dir().glob("*.yaml")) == \
        sorted(p.name for p in (ROOT / "workloads").glob("*.yaml"))
    assert paths.default_suite() == paths.library_dir() / "benchmarks" / "default.yaml"
    assert paths.default_suite().read_text() == (ROOT / "benchmarks" / "default.yaml").read_text()
    assert paths.results_dir() == tmp_path / "xdg" / "dbarena" / "results"


def test_inside_a_project_its_own_folders_win_from_any_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 nowhere: Path) -> None:
    project = tmp_path / "project"
    (project / "workloads").mkdir(parents=True)
    (project / "docs" / "deep").mkdir(parents=True)
    monkeypatch.chdir(project / "docs" / "deep")
    assert paths.find_project() == project.resolve()
    assert paths.workloads_dir() == project.resolve() / "workloads"
    assert paths.benchmarks_dir() == paths.library_dir() / "benchmarks"  # the project has none: the library's
    assert paths.results_dir() == project.resolve() / "results"
    monkeypatch.setenv(paths.RESULTS_ENV, str(tmp_path / "elsewhere"))
    assert paths.results_dir() == tmp_path / "elsewhere"


def test_home_wins_over_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nowhere: Path) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "home"))
    assert paths.project() == tmp_path / "home"
    assert paths.results_dir() == tmp_path / "home" / "results"
    assert paths.workloads_dir() == paths.library_dir() / "workloads"  # home holds no workloads/


def test_bench_from_a_directory_that_is_no_project(nowhere: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "--engine", "fake", "--workload", "kv-cache", "--duration", "1s", "--warmup", "0s", "--users", "2"]
    assert main(argv) == ExitCode.OK
    (record,) = (tmp_path / "xdg" / "dbarena" / "results" / "runs").glob("*.json")
    assert f"run record: {record}" in capsys.readouterr().out
    assert not any(nowhere.iterdir())
