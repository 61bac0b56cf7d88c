"""Make an engine reachable and say how: external URL, Docker Compose, or native processes.

`auto` picks external (a URL was given) → compose (a Docker engine answers) → native.
Whatever the harness started itself, it stops at the end, by PID or compose service; a native
server's data folder is removed then too, unless the data is kept (`--keep-data`, which the CLI
passes on as `$DBARENA_KEEP_DATA=1` to the processes it starts; `dbarena engines prune` removes
kept and leftover folders later).
`Endpoint.url` is the URL to connect with; `details` (written to the run record) holds it
redacted, never with its password or token.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.engines.registry import engine_info
from harness.errors import EngineUnavailable, UserError
from harness.paths import compose_file
from harness.provision.native import base as native
from harness.provision.native.data import human_bytes
from harness.provision.native.registry import get_launcher
from harness.redact import redact_url

MODES = ("auto", "external", "native", "compose")
KEEP_DATA_ENV = "DBARENA_KEEP_DATA"


def keep_data_default() -> bool:
    """`$DBARENA_KEEP_DATA` set to 1/true/yes: native engines' data folders outlive the run."""
    return os.environ.get(KEEP_DATA_ENV, "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class Endpoint:
    engine: str
    url: str
    provisioner: str
    details: dict[str, Any] = field(default_factory=dict)


def url_from_env(engine: str) -> str | None:
    """`DBARENA_<ENGINE>_URL`, e.g. DBARENA_POSTGRES_URL."""
    return os.environ.get(f"DBARENA_{engine.upper()}_URL")


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                              timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def choose_mode(engine: str, mode: str, url: str | None) -> str:
    if mode not in MODES:
        raise UserError(f"--provision: {mode!r} is not one of {', '.join(MODES)}")
    if mode != "auto":
        return mode
    if url or url_from_env(engine):
        return "external"
    if engine_info(engine).compose_service and compose_file().exists() and docker_answers():
        return "compose"
    return "native"


@contextmanager
def provisioned(engine: str, mode: str = "auto", url: str | None = None,
                progress: Callable[[str], None] = print) -> Iterator[Endpoint]:
    """An endpoint for `engine` for the duration of the block."""
    info = engine_info(engine)
    chosen = choose_mode(engine, mode, url)
    if info.name == "fake":
        yield Endpoint(engine, url or url_from_env(engine) or info.default_url, "in-process")  # DBARENA_FAKE_URL too
        return
    if chosen == "external":
        given = url or url_from_env(engine)
        if not given:
            raise UserError(f"--provision external needs --url or DBARENA_{engine.upper()}_URL for {engine}")
        yield Endpoint(engine, given, "external", {"url": redact_url(given)})
        return
    if chosen == "compose":
        with _compose(engine, progress) as endpoint:
            yield endpoint
        return
    with _native(engine, progress, keep_data_default()) as endpoint:
        yield endpoint


@contextmanager
def _native(engine: str, progress: Callable[[str], None], keep_data: bool) -> Iterator[Endpoint]:
    info = engine_info(engine)
    if info.native is None:
        raise UserError(f"{engine} has no native route on this machine; give --url or use compose")
    server_name = info.native.name
    running = native.read_state(server_name)
    if running is not None:  # started earlier by `dbarena engines up`: use it, leave it running
        yield Endpoint(engine, running.url, "native", {"server": server_name, "pid": running.pid,
                                                      "started_by": "engines up"})
        return
    launcher = get_launcher(server_name)
    server = native.start(launcher, progress=progress)
    try:
        yield Endpoint(engine, server.url, "native", {"server": server_name, "pid": server.pid, "route": launcher.route,
                                                      "version": launcher.version, "port": server.port,
                                                      "ready_after_s": server.ready_after_s})
    finally:
        freed = native.stop(server, keep_data=keep_data)
        kept = f"kept its data in {server.data_dir} (--keep-data)" if keep_data else \
            f"removed its data folder ({human_bytes(freed)})"
        progress(f"stopped {server_name} (pid {server.pid}); {kept}")


@contextmanager
def _compose(engine: str, progress: Callable[[str], None]) -> Iterator[Endpoint]:
    info = engine_info(engine)
    service = info.compose_service
    compose = compose_file()
    if service is None or not compose.exists():
        raise UserError(f"{engine}: no compose service; use --provision native or external")
    if not docker_answers():
        raise EngineUnavailable("--provision compose: no Docker engine answers `docker info`; use native or external")
    progress(f"docker compose up {service} (waiting until healthy)")
    base = ["docker", "compose", "-f", str(compose)]
    done = subprocess.run([*base, "--profile", "standins", "up", "-d", "--wait", service], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise EngineUnavailable(f"docker compose up {service} failed: {done.stderr.strip()[-400:]}")
    try:
        yield Endpoint(engine, info.compose_url or info.default_url, "compose", {"service": service, "file": str(compose)})
    finally:
        subprocess.run([*base, "stop", service], capture_output=True, check=False)
        progress(f"docker compose stop {service}")
