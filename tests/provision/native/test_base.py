"""`base.start(keep_data=True)`: a server killed with SIGKILL comes back at its port on the data it left.

A stand-in launcher (a few lines of Python serving a file of its data directory on a TCP
port) keeps this a unit test: no engine is needed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import EngineUnavailable
from harness.provision.native import base, data
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


def _listener() -> socket.socket:
    """A plain socket listening on a free loopback port: a server dbarena did not start."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DBARENA_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DBARENA_CACHE", str(tmp_path / "cache"))
    return tmp_path / "data"


def test_a_default_port_taken_by_another_server_starts_on_a_free_one_and_says_so(scratch: Path) -> None:
    launcher = FileServer()
    said: list[str] = []
    with _listener() as foreign:
        launcher.default_port = int(foreign.getsockname()[1])  # type: ignore[misc]
        server = base.start(launcher, progress=said.append)
        try:
            assert server.port != launcher.default_port
            assert server.url == f"file-server://127.0.0.1:{server.port}"
            assert served(server.port) == "generation 1"  # our own server, on its own port
            moved = [line for line in said if "is taken" in line]
            assert moved == [f"fileserver: port {launcher.default_port} is taken by a server dbarena did not start; "
                             f"starting its own on 127.0.0.1:{server.port} instead"], said
        finally:
            base.stop(server, timeout_s=5)


def test_a_port_asked_for_and_busy_is_one_clear_error(scratch: Path) -> None:
    with _listener() as foreign:
        port = int(foreign.getsockname()[1])
        with pytest.raises(EngineUnavailable, match=f"port {port} on 127.0.0.1 is already in use"):
            base.start(FileServer(), port=port)


class LosesTheRace(FileServer):
    """Another process takes the port after it was found free, before the server binds it."""

    def prepare_data(self, artifacts: Path, data: Path, port: int, progress: base.Progress) -> None:
        super().prepare_data(artifacts, data, port, progress)
        self.thief = socket.socket()
        self.thief.bind(("127.0.0.1", port))
        self.thief.listen()

    def plan(self, artifacts: Path, data: Path, port: int) -> base.LaunchPlan:  # binds nothing, keeps running
        return base.LaunchPlan(argv=(sys.executable, "-c", "import time; time.sleep(60)"), cwd=data)


def test_a_server_whose_port_another_process_took_is_never_taken_for_ours(scratch: Path) -> None:
    launcher = LosesTheRace()
    port = base.free_port_for(launcher)
    try:
        with pytest.raises(EngineUnavailable, match=f"another process took port {port}"):
            base.start(launcher, port=port)
    finally:
        launcher.thief.close()


def test_stop_removes_the_data_folder_and_log_unless_kept(scratch: Path) -> None:
    launcher = FileServer()
    for keep in (False, True):
        server = base.start(launcher, port=base.free_port_for(launcher))
        folder = Path(server.data_dir)
        (folder / "rows").write_bytes(b"x" * 10_000)
        owner = folder.with_name(folder.name + ".owner.json")
        assert owner.exists() and Path(server.log_path).exists()
        freed = base.stop(server, timeout_s=5, keep_data=keep)
        if keep:
            assert freed == 0 and (folder / "rows").exists()
        else:
            assert freed >= 10_000
            assert not folder.exists() and not Path(server.log_path).exists() and not owner.exists()


def test_engines_up_state_is_trusted_only_while_its_process_serves_its_port(scratch: Path) -> None:
    launcher = FileServer()
    server = base.start(launcher, port=base.free_port_for(launcher), keep_state=True)
    try:
        assert base.read_state("fileserver") == server
    finally:
        base.stop(server, timeout_s=5)
    assert base.read_state("fileserver") is None and base.recorded("fileserver") == []
    with _listener() as foreign:  # the port is served by this test, not by the recorded process
        port = int(foreign.getsockname()[1])
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
        try:  # the recorded PID lives, but another process serves the recorded port: not ours
            folder = scratch / f"fileserver-{port}"
            folder.mkdir()
            stale = dataclasses.replace(server, pid=sleeper.pid, port=port, data_dir=str(folder))
            folder.with_name(folder.name + ".owner.json").write_text(json.dumps(
                {"server_pid": sleeper.pid, "server_start": data.process_start(sleeper.pid),
                 "up": dataclasses.asdict(stale)}))
            assert base.read_state("fileserver") is None
            [found] = base.recorded("fileserver")
            assert not found.running and found.port_owners == {os.getpid()}
            assert found.describe().endswith(f"port {port} is now served by pid {os.getpid()}")
        finally:
            sleeper.kill()
            sleeper.wait(timeout=10)


def test_the_engines_up_record_lives_in_the_data_root_not_the_cache(scratch: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    launcher = FileServer()
    server = base.start(launcher, port=base.free_port_for(launcher), keep_state=True)
    try:
        monkeypatch.setenv("DBARENA_CACHE", str(scratch.parent / "another-cache"))
        assert base.read_state("fileserver") == server
        stat = os.stat(server.data_dir)
        assert stat.st_mode & 0o777 == 0o700 and stat.st_uid == os.getuid()  # owner only
    finally:
        base.stop(server, timeout_s=5)
