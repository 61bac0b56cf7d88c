"""`dbarena validate` runs the checks `select` makes before running a selection, and both say them alike:
one line per problem naming the file and the field (harness/cli/validate.py, harness/studies/runs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.exit_codes import ExitCode
from harness.engines.registry import ENGINES

SELECTION = """version: 1
name: pick
use_case: a login service
workload: {workload}
engines: [{engines}]
slo: {{percentile: p99, max_ms: 10}}
"""


def _selection(tmp_path: Path, workload: str, engines: str) -> Path:
    path = tmp_path / "sel.yaml"
    path.write_text(SELECTION.format(workload=workload, engines=engines), encoding="utf-8")
    return path


def test_validate_and_select_refuse_an_unknown_engine_and_workload_alike(
        tmp_path: Path, results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _selection(tmp_path, "nosuchwl", "postgres, nosuch")
    assert main(["validate", str(path)]) == ExitCode.PROBLEMS
    captured = capsys.readouterr()
    assert "valid" not in captured.out
    lines = captured.err.strip().splitlines()
    known = ", ".join(sorted(ENGINES))
    assert lines[0] == f"dbarena: {path}: engines[1]: unknown engine 'nosuch'; known: {known}", lines
    assert lines[1].startswith(f"dbarena: {path}: workload: workload 'nosuchwl' not found in "), lines
    assert len(lines) == 2
    assert main(["select", str(path)]) == ExitCode.USER_ERROR  # refused before any engine is started
    assert capsys.readouterr().err.strip().splitlines() == lines


def test_validate_passes_a_selection_select_would_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(_selection(tmp_path, "user-accounts", "postgres, redis"))]) == ExitCode.OK
    assert capsys.readouterr().out.strip() == "1 spec file(s) valid"
