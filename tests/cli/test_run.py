"""`dbarena bench | capacity | sweep`: what the CLI prints and returns, with a scripted run (no engine, no workers).

The end-to-end path through the real runner (fake engine, worker processes) is
`test_bench_on_the_fake_engine_end_to_end`; Ctrl-C on a real run is tests/runner/test_run_fake.py.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.exit_codes import ExitCode
from harness.results import store
from harness.results.record import LoadPhase, RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from tests.cli.conftest import ROOT
from tests.compare.records import synthetic_run

_IDS = itertools.count(1)


def scripted(median_us: float, interrupted: bool = False) -> Callable[[RunRequest, Progress], RunRecord]:
    def run(request: RunRequest, progress: Progress) -> RunRecord:
        rate = request.load.target_rate
        record = synthetic_run(median_us if not rate or rate <= 700 else 50_000, seconds=4,
                               per_second=int(rate or 500), run_id=f"cli{next(_IDS)}")
        loaded = request.workload.dataset.entities[0].count
        update: dict[str, object] = {"engine": request.engine, "workload": request.workload.name,
                                     "preset": request.preset,
                                     "load_phase": LoadPhase(records=loaded, seconds=1.0, records_per_s=loaded)}
        if rate:
            update["total_throughput_ops_s"] = rate
        if interrupted:
            update.update(complete=False, interrupted=True, valid=False)
        return record.model_copy(update=update)
    return run


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[RunRequest, Progress], RunRecord]], None]:
    """Make every study measure with `run` instead of the runner."""
    import harness.studies.bench
    import harness.studies.capacity
    import harness.studies.sweep

    def install(run: Callable[[RunRequest, Progress], RunRecord]) -> None:
        for module, name in ((harness.studies.bench, "bench"), (harness.studies.capacity, "search_capacity"),
                             (harness.studies.sweep, "sweep")):
            monkeypatch.setattr(module, name, functools.partial(getattr(module, name), run=run))
    return install


BENCH = ["bench", "--engine", "fake", "--workload", "kv-cache", "--duration", "1s", "--warmup", "0s"]


def test_bench_prints_the_summary_the_record_path_and_the_baseline_hint(
        use: Callable[..., None], results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use(scripted(1000))
    assert main(BENCH) == ExitCode.OK
    out = capsys.readouterr().out
    (path,) = (results / "runs").glob("*.json")
    record = store.load(path)
    assert out.index("fake 1 · kv-cache") < out.index(f"run record: {path}") < out.index("no baseline for fake/kv-cache")
    assert f"`dbarena baseline promote {record.run_id}` makes this one" in out


def test_fail_on_regression_exits_3_only_when_a_run_regressed(
        use: Callable[..., None], capsys: pytest.CaptureFixture[str]) -> None:
    use(scripted(1000))
    assert main(BENCH) == ExitCode.OK
    (first,) = [r for _, r in store.all_runs()]
    assert main(["baseline", "promote", first.run_id]) == ExitCode.OK
    use(scripted(3000))
    assert main([*BENCH, "--fail-on-regression"]) == ExitCode.REGRESSED
    out = capsys.readouterr().out
    assert "verdict: REGRESSED" in out
    assert main(BENCH) == ExitCode.OK  # without the gate a regression is reported, not fatal


def test_an_interrupted_bench_saves_prints_and_exits_130(
        use: Callable[..., None], results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use(scripted(1000, interrupted=True))
    assert main(BENCH) == ExitCode.INTERRUPTED
    captured = capsys.readouterr()
    assert "run record:" in captured.out and "dbarena: interrupted" in captured.err
    (path,) = (results / "runs").glob("*.json")
    assert store.load(path).interrupted


def test_an_interrupted_run_is_not_compared_with_its_baseline(
        use: Callable[..., None], results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use(scripted(1000))
    assert main(BENCH) == ExitCode.OK
    (first,) = [r for _, r in store.all_runs()]
    assert main(["baseline", "promote", first.run_id]) == ExitCode.OK
    capsys.readouterr()
    use(scripted(3000, interrupted=True))  # three times slower: would be REGRESSED if compared
    assert main([*BENCH, "--fail-on", "regressed"]) == ExitCode.INTERRUPTED
    out = capsys.readouterr().out
    assert "interrupted: not compared" in out and "verdict" not in out and "REGRESSED" not in out, out


def test_capacity_prints_the_curve_and_where_it_is_saved(
        use: Callable[..., None], results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use(scripted(2000))
    assert main(["capacity", "--engine", "fake", "--workload", "kv-cache", "--slo", "p99=10ms",
                 "--max-rate", "10000", "--refine", "1"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "offered ops/s" in out and "capacity under p99<=10ms: 600 ops/s" in out
    (path,) = (results / "capacity").glob("*.json")
    assert f"capacity result: {path}" in out


def test_sweep_prints_a_table_and_the_plot(use: Callable[..., None], capsys: pytest.CaptureFixture[str]) -> None:
    use(scripted(1000))
    assert main(["sweep", "kv-cache", "--engine", "fake", "--scales", "100,1k"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "records" in out and "read ops/s" in out
    plot = Path(out.strip().splitlines()[-1].removeprefix("plot: "))
    assert plot.exists() and plot.suffix == ".png"


def test_bench_on_the_fake_engine_end_to_end(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BENCH, "--users", "2", "--processes", "1", "--scale", "0.05"]) == ExitCode.OK
    out = capsys.readouterr().out
    (path,) = (results / "runs").glob("*.json")
    record = store.load(path)
    assert record.complete and not record.interrupted and f"run record: {path}" in out


def test_ctrl_c_saves_the_run_and_stops_the_suite(results: Path) -> None:
    """SIGINT during the first run of the two-run default suite: that run is saved, the second never starts."""
    env = {**os.environ, "DBARENA_RESULTS": str(results)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "--home", str(ROOT), "bench", "--engine", "fake", "--duration", "30s",
         "--warmup", "0s", "--users", "2", "--processes", "1", "--scale", "0.02"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 60
    for line in proc.stderr:  # interrupt once the measurement is under way
        seen.append(line)
        if line.startswith("[measure") or time.monotonic() > deadline:
            proc.send_signal(signal.SIGINT)
            break
    out, rest = proc.communicate(timeout=90)
    err = "".join(seen) + rest
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "Traceback" not in err and "user-accounts" not in err  # the suite's second run never started
    (path,) = (results / "runs").glob("*.json")
    record = store.load(path)
    assert record.interrupted and not record.complete and f"run record: {path}" in out


def marked(change: Callable[[RunRecord], RunRecord]) -> Callable[[RunRequest, Progress], RunRecord]:
    """The scripted run of `scripted(1000)`, its record changed by `change` (made invalid, every call failed)."""
    base = scripted(1000)

    def run(request: RunRequest, progress: Progress) -> RunRecord:
        return change(base(request, progress))
    return run


def test_an_invalid_bench_run_never_exits_0(use: Callable[..., None], capsys: pytest.CaptureFixture[str]) -> None:
    from tests.compare.records import all_failed, invalid

    use(marked(lambda r: invalid(r, "load generator fell behind: 12.0% of operations started more than 1 s late",
                                 causes=("client",))))
    assert main(BENCH) == ExitCode.INVALID
    assert "INVALID: load generator fell behind" in capsys.readouterr().out
    use(marked(all_failed))
    assert main(BENCH) == ExitCode.ERRORS  # every call failed: the error budget's code, never 0
    use(marked(all_failed))
    assert main([*BENCH, "--threshold", "errors<1%"]) == ExitCode.ERRORS  # the worst failure wins


def test_bench_thresholds_gate_without_a_baseline(use: Callable[..., None], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import xml.etree.ElementTree as ET

    use(scripted(1000))
    target = tmp_path / "bench.xml"
    assert main([*BENCH, "--threshold", "read.p50<100us", "--threshold", "errors<1%", "--junit", str(target)]) \
        == ExitCode.THRESHOLD
    out = capsys.readouterr().out
    assert "threshold read.p50<100us: FAIL" in out and "threshold errors<1%: pass" in out
    failures = [c.get("name") for c in ET.parse(target).getroot().iter("testcase") if c.find("failure") is not None]
    assert failures == ["threshold read.p50<100us"]
    assert main([*BENCH, "--threshold", "read.p50<1s"]) == ExitCode.OK
    assert main([*BENCH, "--threshold", "reed.p50<1s"]) == ExitCode.USER_ERROR  # refused before anything runs
    assert "no operation 'reed' in this workload" in capsys.readouterr().err


def test_a_gate_against_an_invalid_baseline_fails(use: Callable[..., None], capsys: pytest.CaptureFixture[str]) -> None:
    from tests.compare.records import invalid

    use(marked(lambda r: invalid(r, "engine stalled for 3 s", causes=("engine",))))
    assert main(BENCH) == ExitCode.INVALID
    (first,) = [r for _, r in store.all_runs()]
    assert main(["baseline", "promote", first.run_id, "--force"]) == ExitCode.OK
    use(scripted(1000))
    capsys.readouterr()
    assert main(BENCH) == ExitCode.OK  # no gate asked for: said, not fatal
    assert f"not compared with the baseline: baseline {first.run_id} is INVALID: engine stalled for 3 s" \
        in capsys.readouterr().out
    assert main([*BENCH, "--fail-on", "regressed"]) == ExitCode.INVALID


def client_bound_above(knee: float) -> Callable[[RunRequest, Progress], RunRecord]:
    """Low latency at every rate; above `knee` ops/s the harness saturates (invalid, cause "client")."""
    from tests.compare.records import invalid

    base = scripted(2000)

    def run(request: RunRequest, progress: Progress) -> RunRecord:
        rate = request.load.target_rate or 0
        record = base(request, progress)
        low = record.model_copy(update={"operations": synthetic_run(2000, seconds=4,
                                                                    per_second=int(rate or 500)).operations})
        return invalid(low, "harness process CPU at 100% of a core", causes=("client",)) if rate > knee else low
    return run


def test_capacity_says_client_bound_and_json(use: Callable[..., None], results: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import json

    use(client_bound_above(700))
    command = ["capacity", "--engine", "fake", "--workload", "kv-cache", "--slo", "p99=10ms", "--max-rate", "10000",
               "--refine", "1"]
    assert main(command) == ExitCode.OK
    out = capsys.readouterr().out
    assert "800  " in out and "no (client-bound)" in out
    assert "client-bound at 600 ops/s: the load generator saturated at 800 ops/s offered" in out
    assert "--processes" in out and "capacity under" not in out
    assert main([*command, "--json"]) == ExitCode.OK
    data = json.loads(capsys.readouterr().out)
    assert data["client_bound"] is True and data["capacity_ops_s"] == 600
    assert [p["client_bound"] for p in data["curve"]] == [p["target_rate"] > 700 for p in data["curve"]]
    assert Path(data["path"]).parent == results / "capacity"


def test_select_json_marks_a_client_bound_capacity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import harness.studies.select

    monkeypatch.setattr(harness.studies.select, "run_selection",
                        functools.partial(harness.studies.select.run_selection, run=client_bound_above(700)))
    selection = tmp_path / "fake.yaml"
    selection.write_text("version: 1\nname: fake-kv\nuse_case: a cache\nworkload: kv-cache\nengines: [fake]\n"
                         "slo: {percentile: p99, max_ms: 10}\nload: {users: 2, processes: 1, duration: 1s, warmup: 0s}\n"
                         "capacity: {start_rate: 100, max_rate: 10000, refine: 1}\nscale: 0.01\n")
    assert main(["select", str(selection), "--json", "--repeats", "2"]) == ExitCode.OK
    data = json.loads(capsys.readouterr().out)
    (fake,) = data["ranking"]
    assert fake["engine"] == "fake" and fake["client_bound"] is True and fake["capacity_ops_s"] == 600
    assert fake["capacity_rounds"] == [600, 600] and data["repeats"] == 2
    assert fake["reasons"][0].startswith("client-bound at 600 ops/s: the load generator saturated at 800 ops/s")
    assert main(["select", str(selection), "--repeats", "1"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "- fake\n     - client-bound at 600 ops/s" in out
    assert "no ranking:\n  one engine only (fake): no ranking, its figures stand alone" in out


def _throughputs(*values: float) -> Callable[[RunRequest, Progress], RunRecord]:
    """A scripted run whose n-th call has total and per-operation throughput values[n] (p99 = 10 × it, in µs)."""
    calls = iter(values)
    base = scripted(1000)

    def run(request: RunRequest, progress: Progress) -> RunRecord:
        value = next(calls)
        record = base(request, progress)
        read = record.operations["read"]
        assert read.latency_us is not None
        op = read.model_copy(update={"throughput_ops_s": value,
                                     "latency_us": read.latency_us.model_copy(update={"p99": int(value * 10)})})
        return record.model_copy(update={"total_throughput_ops_s": value, "operations": {"read": op}})
    return run


def _row(out: str, label: str) -> list[str]:
    """The median, min, max and spread of the group table's row `label` ("total ops/s", "read p99 µs")."""
    (line,) = [line for line in out.splitlines() if " ".join(line.split()).startswith(label + " ")]
    return line.split()[len(label.split()):]


