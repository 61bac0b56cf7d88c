"""Where dbarena's project files live, resolved in one place (only the shipped library is found from this module's location).

A project folder holds `workloads/`, `benchmarks/`, `results/` and `docker-compose.yml` (this
repository is one). The project root is `--home DIR` (the CLI sets `DBARENA_HOME`, so worker
processes inherit it), else `$DBARENA_HOME`, else the nearest of the current directory and its
parents that holds `workloads/` or `benchmarks/` (as git finds its repository). `dbarena` works
from any other directory too, with no project:
- workloads and the default suite resolve from the library shipped inside the package
  (`harness/library/`: the repository's `workloads/*.yaml`, `benchmarks/default.yaml` and
  `benchmarks/selection/*.yaml` and `docker-compose.yml`, linked in a checkout and copied into
  the wheel); a project without its own `workloads/` or `benchmarks/` uses the library's too;
- results go to `$XDG_DATA_HOME/dbarena/results` (default `~/.local/share/dbarena/results`).
`$DBARENA_RESULTS` moves the results folder alone, in every case (tests use it).
Nothing else in the package may build a path from the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "DBARENA_HOME"
RESULTS_ENV = "DBARENA_RESULTS"
PROJECT_MARKERS = ("workloads", "benchmarks")  # a folder holding one of these is a project


def library_dir() -> Path:
    """`harness/library`: the workloads and suites shipped with the package (used when no project has them)."""
    return Path(__file__).resolve().parent / "library"


def find_project(start: Path | None = None) -> Path | None:
    """The nearest of `start` (default: the current directory) and its parents holding workloads/ or benchmarks/."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if any((folder / marker).is_dir() for marker in PROJECT_MARKERS):
            return folder
    return None


def project() -> Path | None:
    """The project root: `$DBARENA_HOME`, else the project around the current directory, else None (no project)."""
    configured = os.environ.get(HOME_ENV)
    return Path(configured).expanduser() if configured else find_project()


def project_root() -> Path:
    """`project()`, else the current directory (where a command that writes project files writes them)."""
    return project() or Path.cwd()


def set_project_root(path: Path) -> None:
    """Make `path` the project root for this process and the processes it starts (`--home`)."""
    os.environ[HOME_ENV] = str(path.expanduser().resolve())


def _project_or_library(name: str) -> Path:
    root = project()
    if root is not None and (root / name).is_dir():
        return root / name
    return library_dir() / name


def workloads_dir() -> Path:
    """`<root>/workloads`, else the library's: workload specs found by name."""
    return _project_or_library("workloads")


def benchmarks_dir() -> Path:
    """`<root>/benchmarks`, else the library's: suites and selection studies."""
    return _project_or_library("benchmarks")


def default_suite() -> Path:
    """The suite `dbarena bench` runs without --suite or --workload."""
    return benchmarks_dir() / "default.yaml"


def compose_file() -> Path:
    """`<root>/docker-compose.yml`, else the library's copy: the engines for users with a Docker engine."""
    root = project()
    return (root if root is not None else library_dir()) / "docker-compose.yml"


def user_data_dir() -> Path:
    """`$XDG_DATA_HOME/dbarena`, else `~/.local/share/dbarena`: dbarena's own folder outside any project."""
    configured = os.environ.get("XDG_DATA_HOME")
    return (Path(configured).expanduser() if configured else Path.home() / ".local" / "share") / "dbarena"


def results_dir() -> Path:
    """`$DBARENA_RESULTS`, else `<root>/results`, else (no project) `user_data_dir()/results`: run records, baselines, reports."""
    configured = os.environ.get(RESULTS_ENV)
    if configured:
        return Path(configured).expanduser()
    root = project()
    return root / "results" if root is not None else user_data_dir() / "results"
