"""History as a DataFrame, exported to CSV and Parquet; baselines promote and are found."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.results import store
from harness.results.baselines import baseline_for, promote
from harness.results.history import export, history
from tests.compare.records import synthetic_run


def test_history_rows_and_exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path))
    for seed in range(3):
        store.save(synthetic_run(1000 + seed * 100, seconds=3, seed=seed, run_id=f"run{seed}"))
    frame = history(engine="fake", workload="kv-cache")
    assert list(frame["run_id"]) == ["run0", "run1", "run2"]
    assert frame["p50_us"].is_monotonic_increasing
    export(frame, tmp_path / "h.csv")
    export(frame, tmp_path / "h.parquet")
    assert len(pd.read_csv(tmp_path / "h.csv")) == 3
    assert len(pd.read_parquet(tmp_path / "h.parquet")) == 3
    assert history(engine="redis").empty


def test_baseline_promote_and_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path))
    record = synthetic_run(1000, seconds=3, run_id="base")
    path = promote(record)
    assert path == tmp_path / "baselines" / "fake" / "kv-cache.json"
    assert baseline_for(synthetic_run(900, seconds=3, run_id="new")) == record
    with pytest.raises(Exception, match="incomplete"):
        promote(record.model_copy(update={"complete": False}))
