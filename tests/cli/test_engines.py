"""`dbarena engines`: the table from the engine table, the README's markdown table, the support matrix."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.engines import MARKDOWN_HEADER
from harness.cli.exit_codes import ExitCode
from harness.engines.registry import ENGINES, MATRIX_ENGINES
from harness.provision.native import base
from harness.provision.native.redis.launcher import RedisLauncher
from harness.provision.ports import port_open
from tests.cli.conftest import ROOT


def test_list_shows_every_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engines", "list"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.startswith("engine") and all(name in out for name in ENGINES)


def test_list_markdown_is_the_readme_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engines", "list", "--markdown"]) == ExitCode.OK
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "| " + " | ".join(MARKDOWN_HEADER) + " |" and lines[1] == "|---|---|---|---|"
    rows = [info for info in ENGINES.values() if info.compose_image]
    assert len(lines) == 2 + len(rows)
    for line, info in zip(lines[2:], rows, strict=True):
        assert line == f"| {info.name} | {info.compose_image} | {info.native_route} | {info.tested_against} |"


def test_the_readme_engine_table_is_the_generated_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engines", "list", "--markdown"]) == ExitCode.OK
    generated = capsys.readouterr().out.strip()
    assert generated in (ROOT / "README.md").read_text(encoding="utf-8"), \
        "README's engine table differs from the engine table: paste `dbarena engines list --markdown` into it"


def test_compose_images_are_the_engine_tables() -> None:
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    for info in ENGINES.values():
        if info.compose_service:
            assert services[info.compose_service]["image"] == info.compose_image, info.name


def test_up_needs_a_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engines", "up"]) == ExitCode.USER_ERROR
    assert "name an engine" in capsys.readouterr().err
    assert main(["engines", "status", "fake"]) == ExitCode.USER_ERROR  # no native launcher


def test_matrix_has_a_row_per_library_workload(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engines", "matrix"]) == ExitCode.OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["workload", *MATRIX_ENGINES]
    workloads = sorted(p.stem for p in (ROOT / "workloads").glob("*.yaml"))
    assert sorted(line.split()[0] for line in lines[2:2 + len(workloads)]) == workloads


def test_prune_says_what_it_freed_and_keeps_what_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DBARENA_DATA", str(tmp_path))
    old = tmp_path / "neo4j-7687"
    old.mkdir()
    (old / "store").write_bytes(b"x" * 2048)
    mine = tmp_path / "postgres-5432"  # recorded as used by this (running) process
    mine.mkdir()
    (tmp_path / "postgres-5432.owner.json").write_text(json.dumps({"dbarena_pid": os.getpid()}))
    assert main(["engines", "prune", "--older-than", "1h"]) == ExitCode.OK  # nothing that old
    assert old.exists() and "freed 0 B in 0 folder(s)" in capsys.readouterr().out
    assert main(["engines", "prune"]) == ExitCode.OK
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"removed {old} (2.0 KB, unused for ")
    assert out[1] == f"kept {mine}: in use by pid {os.getpid()}"
    assert out[2] == f"freed 2.0 KB in 1 folder(s) under {tmp_path}"
    assert not old.exists() and mine.exists()


@pytest.fixture
def redis_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[base.Recorded]:
    """`dbarena engines up redis` on a free port with a scratch data root and cache; the server killed by its PID after."""
    monkeypatch.setenv("DBARENA_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DBARENA_CACHE", str(tmp_path / "cache-of-up"))
    port = base.free_port_for(RedisLauncher())
    assert main(["engines", "up", "redis", "--port", str(port)]) == ExitCode.OK
    [found] = base.recorded("redis")
    assert found.server_pid is not None
    try:
        yield found
    finally:
        if base.pid_alive(found.server_pid):
            os.kill(found.server_pid, signal.SIGKILL)
            _gone(found.server_pid)


def _gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while base.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _leftovers(found: base.Recorded) -> list[Path]:
    return [p for p in (found.folder, found.log_path, found.folder.with_name(found.folder.name + ".owner.json"))
            if p.exists()]


@pytest.mark.redis
def test_status_and_down_find_what_up_started_whatever_the_cache(redis_up: base.Recorded, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    pid, port = redis_up.server_pid, redis_up.port
    assert pid is not None and base.pid_alive(pid) and port_open(port)
    assert os.stat(redis_up.folder).st_mode & 0o777 == 0o700  # the data folder is its owner's alone
    monkeypatch.delenv("DBARENA_CACHE")  # the tester's case: status and down without the cache `up` had
    capsys.readouterr()
    assert main(["engines", "status", "redis"]) == ExitCode.OK
    row = capsys.readouterr().out.splitlines()[2].split()
    assert row == ["redis", "up", f"redis://127.0.0.1:{port}/0", str(pid), str(port)]
    assert main(["engines", "down", "redis"]) == ExitCode.OK
    said = capsys.readouterr().out.strip()
    assert said.startswith(f"redis stopped (pid {pid}, port {port}; data removed, "), said
    _gone(pid)
    assert not base.pid_alive(pid) and not port_open(port) and _leftovers(redis_up) == []


@pytest.mark.redis
def test_an_engine_that_died_is_said_so_and_down_removes_its_data(redis_up: base.Recorded,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    pid, port = redis_up.server_pid, redis_up.port
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _gone(pid)
    assert not base.pid_alive(pid) and _leftovers(redis_up)
    capsys.readouterr()
    assert main(["engines", "status", "redis"]) == ExitCode.OK
    out = capsys.readouterr().out.splitlines()
    assert out[2].split() == ["redis", "died", f"redis://127.0.0.1:{port}/0", str(pid), str(port)]
    assert out[3] == (f"redis: started by `engines up` (pid {pid}, port {port}) but not running "
                      f"(it died; log: {redis_up.log_path})")
    assert main(["engines", "down", "redis"]) == ExitCode.OK
    said = capsys.readouterr().out.strip()
    assert said.startswith(f"redis was already stopped (pid {pid} had died; data removed, "), said
    assert _leftovers(redis_up) == [] and base.recorded("redis") == []


def test_with_no_record_but_its_port_answering_down_says_it_cannot_know(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DBARENA_DATA", str(tmp_path / "data"))
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        port = int(foreign.getsockname()[1])
        monkeypatch.setattr(RedisLauncher, "default_port", port)
        assert main(["engines", "down", "redis"]) == ExitCode.OK
        said = capsys.readouterr().out.strip().splitlines()
    assert said == [f"redis: no server started by `engines up` is recorded under {tmp_path / 'data'}, but "
                    f"127.0.0.1:{port} answers: either not dbarena's, or started with another $DBARENA_DATA/$TMPDIR "
                    "(set it as then and retry)"]
    assert main(["engines", "down", "redis"]) == ExitCode.OK  # nothing answers now
    assert capsys.readouterr().out.strip() == \
        f"redis is not running (nothing started by `engines up` is recorded under {tmp_path / 'data'})"
