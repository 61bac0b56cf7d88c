"""A wheel built from the repository works from any directory, launcher sources included.

The wheel is built from a copy of the repository's package (the checkout stays clean),
installed with no dependencies into a scratch venv that borrows this environment's
installed libraries through a `.pth` line (no reinstall of numpy & co.), and then used
from an unrelated temporary directory: `dbarena engines list` runs, the launcher sources
(the Neo4j pom, the FerretDB Go wrapper, ...) are found with importlib.resources inside
the installed package, and a launcher copies them out to build.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from importlib.util import find_spec
from pathlib import Path

import pytest

from harness.engines.registry import ENGINES

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# Runs inside the scratch venv, from the unrelated directory; prints what the test checks.
PROBE = textwrap.dedent(
    """
    import json, sys, tempfile
    from importlib.resources import files
    from pathlib import Path
    import harness
    from harness.paths import default_suite, workloads_dir
    from harness.provision.native.registry import get_launcher
    from harness.provision.native.neo4j.launcher import SOURCES as NEO4J
    from harness.provision.native.ferretdb.launcher import SOURCES as FERRETDB

    data = files("harness.provision.native")
    out = {
        "harness": harness.__file__,
        "pom": data.joinpath("neo4j", "pom.xml").is_file(),
        "main_go": data.joinpath("ferretdb", "main.go").is_file(),
        "neo4j_sources": [name for name, _ in NEO4J.files()],
        "ferretdb_sources": [name for name, _ in FERRETDB.files()],
        "workloads": [str(p) for p in sorted(workloads_dir().glob("*.yaml"))],
        "default_suite": str(default_suite()) if default_suite().is_file() else None,
    }
    with tempfile.TemporaryDirectory() as tmp:
        NEO4J.copy_to(Path(tmp) / "build")  # what `build` hands to Maven
        out["copied"] = sorted(str(p.relative_to(tmp)) for p in Path(tmp).rglob("*") if p.is_file())
        (Path(tmp) / "data").mkdir()
        get_launcher("influxdb").prepare_data(Path(tmp), Path(tmp) / "data", 18086, print)
        out["influxdb_conf"] = (Path(tmp) / "data" / "influxdb.conf").read_text()
    print(json.dumps(out))
    """
)


def _package_files() -> list[str]:
    """Paths (relative to the repository) of every file of harness/ the repository holds."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        done = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "harness"],
                              cwd=ROOT, capture_output=True, text=True, check=True)
        listed = done.stdout.splitlines()
    else:
        listed = [str(p.relative_to(ROOT)) for p in (ROOT / "harness").rglob("*") if p.is_file()]
    listed = [file for p in listed for file in _through_links(p)]
    return sorted(p for p in listed if (ROOT / p).is_file() and "__pycache__" not in p and not p.endswith(".pyc"))


def _through_links(path: str) -> list[str]:
    """`path`, or the files under it when it links to a folder (harness/library/workloads -> workloads/)."""
    full = ROOT / path
    if not (full.is_symlink() and full.is_dir()):
        return [path]
    return sorted(str(Path(path) / f.relative_to(full)) for f in full.rglob("*") if f.is_file())


def _run(argv: list[str], cwd: Path, timeout: float = 180.0,
         env_set: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    unset = ("PYTHONPATH", "VIRTUAL_ENV", "DBARENA_HOME", "DBARENA_RESULTS")
    env = {k: v for k, v in os.environ.items() if k not in unset} | (env_set or {})
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch venv with the freshly built wheel installed; returns the venv folder."""
    top = tmp_path_factory.mktemp("packaging")
    source = top / "source"
    for name in ["pyproject.toml", "README.md", *_package_files()]:
        if (ROOT / name).exists():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    isolation = ["--no-build-isolation"] if find_spec("setuptools") else []  # else setuptools comes from PyPI
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(top / "dist"), str(source)], cwd=top)
    wheel = next((top / "dist").glob("dbarena-*.whl"))
    venv = top / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=top)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=top)
    # The dependencies already installed here, appended after the venv's own site-packages.
    (_site(venv) / "dbarena_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _site(venv: Path) -> Path:
    """The venv's own site-packages."""
    query = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(_run([str(venv / "bin" / "python"), "-c", query], cwd=venv).stdout.strip())


def test_engines_list_runs_from_an_unrelated_directory(installed: Path, tmp_path: Path) -> None:
    done = _run([str(installed / "bin" / "dbarena"), "engines", "list"], cwd=tmp_path)
    listed = {line.split()[0] for line in done.stdout.splitlines() if line.split()}
    assert set(ENGINES) <= listed, done.stdout
    assert not any(tmp_path.iterdir()), "engines list wrote into the current directory"


def test_launcher_sources_are_package_data_of_the_installed_package(installed: Path, tmp_path: Path) -> None:
    probe = json.loads(_run([str(installed / "bin" / "python"), "-c", PROBE], cwd=tmp_path).stdout.splitlines()[-1])
    assert Path(probe["harness"]).is_relative_to(_site(installed)), probe["harness"]  # the wheel, not this checkout
    assert probe["pom"] and probe["main_go"]
    assert probe["neo4j_sources"] == ["pom.xml", "src/main/java/dbarena/neo4j/Main.java"]
    assert probe["ferretdb_sources"] == ["go.mod", "go.sum", "main.go"]
    assert probe["copied"] == ["build/pom.xml", "build/src/main/java/dbarena/neo4j/Main.java"]
    assert 'bind-address = "127.0.0.1:18086"' in probe["influxdb_conf"]  # the template, read from the package
    library = Path(probe["harness"]).parent / "library"  # no project here: the library shipped in the wheel
    assert probe["workloads"] == [str(library / "workloads" / p.name) for p in sorted((ROOT / "workloads").glob("*.yaml"))]
    assert probe["default_suite"] == str(library / "benchmarks" / "default.yaml")


def test_bench_runs_from_an_unrelated_directory_and_saves_in_the_user_data_folder(installed: Path, tmp_path: Path) -> None:
    here, data_home = tmp_path / "somewhere", tmp_path / "xdg"
    here.mkdir()
    argv = [str(installed / "bin" / "dbarena"), "bench", "--engine", "fake", "--workload", "kv-cache", "--duration", "1s",
            "--warmup", "0s", "--users", "2"]
    done = _run(argv, cwd=here, env_set={"XDG_DATA_HOME": str(data_home)})
    (record,) = (data_home / "dbarena" / "results" / "runs").glob("*.json")
    assert f"run record: {record}" in done.stdout
    assert json.loads(record.read_text())["workload"] == "kv-cache"
    assert not any(here.iterdir()), "bench wrote into the current directory"


def test_the_installed_package_holds_every_file_of_the_repository_package(installed: Path) -> None:
    """Every module and data file ships: a folder without __init__.py or an unlisted data file fails here."""
    site = _site(installed)
    shipped = sorted(str(p.relative_to(site)) for p in (site / "harness").rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts)
    assert shipped == _package_files()
