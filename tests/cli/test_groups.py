"""`check`, `report`, `show` and `compare` on a group of repeats (`bench --repeat N`): harness/cli/groups.py."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.exit_codes import ExitCode
from harness.compare.samples import FEW_NOTE
from harness.results import store
from harness.results.record import RunRecord
from tests.compare.records import invalid, synthetic_run

GROUP = "20260101T000000Z-fake-kv-cache-g0a0a"
FEW_GROUP = "20260101T010000Z-fake-kv-cache-g0b0b"


def _group(group: str, median_us: float, per_second: int, seconds: int = 4, runs: int = 3) -> list[RunRecord]:
    out = []
    for i in range(runs):
        record = synthetic_run(median_us * (1 + i / 10), seconds=seconds, per_second=per_second, seed=i,
                               run_id=f"{group.removesuffix(group[-6:])}r{i}{group[-4:]}")
        out.append(record.model_copy(update={"group": group, "repeat": i + 1, "repeats": runs}))
    return out


@pytest.fixture
def group(results: Path) -> list[RunRecord]:
    runs = _group(GROUP, 1000, per_second=500)  # 2,000 samples a run: p99 (needs 1,000) is measured
    for record in runs:
        store.save(record)
    return runs


@pytest.fixture
def few_group(results: Path) -> list[RunRecord]:
    runs = _group(FEW_GROUP, 1000, per_second=100, seconds=2)  # 200 samples a run: too few for a p99
    for record in runs:
        store.save(record)
    return runs


def _p99(record: RunRecord) -> float:
    latency = record.operations["read"].latency_us
    assert latency is not None
    return float(latency.p99)


def test_check_group_holds_each_threshold_against_the_median_over_its_runs(
        group: list[RunRecord], capsys: pytest.CaptureFixture[str]) -> None:
    median = statistics.median(_p99(r) for r in group)
    between = sorted(_p99(r) for r in group)
    assert between[0] < median < between[-1]  # the median differs from the best and the worst run
    assert main(["check", GROUP, "--threshold", f"read.p99<{median + 1:.0f}us",
                 "--threshold", "read.throughput>1e2"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert f"group {GROUP}: 3 run(s)" in out and "(median of 3 runs)" in out and "thresholds: PASS" in out
    assert main(["check", GROUP, "--threshold", f"read.p99<{median:.0f}us", "--json"]) == ExitCode.THRESHOLD
    (check,) = json.loads(capsys.readouterr().out)["thresholds"]
    assert check["value"] == median and not check["passed"]


def test_check_group_leaves_out_invalid_runs_and_refuses_an_all_invalid_group(
        group: list[RunRecord], results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = invalid(group[2], "stalled")
    store.save(bad.model_copy(update={"run_id": bad.run_id + "x"}))
    (results / "runs" / f"{group[2].run_id}.json").unlink()
    median = statistics.median(_p99(r) for r in group[:2])
    assert main(["check", GROUP, "--threshold", f"read.p99<={median:.0f}us", "--json"]) == ExitCode.OK
    (check,) = json.loads(capsys.readouterr().out)["thresholds"]
    assert check["value"] == median and "(median of 2 runs)" in check["detail"]
    for record in group[:2]:
        (results / "runs" / f"{record.run_id}.json").unlink()
    assert main(["check", GROUP, "--threshold", "p99<1s"]) == ExitCode.INVALID
    assert "all 1 runs are INVALID" in capsys.readouterr().err


def test_check_group_cannot_pass_a_percentile_from_too_few_samples(
        few_group: list[RunRecord], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", FEW_GROUP, "--threshold", "read.p99<1h"]) == ExitCode.THRESHOLD
    assert "p99 needs 1,000 (10/(1-q)); run longer (in 3 of 3 runs)" in capsys.readouterr().out


def test_an_unknown_id_is_one_line(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["check", "nope", "--threshold", "p99<1s"], ["report", "nope"]):
        assert main(argv) == ExitCode.USER_ERROR
        err = capsys.readouterr().err.strip()
        assert err.startswith("dbarena: no run or group 'nope' in ") and "\n" not in err, err


def test_report_group_reports_its_runs_with_median_and_spread(group: list[RunRecord], results: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", GROUP, "--out", str(results / "out")]) == ExitCode.OK
    md = (results / "out" / "report.md").read_text(encoding="utf-8")
    assert f"### Group {GROUP}" in md and all(r.run_id in md for r in group)
    rates = sorted(r.operations["read"].throughput_ops_s for r in group)
    row = f"| read | ops/s | {statistics.median(rates):,.0f} | {rates[0]:,.0f} | {rates[-1]:,.0f} |"
    assert row in md, md
    p99s = sorted(_p99(r) for r in group)
    assert f"| read | p99 µs | {statistics.median(p99s):,.0f} | {p99s[0]:,.0f} | {p99s[-1]:,.0f} |" in md
    assert "\\*" not in md.split("## Groups of repeats")[1].split("## ")[0]  # enough samples: nothing marked


def test_group_tables_mark_a_p99_from_too_few_samples(few_group: list[RunRecord], group: list[RunRecord],
                                                      results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", FEW_GROUP]) == ExitCode.OK
    out = capsys.readouterr().out
    (p99_row,) = [line for line in out.splitlines() if line.startswith("read") and "p99" in line]
    assert p99_row.count("*") == 3 and FEW_NOTE in out  # median, min and max marked, with the legend
    (ops_row,) = [line for line in out.splitlines() if line.startswith("read") and "ops/s" in line]
    assert "*" not in ops_row
    assert main(["show", GROUP]) == ExitCode.OK
    assert "*" not in capsys.readouterr().out

    assert main(["compare", GROUP, FEW_GROUP]) == ExitCode.OK
    out = capsys.readouterr().out
    (p99_row,) = [line for line in out.splitlines() if line.startswith("read") and "p99" in line]
    assert p99_row.rstrip().endswith("too few samples") and p99_row.count("*") == 2 and FEW_NOTE in out

    assert main(["report", FEW_GROUP, "--out", str(results / "few")]) == ExitCode.OK
    md = (results / "few" / "report.md").read_text(encoding="utf-8")
    section = md.split("## Groups of repeats")[1].split("\n## ")[0]
    (row,) = [line for line in section.splitlines() if line.startswith("| read | p99")]
    assert row.count("\\*") == 3 and FEW_NOTE.replace("*", "\\*") in section


def test_a_group_against_one_run_is_compared_by_its_lower_middle_run_and_says_so(
        results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pair = _group(GROUP, 1000, per_second=500, runs=2)
    slow = pair[1].model_copy(update={"total_throughput_ops_s": pair[0].total_throughput_ops_s / 2})
    for record in (pair[0], slow):
        store.save(record)
    other = synthetic_run(1000, seconds=4, per_second=500, run_id="20260101T020000Z-fake-kv-cache-cccc")
    store.save(other)
    assert main(["compare", GROUP, other.run_id]) == ExitCode.OK
    (note,) = [line for line in capsys.readouterr().err.splitlines() if "median run" in line]
    rates = [pair[0].total_throughput_ops_s, slow.total_throughput_ops_s]
    assert f"compared by its median run {slow.run_id} (lower middle of 2 valid run(s)" in note, note
    assert f"{min(rates):,.0f} ops/s; group median {statistics.median(rates):,.0f} ops/s" in note, note
    # a missing second id: its error alone, no note about the group first
    assert main(["compare", GROUP, "nosuch"]) == ExitCode.USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith("dbarena: no run or group 'nosuch'") and "\n" not in err, err
