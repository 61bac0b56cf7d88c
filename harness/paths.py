"""Where dbarena's project files live, resolved in one place and never from a module's own location.

The project root holds `workloads/`, `benchmarks/`, `results/` and `docker-compose.yml`. It is
`--home DIR` (the CLI sets `DBARENA_HOME`, so worker processes inherit it), else `$DBARENA_HOME`,
else the current directory. `$DBARENA_RESULTS` moves the results folder alone (tests use it).
Nothing else in the package may build a path from the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "DBARENA_HOME"
RESULTS_ENV = "DBARENA_RESULTS"


def project_root() -> Path:
    """The project root: `$DBARENA_HOME`, else the current directory."""
    configured = os.environ.get(HOME_ENV)
    return Path(configured).expanduser() if configured else Path.cwd()


def set_project_root(path: Path) -> None:
    """Make `path` the project root for this process and the processes it starts (`--home`)."""
    os.environ[HOME_ENV] = str(path.expanduser().resolve())


def workloads_dir() -> Path:
    """`<root>/workloads`: workload specs found by name."""
    return project_root() / "workloads"


def benchmarks_dir() -> Path:
    """`<root>/benchmarks`: suites and selection studies."""
    return project_root() / "benchmarks"


def default_suite() -> Path:
    """The suite `dbarena bench` runs without --suite or --workload."""
    return benchmarks_dir() / "default.yaml"


def compose_file() -> Path:
    """`<root>/docker-compose.yml`, the engines for users with a Docker engine."""
    return project_root() / "docker-compose.yml"


def results_dir() -> Path:
    """`$DBARENA_RESULTS`, else `<root>/results`: run records, baselines, reports."""
    configured = os.environ.get(RESULTS_ENV)
    return Path(configured).expanduser() if configured else project_root() / "results"
