"""`dbarena runs | show | compare | baseline | history`: stored runs listed, shown, compared, promoted, exported."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.exit_codes import ExitCode
from harness.results import store
from harness.results.record import RunRecord
from tests.compare.records import synthetic_run


@functools.cache
def _records() -> tuple[RunRecord, RunRecord]:
    return (synthetic_run(1000, seconds=8, per_second=200, run_id="20260101T000000Z-fake-kv-cache-aaaa", seed=1),
            synthetic_run(3000, seconds=8, per_second=200, run_id="20260101T000100Z-fake-kv-cache-bbbb", seed=2))


@pytest.fixture
def two_runs(results: Path) -> tuple[RunRecord, RunRecord]:
    fast, slow = _records()
    store.save(fast)
    store.save(slow)
    return fast, slow


def test_runs_lists_and_filters(two_runs: tuple[RunRecord, RunRecord], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert all(r.run_id in out for r in two_runs)
    assert main(["runs", "--engine", "redis"]) == ExitCode.OK
    assert "no runs stored yet" in capsys.readouterr().out


def test_show_finds_a_run_by_prefix(two_runs: tuple[RunRecord, RunRecord], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "20260101T000100Z"]) == ExitCode.OK
    assert "fake 1 · kv-cache" in capsys.readouterr().out
    assert main(["show", "20260101"]) == ExitCode.USER_ERROR  # ambiguous
    assert "ambiguous" in capsys.readouterr().err


def test_compare_gates_on_regression(two_runs: tuple[RunRecord, RunRecord], capsys: pytest.CaptureFixture[str]) -> None:
    fast, slow = two_runs
    assert main(["compare", fast.run_id, slow.run_id]) == ExitCode.OK
    assert "verdict: REGRESSED" in capsys.readouterr().out
    assert main(["compare", fast.run_id, slow.run_id, "--fail-on-regression"]) == ExitCode.REGRESSED
    assert main(["compare", slow.run_id, fast.run_id, "--fail-on-regression"]) == ExitCode.OK
    capsys.readouterr()
    assert main(["compare", slow.run_id]) == ExitCode.USER_ERROR  # no baseline yet
    assert "no baseline for fake/kv-cache" in capsys.readouterr().err


def test_baseline_promote_then_compare_against_it(two_runs: tuple[RunRecord, RunRecord], results: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    fast, slow = two_runs
    assert main(["baseline", "promote"]) == ExitCode.USER_ERROR
    assert main(["baseline", "promote", fast.run_id]) == ExitCode.OK
    assert f"baseline written: {results / 'baselines' / 'fake' / 'kv-cache.json'}" in capsys.readouterr().out
    assert main(["baseline", "list"]) == ExitCode.OK
    assert fast.run_id in capsys.readouterr().out
    assert main(["compare", slow.run_id, "--fail-on-regression"]) == ExitCode.REGRESSED


def test_history_prints_and_exports(two_runs: tuple[RunRecord, RunRecord], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--engine", "fake"]) == ExitCode.OK
    assert two_runs[0].run_id in capsys.readouterr().out
    target = tmp_path / "h.csv"
    assert main(["history", "--csv", str(target)]) == ExitCode.OK
    assert f"2 rows written to {target}" in capsys.readouterr().out and target.exists()
    assert main(["history", "--workload", "nothing"]) == ExitCode.OK
    assert "no runs match" in capsys.readouterr().out
