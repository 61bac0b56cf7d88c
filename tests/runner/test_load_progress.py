"""The bulk load's progress line: its values, the workers' reports through the master, stdout kept quiet.

The runner end to end on the fake engine (`load_ms` makes each bulk-load call take that long).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from harness.results.build import run_and_record
from harness.runner.progress import Progress, load_line
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"loading usertable \[([#-]{20})\] ([\d,]+)/([\d,]+) records \((\d+)%\)  ([\d,]+) records/s  ETA (\S+)")


def test_load_line_shows_the_bar_the_rate_and_the_time_left() -> None:
    line = load_line("usertable", 40_000, 100_000, 2.0, "2 worker(s)")
    assert line == ("loading usertable [########------------] 40,000/100,000 records (40%)  20,000 records/s  "
                    "ETA 00:03  2 worker(s)")
    assert load_line("t", 0, 100_000, 0.5).endswith("0 records/s  ETA --:--")  # no rate yet: no estimate
    assert load_line("t", 100_000, 100_000, 4.0).startswith(f"loading t [{'#' * 20}] 100,000/100,000 records (100%)")
    assert "ETA 01:40" in load_line("t", 1_000, 101_000, 1.0)  # 100,000 left at 1,000/s


def test_workers_report_load_progress_through_the_master_at_a_bounded_rate() -> None:
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(20_000 / 10_000)
    stream = io.StringIO()
    load = LoadProfile.model_validate({"users": 2, "processes": 2, "duration": 1, "warmup": 0})
    # 2 workers x 10,000 records in batches of 1,000, each call 100 ms: about 1 s of loading per worker
    record = run_and_record(RunRequest(engine="fake", url="fake://progress?load_ms=100", workload=workload,
                                       load=load), Progress(stream, min_interval_s=0))
    assert record.load_phase is not None and record.load_phase.records == 20_000
    matches = [m for m in map(LINE.match, stream.getvalue().splitlines()) if m]
    done = [int(m.group(2).replace(",", "")) for m in matches]
    assert all(m.group(3) == "20,000" for m in matches)
    assert done == sorted(done) and done[-1] == 20_000
    assert any(0 < d < 20_000 for d in done), done  # reported while loading, not only at the end
    assert any(m.group(6) not in ("--:--", "00:00") for m in matches)  # a time left while loading
    # each worker reports at most every 0.5 s, plus its LoadDone
    assert len(done) <= 2 * (record.load_phase.seconds / 0.5 + 1) + 2, done
    assert f"loaded 20,000 records in {record.load_phase.seconds:.1f}s" in stream.getvalue()


def test_progress_goes_to_stderr_and_stdout_stays_for_results(tmp_path: Path) -> None:
    env = {**os.environ, "DBARENA_RESULTS": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "bench", "--engine", "fake", "--url", "fake://quiet?load_ms=100",
         "--workload", "kv-cache", "--duration", "1s", "--warmup", "0s", "--users", "1", "--scale", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert LINE.search(done.stderr), done.stderr  # 10 batches of 100 ms: the first line is shown at once
    assert "loading usertable" not in done.stdout and not LINE.search(done.stdout)  # no progress line on stdout
    assert "data: scale 1 · 10,000 records loaded in " in done.stdout  # the load's result is in the summary
