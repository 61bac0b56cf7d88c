"""Data folders: a folder whose recorded PIDs still run is never pruned; others go, with their logs, by age."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.provision.native import data


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def _folder(root: Path, name: str, size: int, age_s: float = 0.0, owners: dict[str, object] | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "rows").write_bytes(b"x" * size)
    (root / f"{name}.log").write_text("log\n")
    if owners is not None:
        (root / f"{name}.owner.json").write_text(json.dumps(owners))
    then = time.time() - age_s
    for path in (folder, root / f"{name}.log", root / f"{name}.owner.json"):
        if path.exists():
            os.utime(path, (then, then))
    return folder


def test_prune_keeps_what_a_live_recorded_process_uses_and_removes_the_rest_by_age(
        tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                              check=True)
    dead_pid = int(finished.stdout)
    live = _folder(tmp_path, "postgres-5432", 1000, 7200,
                   {"dbarena_pid": dead_pid, "server_pid": sleeper.pid, "server_start": data.process_start(sleeper.pid)})
    reused = _folder(tmp_path, "redis-6379", 2000, 7200,  # the PID runs, but it is another process now
                     {"server_pid": sleeper.pid, "server_start": (data.process_start(sleeper.pid) or 0) + 1})
    dead = _folder(tmp_path, "neo4j-7687", 3000, 7200, {"dbarena_pid": dead_pid, "server_pid": dead_pid})
    legacy = _folder(tmp_path, "influxdb-8086", 4000, 7200)  # from before owner files: nobody recorded
    dead_owner = (tmp_path / "neo4j-7687.owner.json").stat().st_size
    recent = _folder(tmp_path, "ferretdb-27017", 5000, 60, {"server_pid": dead_pid})

    removed, in_use = data.prune(older_than_s=3600, root=tmp_path)

    assert [f.path for f in in_use] == [live] and in_use[0].pids == (sleeper.pid,)
    assert sorted(f.path.name for f in removed) == sorted(p.name for p in (reused, dead, legacy))
    assert {f.path.name: f.size for f in removed}["neo4j-7687"] == 3000 + len("log\n") + dead_owner
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["postgres-5432", "postgres-5432.log", "postgres-5432.owner.json",
         "ferretdb-27017", "ferretdb-27017.log", "ferretdb-27017.owner.json"])
    assert live.exists() and recent.exists()

    removed, in_use = data.prune(older_than_s=0, root=tmp_path)  # 0: every folder nobody uses
    assert [f.path for f in removed] == [recent] and [f.path for f in in_use] == [live]


def test_claim_records_this_process_then_the_server(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    folder = tmp_path / "fileserver-1234"
    folder.mkdir()
    data.claim(folder)
    assert data.users(folder) == [os.getpid()]
    data.claim(folder, sleeper.pid)
    assert data.users(folder) == [os.getpid(), sleeper.pid]


def test_sizes_read_as_people_do() -> None:
    assert [data.human_bytes(n) for n in (512, 1536, 3 * 1024**2, 5 * 1024**3)] == ["512 B", "1.5 KB", "3.0 MB", "5.0 GB"]


def test_a_folder_without_owner_file_is_in_use_while_a_process_works_in_it(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "postgres-5433", 100, 7200)  # started before owner files existed
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=folder)
    try:
        removed, in_use = data.prune(root=tmp_path)
        assert not removed and [f.pids for f in in_use] == [(proc.pid,)]
    finally:
        proc.kill()
        proc.wait(timeout=10)
    removed, _ = data.prune(root=tmp_path)
    assert [f.path for f in removed] == [folder] and not folder.exists()
