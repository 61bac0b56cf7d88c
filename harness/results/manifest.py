"""The environment a run happened in, captured automatically for every run record."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import harness
from harness.redact import redact_data


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def git_sha() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=False, cwd=Path(harness.__file__).parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def host() -> dict[str, Any]:
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "hostname": platform.node(),
        "os": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gb": memory_gb,
    }


def manifest(client_library: str, provisioner: dict[str, Any], engine_settings: dict[str, Any]) -> dict[str, Any]:
    libraries = ["locust", "gevent", "hdrhistogram", "pydantic"] + ([client_library] if client_library else [])
    return {
        "harness_version": harness.__version__,
        "git_sha": git_sha(),
        "python": platform.python_version(),
        "client_libraries": {name: _version(name) for name in libraries},
        "host": host(),
        "provisioner": redact_data(provisioner),  # the record redacts everything again; this is the source
        "engine_settings": redact_data(engine_settings),
    }
