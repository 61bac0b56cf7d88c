"""Native engines' data folders: who uses each one, removing it after a run, pruning old ones.

Each folder `<data_root>/<engine>-<port>/` (and its log `<engine>-<port>.log`) gets an owner
file `<engine>-<port>.owner.json` beside it, written before the folder is (re)initialised:
the PID of the dbarena process that started the server, then the server's PID, each with the
process's start time from /proc (a PID reused by another process does not count). A folder is
in use while either process lives. `dbarena engines up` adds its record of the server (`up`) to
the owner file, so `engines status|down` find what it started from the data root alone (not the
cache), and still know an engine it started after that engine died. `remove` deletes a folder, its log and owner file after a
run (unless the user keeps the data); `prune` removes every folder no running engine uses,
older than a given age, and says what it freed (`dbarena engines prune`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.provision import paths

OWNER_SUFFIX = ".owner.json"


def process_start(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (/proc/PID/stat field 22); None when it is gone or unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":  # a zombie has exited
        return None
    return int(fields[19])


def _alive(pid: int, started: int | None) -> bool:
    now = process_start(pid)
    return now is not None and (started is None or now == started)


def owner_file(folder: Path) -> Path:
    return folder.with_name(folder.name + OWNER_SUFFIX)


def log_file(folder: Path) -> Path:
    return folder.with_name(folder.name + ".log")


def claim(folder: Path, server_pid: int | None = None) -> None:
    """Record this process (and, once started, the server `server_pid`) as the users of `folder`."""
    owners = {"dbarena_pid": os.getpid(), "dbarena_start": process_start(os.getpid())}
    if server_pid is not None:
        owners |= {"server_pid": server_pid, "server_start": process_start(server_pid)}
    owner_file(folder).write_text(json.dumps(owners))


def record_up(folder: Path, server: dict[str, object] | None) -> None:
    """Add (or, with None, drop) the `engines up` record of the server using `folder` to its owner file."""
    if server is None and not owner_file(folder).exists():
        return
    owners = _owners(folder)
    owners.pop("up", None)
    if server is not None:
        owners["up"] = server
    owner_file(folder).write_text(json.dumps(owners))


def _owners(folder: Path) -> dict[str, object]:
    try:
        owners = json.loads(owner_file(folder).read_text())
    except (OSError, ValueError):
        return {}
    return owners if isinstance(owners, dict) else {}


@dataclass(frozen=True)
class Owners:
    """What the owner file of one engine's data folder says, checked against /proc now.

    `server_pid`/`dbarena_pid` are None when not recorded; `*_alive` is whether that PID is still the
    process recorded (same start time). `up` is the `engines up` record (NativeServer fields) or None.
    """

    folder: Path
    port: int
    server_pid: int | None
    server_alive: bool
    dbarena_pid: int | None
    dbarena_alive: bool
    up: dict[str, object] | None


def _pid(owners: dict[str, object], key: str, start: str) -> tuple[int | None, bool]:
    pid = owners.get(key)
    if not isinstance(pid, int):
        return None, False
    started = owners.get(start)
    return pid, _alive(pid, started if isinstance(started, int) else None)


def owners_of(engine: str, root: Path | None = None) -> list[Owners]:
    """The owner files of `engine`'s data folders (`<root>/<engine>-<port>.owner.json`), by port."""
    root = root or paths.data_root()
    found = []
    for path in sorted(root.glob(f"{engine}-*{OWNER_SUFFIX}")) if root.is_dir() else ():
        port = path.name.removesuffix(OWNER_SUFFIX).removeprefix(f"{engine}-")
        if not port.isdigit():
            continue
        owners = _owners(root / path.name.removesuffix(OWNER_SUFFIX))
        up = owners.get("up")
        found.append(Owners(root / path.name.removesuffix(OWNER_SUFFIX), int(port),
                            *_pid(owners, "server_pid", "server_start"),
                            *_pid(owners, "dbarena_pid", "dbarena_start"), up if isinstance(up, dict) else None))
    return sorted(found, key=lambda owners: owners.port)


def users(folder: Path) -> list[int]:
    """PIDs using `folder` (empty: nobody): those recorded that are still the processes recorded, else any process
    whose working directory or command line is in it (a folder from before owner files, or not recorded)."""
    owners = _owners(folder)
    pairs = (("dbarena_pid", "dbarena_start"), ("server_pid", "server_start"))
    recorded = [pid for pid, alive in (_pid(owners, key, start) for key, start in pairs) if pid is not None and alive]
    return recorded or referring(folder)


def referring(folder: Path) -> list[int]:
    """PIDs whose working directory is in `folder` or whose command line names a path in it (Linux /proc)."""
    prefix = str(folder.resolve())
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            cwd = ""
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            argv = []
        if any(path == prefix or path.startswith(prefix + "/") for path in (cwd, *argv) if path):
            found.append(int(proc.name))
    return found


def size_of(path: Path) -> int:
    """Bytes under `path` (files' apparent sizes; symlinks not followed)."""
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def remove(folder: Path) -> int:
    """Delete `folder`, its log and its owner file; returns the bytes freed."""
    freed = 0
    for path in (folder, log_file(folder), owner_file(folder)):
        if not (path.exists() or path.is_symlink()):
            continue
        freed += size_of(path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return freed


@dataclass(frozen=True)
class Folder:
    """One data folder found under the data root: its path, age in seconds, size in bytes, live users' PIDs."""

    path: Path
    age_s: float
    size: int
    pids: tuple[int, ...]


def folders(root: Path | None = None) -> Iterator[Folder]:
    """Every engine data folder (or leftover log/owner file of one) under the data root, oldest first."""
    root = root or paths.data_root()
    if not root.is_dir():
        return
    names = {p.name.removesuffix(OWNER_SUFFIX).removesuffix(".log") if not p.is_dir() else p.name
             for p in root.iterdir()}
    found = []
    for name in sorted(names):
        folder = root / name
        parts = [p for p in (folder, log_file(folder), owner_file(folder)) if p.exists()]
        newest = max(p.stat().st_mtime for p in parts)
        found.append(Folder(folder, max(0.0, time.time() - newest), sum(size_of(p) for p in parts),
                            tuple(users(folder))))
    yield from sorted(found, key=lambda f: -f.age_s)


def prune(older_than_s: float = 0.0, root: Path | None = None) -> tuple[list[Folder], list[Folder]]:
    """Remove the folders no live process uses and untouched for `older_than_s`; returns (removed, kept in use)."""
    removed, in_use = [], []
    for folder in folders(root):
        if folder.pids:
            in_use.append(folder)
        elif folder.age_s >= older_than_s:
            remove(folder.path)
            removed.append(folder)
    return removed, in_use


def human_bytes(size: float) -> str:
    """1,536 -> '1.5 KB' (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
