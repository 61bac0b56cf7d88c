"""examples/github-actions.yml works as docs/ci.md says: its own `run:` commands, run in a project home
of their own, pass without a baseline, fail the job (exit 3, a `regressed` JUnit failure) once a
baseline is committed and the engine gets slower, and run as written against a real PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "github-actions.yml"
VENV_BIN = ROOT / ".venv" / "bin"
SHORT = {"DURATION": "3s", "WARMUP": "1s", "USERS": "4"}  # the job's 30 s, shortened for the test


def job() -> dict[str, Any]:
    (only,) = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"].values()
    return dict(only)


def dbarena_commands() -> list[str]:
    """The job's `run:` commands that call dbarena, in order (installing is the test's venv)."""
    runs = [step["run"] for step in job()["steps"] if "run" in step]
    return [command for command in runs if command.lstrip().startswith("dbarena ")]


def home(tmp_path: Path) -> Path:
    """A checkout as the job sees it: the spec folders, no results."""
    checkout = tmp_path / "checkout"
    for folder in ("workloads", "benchmarks"):
        shutil.copytree(ROOT / folder, checkout / folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return checkout


def run(command: str, checkout: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DBARENA_")}
    env.update({key: str(value) for key, value in job()["env"].items()})
    env.update({"PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", **SHORT, **overrides})
    return subprocess.run(["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def failures(report: Path) -> dict[tuple[str, str], str]:
    """(classname, name) -> failure type, for every failed testcase of a JUnit file."""
    found = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is not None:
            found[(case.get("classname", ""), case.get("name", ""))] = failure.get("type", "")
    return found


def test_workflow_shape_matches_the_docs() -> None:
    gate = job()
    service = gate["services"]["postgres"]
    assert service["image"].startswith("postgres:")
    url = urlparse(gate["env"]["DBARENA_POSTGRES_URL"])
    assert (url.username, url.password, url.path.lstrip("/")) == (
        service["env"]["POSTGRES_USER"], service["env"]["POSTGRES_PASSWORD"], service["env"]["POSTGRES_DB"])
    assert f"{url.port}:5432" in service["ports"]
    bench = next(c for c in dbarena_commands() if c.startswith("dbarena bench"))
    assert "--fail-on regressed" in bench and "--junit dbarena-gate.xml" in bench and "--provision external" in bench
    publish = next(s for s in gate["steps"] if "junit" in s.get("uses", ""))
    assert publish["if"] == "always()" and publish["with"]["report_paths"] == "dbarena-gate.xml"
    assert "examples/github-actions.yml" in (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")


def test_the_job_passes_without_a_baseline_then_fails_on_a_regression(tmp_path: Path) -> None:
    checkout = home(tmp_path)
    validate, bench = dbarena_commands()
    assert run(validate, checkout).returncode == 0
    first = run(bench, checkout, ENGINE="fake", DBARENA_FAKE_URL="fake://?latency_us=400")
    assert first.returncode == 0, first.stderr
    (record,) = (checkout / "results" / "runs").glob("*.json")
    run_id = json.loads(record.read_text(encoding="utf-8"))["run_id"]
    promoted = run(f"dbarena baseline promote {run_id}", checkout)  # docs/ci.md, "The committed baseline"
    assert promoted.returncode == 0, promoted.stderr
    assert (checkout / "results" / "baselines" / "fake" / "kv-cache-ycsb-b.json").exists()

    slower = run(bench, checkout, ENGINE="fake", DBARENA_FAKE_URL="fake://?latency_us=4000")  # 10x the service time
    assert slower.returncode == 3, slower.stdout + slower.stderr  # REGRESSED: the job fails
    failed = failures(checkout / "dbarena-gate.xml")
    assert failed and set(failed.values()) == {"regressed"}, failed
    assert ("fake.kv-cache.ycsb-b.read", "p50") in failed, failed  # 3 s: too few seconds for throughput's test


@pytest.mark.postgres
def test_the_bench_step_runs_as_written_against_postgresql(tmp_path: Path, postgres_url: str) -> None:
    checkout = home(tmp_path)
    bench = dbarena_commands()[-1]
    done = run(bench, checkout, DBARENA_POSTGRES_URL=postgres_url)
    assert done.returncode == 0, done.stdout + done.stderr
    (record,) = (checkout / "results" / "runs").glob("*.json")
    stored = json.loads(record.read_text(encoding="utf-8"))
    assert (stored["engine"], stored["workload"], stored["preset"], stored["valid"]) == ("postgres", "kv-cache", "ycsb-b", True)
    cases = {(c.get("classname"), c.get("name")) for c in ET.parse(checkout / "dbarena-gate.xml").getroot().iter("testcase")}
    assert ("postgres.kv-cache.ycsb-b", "valid") in cases and not failures(checkout / "dbarena-gate.xml")
