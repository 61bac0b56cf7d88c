"""The native route on a developer's machine: a default port already taken by someone else's server.

`dbarena bench --engine postgres` starts its own PostgreSQL on a free port, says so in one
line, measures that server (never the foreign listener), and removes its data folder after
the run unless --keep-data.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.exit_codes import ExitCode
from harness.provision.native.postgres.launcher import PostgresLauncher

pytestmark = pytest.mark.postgres


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = Path(__file__).resolve().parents[2]
    data = Path(tempfile.mkdtemp(prefix="dbarena-endpoint-"))  # the server's own user must reach it (not root's tmp_path)
    os.chmod(data, 0o755)
    monkeypatch.setenv("DBARENA_HOME", str(root))
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("DBARENA_DATA", str(data))
    monkeypatch.delenv("DBARENA_POSTGRES_URL", raising=False)
    monkeypatch.delenv("DBARENA_KEEP_DATA", raising=False)
    yield tmp_path
    shutil.rmtree(data, ignore_errors=True)


def test_bench_with_the_default_port_taken_runs_its_own_postgres_elsewhere(
        scratch: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as foreign:  # "a PostgreSQL already on 5432": any listener on the default port
        foreign.bind(("127.0.0.1", 0))
        foreign.listen(16)
        taken = int(foreign.getsockname()[1])
        monkeypatch.setattr(PostgresLauncher, "default_port", taken)
        argv = ["bench", "--engine", "postgres", "--workload", "kv-cache", "--scale", "0.01", "--duration", "2s",
                "--warmup", "0s", "--users", "2", "--provision", "native"]
        assert main(argv) == ExitCode.OK
        said = capsys.readouterr()
        out = said.out + said.err
        foreign.setblocking(False)
        probes = 0
        while True:  # what connected to the foreign listener: only start()'s one port check
            try:
                conn, _ = foreign.accept()
            except BlockingIOError:
                break
            probes += 1
            assert conn.recv(1) == b"", "something spoke to the foreign server"
            conn.close()
        assert probes <= 1
    moved = [line for line in out.splitlines() if "is taken by a server dbarena did not start" in line]
    assert len(moved) == 1 and f"port {taken} " in moved[0], out
    (path,) = (scratch / "results" / "runs").glob("*.json")
    record = json.loads(path.read_text())
    port = int(moved[0].rsplit("127.0.0.1:", 1)[1].split()[0])
    assert port != taken and record["manifest"]["provisioner"]["port"] == port  # the server measured: ours
    assert record["valid"] and sum(op["count"] for op in record["operations"].values()) > 0
    assert "removed its data folder" in out
    data = Path(os.environ["DBARENA_DATA"])
    assert not any(data.iterdir()), sorted(data.iterdir())
