"""`dbarena engines`: the table from the engine table, the README's markdown table, the support matrix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.engines import MARKDOWN_HEADER
from harness.cli.exit_codes import ExitCode
from harness.engines.registry import ENGINES, MATRIX_ENGINES
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
