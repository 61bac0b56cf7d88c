"""CLI tests run against the repository's workloads and a scratch results folder."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DBARENA_HOME", str(ROOT))
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"
