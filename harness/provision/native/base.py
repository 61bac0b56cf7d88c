"""The contract every native launcher implements, and the process handling they share.

A launcher only says how to build its artifacts, how to start its server and how to tell
that it is ready; starting, logging, PID tracking, waiting and stopping live here once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

from harness.errors import EngineUnavailable
from harness.provision import paths
from harness.provision.native import data as folders
from harness.provision.ports import free_port, port_open

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class LaunchPlan:
    """The command that runs one server in the foreground."""

    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # run as this OS user (PostgreSQL refuses root)


@dataclass(frozen=True)
class NativeServer:
    """A server this harness started: enough to reach it and to stop it by PID."""

    engine: str
    pid: int
    port: int
    url: str
    log_path: str
    data_dir: str
    started_at: float
    ready_after_s: float
    stop_signal: int = signal.SIGTERM  # the launcher's (NativeLauncher.stop_signal); SIGTERM in older records

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> NativeServer:
        return cls(**json.loads(text))


class NativeLauncher(ABC):
    """How one engine is built, started and probed on this machine."""

    engine: ClassVar[str]
    version: ClassVar[str]
    default_port: ClassVar[int]
    startup_timeout_s: ClassVar[float] = 90.0
    # The signal of the server's own orderly shutdown that does not wait for its clients (SIGKILL follows
    # after the stop's timeout); sent to the server's process group.
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    route: ClassVar[str]  # one line for `engines list`: what actually runs

    @abstractmethod
    def build(self, artifacts: Path, progress: Progress) -> None:
        """Build or fetch what `plan` needs into `artifacts`; idempotent and cached.

        Raises EngineUnavailable naming the missing toolchain or artifact.
        """

    @abstractmethod
    def plan(self, artifacts: Path, data: Path, port: int) -> LaunchPlan:
        """The foreground command that serves on 127.0.0.1:`port` with data in `data`."""

    @abstractmethod
    def url(self, port: int) -> str:
        """The URL adapters connect to."""

    def prepare_data(self, artifacts: Path, data: Path, port: int, progress: Progress) -> None:
        """Initialise a fresh data directory (e.g. initdb); default nothing."""

    def is_ready(self, port: int) -> bool:
        """Whether the server answers; default: its TCP port accepts connections."""
        return port_open(port)

    def ports(self, port: int) -> tuple[int, ...]:
        """Every port the server will bind (checked free before starting)."""
        return (port,)


def free_port_for(launcher: NativeLauncher) -> int:
    """A free loopback port for `launcher`: every port it binds is free, and it is not the default port.

    The default port is avoided so a test never collides with a developer's own server.
    """
    return free_port(launcher.ports, avoid=(launcher.default_port,))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


@dataclass(frozen=True)
class Recorded:
    """One server dbarena recorded starting for an engine (from its data folder's owner file), checked now.

    `server` is the `engines up` record (None when a run, not `engines up`, started it); `running`
    is whether the recorded process is still alive and (when /proc tells) serves the recorded port;
    `run_pid` is the dbarena process that started it when that process still runs (a run using it);
    `port_owners` are the PIDs listening on the port (None: nobody, or it cannot be told).
    """

    engine: str
    port: int
    folder: Path
    server_pid: int | None
    running: bool
    server: NativeServer | None
    run_pid: int | None
    port_owners: frozenset[int] | None

    @property
    def log_path(self) -> Path:
        return folders.log_file(self.folder)

    def describe(self) -> str:
        """One line: who started it, its pid and port, and whether it runs."""
        who = "started by `engines up`" if self.server else "started by a dbarena run"
        head = f"{self.engine}: {who} (pid {self.server_pid}, port {self.port})"
        if self.running:
            user = f"; in use by dbarena pid {self.run_pid}" if self.run_pid else ""
            return f"{head} and running{user}"
        other = f"; port {self.port} is now served by pid {', '.join(map(str, sorted(self.port_owners)))}" \
            if self.port_owners else ""
        return f"{head} but not running (it died; log: {self.log_path}){other}"


def recorded(engine: str) -> list[Recorded]:
    """Every server started for `engine` that still runs, or that `engines up` started and that died since.

    Found from the owner files under the data root (`paths.data_root()`: `$DBARENA_DATA`, else
    `<temp>/dbarena-<uid>`), so the answer does not depend on `$DBARENA_CACHE`. A PID reused by
    another process (other start time), or alive but no longer serving its port, is not running.
    """
    found = []
    for owners in folders.owners_of(engine):
        if owners.up is None and not owners.server_alive:
            continue  # a run's leftover, or data kept after `engines down --keep-data`: `engines prune` removes it
        listening = listening_pids(owners.port)
        serves = owners.server_pid is not None and owners.server_alive and \
            (listening is None or bool(listening & session_pids(owners.server_pid)))
        found.append(Recorded(
            engine=engine, port=owners.port, folder=owners.folder, server_pid=owners.server_pid, running=serves,
            server=NativeServer(**owners.up) if owners.up else None,  # type: ignore[arg-type]
            run_pid=owners.dbarena_pid if owners.dbarena_alive and owners.dbarena_pid != os.getpid() else None,
            port_owners=frozenset(listening) if listening else None,
        ))
    return found


def read_state(engine: str) -> NativeServer | None:
    """The server `engines up` left running for `engine`, if its process is still alive and still serves its port.

    A PID reused by another process, or a port now held by another server, does not count: dbarena
    never connects to a server it did not start as if it were its own.
    """
    return next((found.server for found in recorded(engine) if found.server and found.running), None)


def stop_recorded(found: Recorded, *, keep_data: bool = False, timeout_s: float = 30.0) -> int:
    """Stop a recorded server by its PID if it still runs, then remove its data folder, log and owner file
    unless `keep_data` (then only its `engines up` record is dropped). Returns the bytes freed."""
    if found.running and found.server_pid is not None:
        first = signal.Signals(found.server.stop_signal) if found.server else signal.SIGTERM
        _terminate(found.server_pid, timeout_s, first)
    if keep_data:
        folders.record_up(found.folder, None)
        return 0
    return folders.remove(found.folder)


def start(
    launcher: NativeLauncher,
    *,
    port: int | None = None,
    progress: Progress = _quiet,
    keep_state: bool = False,
    keep_data: bool = False,
) -> NativeServer:
    """Build if needed, start on a fresh data directory, wait until ready.

    Without `port`, the launcher's default port, or a free one when something that is not
    this server already listens there (a developer's own PostgreSQL on 5432): said in one
    line, and the foreign server is never used. A `port` given and busy is an error.
    With `keep_data`, a data directory left at this port by an earlier start (a server
    stopped or killed) is reused as it is: the restart serves the same data at the same
    address (fault tests: kill -9, then restart). Without one, it starts fresh.
    The data directory is recorded as used by this process and then by the server
    (`data.claim`), so `engines prune` never removes it while either runs. With `keep_state`
    (`engines up`), the server is recorded in that owner file too, for `recorded`/`read_state`.
    """
    port = _port_to_use(launcher, port, progress)
    artifacts = paths.artifact_dir(launcher.engine, launcher.version)
    launcher.build(artifacts, progress)
    data = paths.data_dir(f"{launcher.engine}-{port}")
    folders.claim(data)
    reuse = keep_data and any(data.iterdir())
    if not reuse:
        _wipe(data)
        launcher.prepare_data(artifacts, data, port, progress)
    plan = launcher.plan(artifacts, data, port)
    log_path = data.parent / f"{launcher.engine}-{port}.log"
    progress(f"{'restarting' if reuse else 'starting'} {launcher.engine} on 127.0.0.1:{port} (log: {log_path})")
    began = time.monotonic()
    with open(log_path, "ab" if reuse else "wb") as log:
        proc = subprocess.Popen(
            list(plan.argv),
            cwd=plan.cwd,
            env={**os.environ, **plan.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            user=plan.user,
        )
    folders.claim(data, proc.pid)
    deadline = began + launcher.startup_timeout_s
    while not launcher.is_ready(port):
        if proc.poll() is not None:
            raise EngineUnavailable(
                f"{launcher.engine} exited with code {proc.returncode} while starting; "
                f"log {log_path}: {log_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            _terminate(proc.pid, first=launcher.stop_signal)
            raise EngineUnavailable(
                f"{launcher.engine} was not ready on port {port} within "
                f"{launcher.startup_timeout_s:.0f}s; log {log_path}: {log_tail(log_path)}"
            )
        time.sleep(0.2)
    _check_ours(launcher, proc, port, log_path)
    server = NativeServer(
        engine=launcher.engine,
        pid=proc.pid,
        port=port,
        url=launcher.url(port),
        log_path=str(log_path),
        data_dir=str(data),
        started_at=time.time(),
        ready_after_s=round(time.monotonic() - began, 2),
        stop_signal=int(launcher.stop_signal),
    )
    progress(f"{launcher.engine} ready at {server.url} after {server.ready_after_s:.1f}s (pid {proc.pid})")
    if keep_state:
        folders.record_up(data, asdict(server))
    return server


def stop(server: NativeServer, timeout_s: float = 30.0, *, keep_data: bool = False) -> int:
    """Stop a server we started, by its PID (never by name); then remove its data folder and log unless `keep_data`.

    Returns the bytes freed (0 when kept).
    """
    _terminate(server.pid, timeout_s, signal.Signals(server.stop_signal))
    if keep_data:
        folders.record_up(Path(server.data_dir), None)
        return 0
    return folders.remove(Path(server.data_dir))


def _port_to_use(launcher: NativeLauncher, port: int | None, progress: Progress) -> int:
    """`port` if given and free; else the default port if free; else a free port, said in one line."""
    wanted = port or launcher.default_port
    busy = [p for p in launcher.ports(wanted) if port_open(p)]
    if not busy:
        return wanted
    if port is not None:
        raise EngineUnavailable(
            f"{launcher.engine}: port {busy[0]} on 127.0.0.1 is already in use; "
            f"stop what listens there (`dbarena engines down {launcher.engine}`) or pass another port"
        )
    chosen = free_port_for(launcher)
    progress(f"{launcher.engine}: port {busy[0]} is taken by a server dbarena did not start; "
             f"starting its own on 127.0.0.1:{chosen} instead")
    return chosen


def _check_ours(launcher: NativeLauncher, proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """EngineUnavailable unless the server that answers on `port` is the process we started.

    A port found free may be taken by another process before our server binds it; our server
    then exits (or keeps failing) while the other one answers. Checked by the listening
    socket's owner (/proc), else at least by our process being alive.
    """
    owners = listening_pids(launcher.ports(port)[0])
    ours = proc.poll() is None and (owners is None or bool(owners & session_pids(proc.pid)))
    if not ours:
        _terminate(proc.pid, first=launcher.stop_signal)
        raise EngineUnavailable(
            f"{launcher.engine}: another process took port {port} while the server started; "
            f"nothing was measured against it. Try again; log {log_path}: {log_tail(log_path)}"
        )


def _listening_inodes(port: int) -> set[str] | None:
    inodes: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes if readable else None


def listening_pids(port: int) -> set[int] | None:
    """PIDs holding a socket that listens on TCP `port` (Linux /proc); None when that cannot be told."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    found: set[int] = set()
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        if _fd_links(proc_dir) & wanted:
            found.add(int(proc_dir.name))
    return found


def _fd_links(proc_dir: Path) -> set[str]:
    """What the open file descriptors of a /proc/PID entry point to (one closed meanwhile is skipped)."""
    links: set[str] = set()
    try:
        fds = list((proc_dir / "fd").iterdir())
    except OSError:
        return links
    for fd in fds:
        try:
            links.add(os.readlink(fd))
        except OSError:
            continue
    return links


def session_pids(leader: int) -> set[int]:
    """`leader` and every process of its session (we start servers with start_new_session)."""
    found = {leader}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == leader:
            found.add(int(stat.parent.name))
    return found


def _terminate(pid: int, timeout_s: float = 30.0, first: signal.Signals = signal.SIGTERM) -> None:
    """`first` to the process group of `pid`, then SIGKILL if it still runs after `timeout_s`."""
    for sig in (first, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.1)


def _wipe(path: Path) -> None:
    import shutil

    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    # Owner only: a launcher whose server runs as another user hands the folder to that user
    # (PostgreSQL, which refuses root, chowns it to `postgres`).
    os.chmod(path, 0o700)


def require_tool(tool: str, engine: str, hint: str) -> str:
    """Path of `tool` on PATH, or a clear EngineUnavailable naming how to get it."""
    import shutil

    found = shutil.which(tool)
    if found is None:
        raise EngineUnavailable(f"{engine}: `{tool}` is not installed; {hint}")
    return found


def run_step(argv: list[str], *, cwd: Path, engine: str, what: str, env: dict[str, str] | None = None,
             timeout_s: float = 1800.0, log_path: Path | None = None) -> None:
    """Run one build step; on failure raise EngineUnavailable with the output's tail."""
    log_path = log_path or cwd / f"{what.replace(' ', '-')}.log"
    with open(log_path, "wb") as log:
        try:
            done = subprocess.run(
                argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout_s, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineUnavailable(f"{engine}: {what} took longer than {timeout_s:.0f}s; log {log_path}") from exc
    if done.returncode != 0:
        raise EngineUnavailable(f"{engine}: {what} failed (exit {done.returncode}); log {log_path}: {log_tail(log_path)}")