def test_bench_repeat_stores_a_group_and_prints_its_median_and_range(
        use: Callable[..., None], results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use(_throughputs(400, 700, 500))
    assert main([*BENCH, "--repeat", "3"]) == ExitCode.OK
    records = [r for _, r in store.all_runs()]
    assert len(records) == 3
    (group,) = {r.group for r in records}
    assert group is not None and sorted((r.repeat, r.repeats) for r in records) == [(1, 3), (2, 3), (3, 3)]
    out = capsys.readouterr().out
    assert out.count("run record:") == 3
    assert f"group {group}: fake · kv-cache · 3 of 3 runs" in out
    # median 500 of 400, 500, 700; range 400..700; spread (700 − 400) / 500 = 60%
    assert _row(out, "total ops/s") == ["500", "400", "700", "60%"]
    assert _row(out, "read p99 µs") == ["5,000", "4,000", "7,000", "60%"]
    assert main(["show", group]) == ExitCode.OK
    assert _row(capsys.readouterr().out, "total ops/s") == ["500", "400", "700", "60%"]
    assert main(["show", group, "--json"]) == ExitCode.OK
    shown = json.loads(capsys.readouterr().out)
    assert shown["stats"][0] == {"operation": "total", "figure": "ops/s", "median": 500.0, "low": 400.0,
                                 "high": 700.0, "samples": [400.0, 700.0, 500.0], "few": False}


def test_a_suite_run_repeats_as_its_repeat_says(use: Callable[..., None], results: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    use(_throughputs(100, 200))
    suite = tmp_path / "suite.yaml"
    suite.write_text("version: 1\nname: twice\nruns:\n  - workload: kv-cache\n    engines: [fake]\n    repeat: 2\n"
                     "    load: {duration: 1s, warmup: 0s}\n")
    assert main(["bench", "--suite", str(suite)]) == ExitCode.OK
    assert sorted(r.repeat or 0 for _, r in store.all_runs()) == [1, 2]
    assert "· 2 of 2 runs" in capsys.readouterr().out


def test_without_repeat_a_run_has_no_group(use: Callable[..., None], results: Path) -> None:
    use(scripted(1000))
    assert main(BENCH) == ExitCode.OK
    ((_, record),) = store.all_runs()
    assert (record.group, record.repeat, record.repeats) == (None, None, None)


def test_bench_repeat_on_the_fake_engine_end_to_end(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BENCH, "--users", "2", "--processes", "1", "--scale", "0.05", "--repeat", "2"]) == ExitCode.OK
    records = [r for _, r in store.all_runs()]
    assert len(records) == 2 and records[0].group == records[1].group is not None
    assert f"group {records[0].group}: fake · kv-cache · 2 of 2 runs" in capsys.readouterr().out


def test_compare_two_groups_across_repeats_and_gate_on_it(
        use: Callable[..., None], results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use(_throughputs(1000, 1010, 990, 1005, 700, 690, 710, 705))
    assert main([*BENCH, "--repeat", "4"]) == ExitCode.OK
    assert main([*BENCH, "--repeat", "4"]) == ExitCode.OK
    runs = [r for _, r in store.all_runs()]
    first = next(r.group for r in runs if r.total_throughput_ops_s == 1000)
    second = next(r.group for r in runs if r.total_throughput_ops_s == 700)
    assert first and second and first != second
    capsys.readouterr()
    assert main(["compare", first, second, "--fail-on-regression"]) == ExitCode.REGRESSED
    out = capsys.readouterr().out
    assert "4 valid runs) vs candidate group" in out
    total = _row(out, "total ops/s")  # medians 1,002.5 and 702.5
    assert total[:3] == ["1,002", "702", "-29.9%"] and total[-1] == "regressed"
    assert main(["compare", first, second, "--json"]) == ExitCode.OK  # without the gate: reported, not fatal
    (change,) = [c for c in json.loads(capsys.readouterr().out)["changes"] if c["operation"] == "total"]
    assert change["verdict"] == "regressed" and change["baseline_median"] == 1002.5
    # gates of one run are refused for groups, never dropped silently
    for flags in (["--threshold", "p99<1ms"], ["--junit", str(results / "gate.xml")]):
        assert main(["compare", first, second, *flags]) == ExitCode.USER_ERROR
        assert "takes no --threshold or --junit" in capsys.readouterr().err


def test_compare_a_group_with_one_run_uses_the_groups_median_run(
        use: Callable[..., None], results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use(_throughputs(400, 700, 500, 500))
    assert main([*BENCH, "--repeat", "3"]) == ExitCode.OK
    assert main(BENCH) == ExitCode.OK
    runs = [r for _, r in store.all_runs()]
    group = next(r.group for r in runs if r.group)
    single = next(r.run_id for r in runs if r.group is None)
    median = next(r.run_id for r in runs if r.group and r.total_throughput_ops_s == 500)
    capsys.readouterr()
    assert main(["compare", str(group), single]) == ExitCode.OK
    assert f"group {group}: compared by its median run {median}" in capsys.readouterr().err


def test_capacity_text_marks_a_steps_percentile_from_too_few_samples(results: Path) -> None:
    """A step's p99/p99.9 is its slowest operation's; its stored record says how many samples that had."""
    from harness.cli.run import capacity_text
    from harness.compare.samples import FEW_NOTE
    from harness.studies.models import CapacityResult, CurvePoint

    short = synthetic_run(1000, seconds=2, per_second=300, run_id="step-short")  # ~600 calls
    long = synthetic_run(1000, seconds=4, per_second=600, run_id="step-long")  # ~2,400 calls
    store.save(short)
    store.save(long)

    def point(record: RunRecord, rate: float) -> CurvePoint:
        lat = record.operations["read"].latency_us
        assert lat is not None
        return CurvePoint(target_rate=rate, achieved_ops_s=rate, p50_us=lat.p50, p99_us=lat.p99, p999_us=lat.p999,
                          slo_met=True, valid=True, run_id=record.run_id)

    result = CapacityResult(capacity_id="cap", engine="fake", workload="kv-cache", slo="p99<=5ms", capacity_ops_s=600,
                            curve=(point(short, 300), point(long, 600)), started_at=short.started_at)
    rows = [line.split() for line in capacity_text(result, results / "cap.json").splitlines()[2:4]]
    assert [cell.endswith("*") for cell in rows[0][2:5]] == [False, True, True]  # 300 ops/s: p99 and p99.9
    assert [cell.endswith("*") for cell in rows[1][2:5]] == [False, False, True]  # 600 ops/s: p99.9 only
    assert FEW_NOTE in capacity_text(result, results / "cap.json")


def test_capacity_text_says_a_capacity_never_found_is_below_the_lowest_rate(results: Path) -> None:
    from harness.cli.run import capacity_text
    from harness.studies.models import CapacityResult, CurvePoint

    missed = CurvePoint(target_rate=200, achieved_ops_s=200, p50_us=900, p99_us=9_000, p999_us=12_000, slo_met=False,
                        valid=True, run_id="step-missing")
    result = CapacityResult(capacity_id="cap", engine="fake", workload="kv-cache", slo="p99<=5ms", capacity_ops_s=None,
                            curve=(missed,), started_at="2026-01-01T00:00:00+00:00")
    text = capacity_text(result, results / "cap.json")
    assert "capacity under p99<=5ms: below 200 ops/s (missed even at the lowest rate tried)" in text
