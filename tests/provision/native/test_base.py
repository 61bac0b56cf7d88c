"""`base.start(keep_data=True)`: a server killed with SIGKILL comes back at its port on the data it left.

A stand-in launcher (a few lines of Python serving a file of its data directory on a TCP
port) keeps this a unit test: no engine is needed.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from harness.provision.native import base
from harness.provision.ports import port_open

SERVE = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen()
for _ in range(1000):
    client, _ = server.accept()
    with open("generation", "rb") as generation:
        client.sendall(generation.read())
    client.close()
"""


class FileServer(base.NativeLauncher):
    """Serves the content of `generation`, written once per fresh data directory."""

    engine = "fileserver"
    version = "test"
    default_port = 1
    route = "a test stand-in"

    def __init__(self) -> None:
        self.prepared = 0

    def build(self, artifacts: Path, progress: base.Progress) -> None:
        return None

    def prepare_data(self, artifacts: Path, data: Path, port: int, progress: base.Progress) -> None:
        self.prepared += 1
        (data / "generation").write_text(f"generation {self.prepared}")

    def plan(self, artifacts: Path, data: Path, port: int) -> base.LaunchPlan:
        return base.LaunchPlan(argv=(sys.executable, "-c", SERVE, str(port)), cwd=data)

    def url(self, port: int) -> str:
        return f"file-server://127.0.0.1:{port}"


def served(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        return connection.recv(100).decode()


def kill_9(server: base.NativeServer) -> None:
    os.killpg(server.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while (base.pid_alive(server.pid) or port_open(server.port)) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_killed_server_restarts_on_its_data_at_its_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBARENA_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DBARENA_CACHE", str(tmp_path / "cache"))
    launcher = FileServer()
    port = base.free_port_for(launcher)
    said: list[str] = []
    servers: list[base.NativeServer] = []
    try:
        servers.append(base.start(launcher, port=port, keep_data=True))  # nothing to keep yet: a fresh start
        assert launcher.prepared == 1 and served(port) == "generation 1"
        (Path(servers[-1].data_dir) / "written-by-the-run").write_text("data")
        kill_9(servers[-1])

        servers.append(base.start(launcher, port=port, keep_data=True, progress=said.append))
        assert servers[-1].port == port and servers[-1].pid != servers[0].pid
        assert launcher.prepared == 1 and served(port) == "generation 1"
        assert (Path(servers[-1].data_dir) / "written-by-the-run").exists()
        assert any(line.startswith("restarting fileserver") for line in said), said
        base.stop(servers[-1])

        servers.append(base.start(launcher, port=port))  # without keep_data: wiped, as before
        assert launcher.prepared == 2 and served(port) == "generation 2"
        assert not (Path(servers[-1].data_dir) / "written-by-the-run").exists()
    finally:
        for server in servers:
            base.stop(server, timeout_s=5)
