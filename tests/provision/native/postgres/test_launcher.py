"""PostgreSQL starts natively on a data folder that is its server's alone (owner-only, owned by the user it runs as)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from harness.errors import EngineUnavailable
from harness.provision.native import base
from harness.provision.native.postgres.launcher import SERVER_USER, PostgresLauncher


@pytest.mark.postgres
def test_postgres_serves_from_an_owner_only_data_folder() -> None:
    import psycopg

    launcher = PostgresLauncher()  # default data root: the `postgres` user must traverse to it (pytest tmp is 0700)
    try:
        server = base.start(launcher, port=base.free_port_for(launcher))
    except EngineUnavailable as exc:
        pytest.skip(f"postgres unavailable here: {exc}")
    try:
        folder = os.stat(server.data_dir)
        runs_as = pwd.getpwnam(SERVER_USER).pw_uid if os.getuid() == 0 else os.getuid()
        assert folder.st_mode & 0o777 == 0o700 and folder.st_uid == runs_as
        assert base.pid_alive(server.pid) and os.stat(f"/proc/{server.pid}").st_uid == runs_as
        with psycopg.connect(server.url, connect_timeout=5) as conn:
            assert conn.execute("SELECT current_setting('data_directory')").fetchone() == \
                (str(Path(server.data_dir) / "pgdata"),)
            conn.execute("CREATE TABLE written (id int)")  # it writes where it keeps its data
    finally:
        base.stop(server, timeout_s=20)
    assert not base.pid_alive(server.pid) and not Path(server.data_dir).exists()


@pytest.mark.postgres
def test_a_server_with_open_sessions_stops_by_its_fast_shutdown() -> None:
    """`engines down` during a run: SIGTERM would be PostgreSQL's smart shutdown, which waits for the run's
    sessions to end (their backends are out of the postmaster's process group); the server's log says which
    shutdown it received, and the open session is cut."""
    import psycopg

    from harness.provision.native import data as folders

    launcher = PostgresLauncher()
    server = base.start(launcher, port=base.free_port_for(launcher))
    try:
        session = psycopg.connect(server.url, connect_timeout=5, autocommit=True)
        session.execute("SELECT 1")
        base.stop(server, timeout_s=20, keep_data=True)
        assert not base.pid_alive(server.pid)
        log = Path(server.log_path).read_text()
        assert "received fast shutdown request" in log, log[-2000:]
        assert "received smart shutdown request" not in log
        with pytest.raises(psycopg.OperationalError):
            session.execute("SELECT 1")
        session.close()
    finally:
        if base.pid_alive(server.pid):
            base.stop(server, timeout_s=20)
        folders.remove(Path(server.data_dir))
