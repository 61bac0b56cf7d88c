"""Bad command-line values: one line naming the flag, its unit or range and what to do; exit 2; nothing runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.exit_codes import ExitCode
from harness.results import store
from harness.studies import limits
from harness.studies.runs import Overrides, plan_runs
from tests.compare.records import synthetic_run

FAKE = ["bench", "--engine", "fake", "--workload", "kv-cache"]
CAPACITY = ["capacity", "--engine", "fake", "--workload", "kv-cache", "--slo", "p99=5ms"]


def one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one stderr line of a refused command line (exit 2, no traceback, nothing on stdout)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    assert code == ExitCode.USER_ERROR, (code, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not out.strip(), out
    return err.strip()


@pytest.mark.parametrize(("flags", "expected"), [
    (["--rate", "-5"], "--rate: -5 is negative; give a rate in ops/s, e.g. 2000 (0 = closed loop)"),
    (["--rate", "nan"], "--rate: 'nan' is not finite; give a rate in ops/s"),
    (["--rate", "inf"], "--rate: 'inf' is not finite; give a rate in ops/s"),
    (["--rate", "fast"], "--rate: 'fast' is not a number; give a rate in ops/s"),
    (["--scale", "0"], "--scale: 0: give a factor above 0"),
    (["--scale", "-1"], "--scale: -1: give a factor above 0"),
    (["--scale", "nan"], "--scale: 'nan' is not finite; give a factor above 0"),
    (["--scale", "inf"], "--scale: 'inf' is not finite; give a factor above 0"),
    (["--duration", "nan"], "--duration: 'nan' is not a duration"),
    (["--duration", "inf"], "--duration: 'inf' is not a duration"),
    (["--duration", "9" * 400], "--duration: '999"),
    (["--duration", "10parsecs"], "--duration: '10parsecs' is not a duration such as 30s"),
    (["--warmup=-1s"], "--warmup: '-1s' is not a duration"),
    (["--users", "0"], "--users: 0 users: give 1 to 10,000"),
    (["--users", "100000"], "--users: 100000 users: give 1 to 10,000"),
    (["--users", "many"], "--users: 'many' is not a whole number of users"),
    (["--processes", "0"], "--processes: 0 processes: give 1 to 64"),
    (["--processes", "65"], "--processes: 65 processes: give 1 to 64"),
    (["--think-time", "nan"], "--think-time: 'nan' is not a duration"),
    (["--stage", "10s:rate=-5"], "--stage 1: rate: should be greater than 0 (got '-5')"),
    (["--stage", "5s", "--stage", "10s:users=0"], "--stage 2: users: should be greater than or equal to 1"),
    (["--stage", "10s:rate=nan"], "--stage 1: rate: should be a finite number"),
    (["--stage", "inf:users=2"], "is not a duration"),
    (["--max-error-rate", "2"], "max-error-rate"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_run_shape_values(flags: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert expected in one_line([*FAKE, *flags], capsys)


@pytest.mark.parametrize(("flags", "expected"), [
    (["--start-rate", "0"], "--start-rate: 0 ops/s: give a number of ops/s above 0"),
    (["--start-rate", "nan"], "--start-rate: 'nan' is not finite; give a number of ops/s above 0"),
    (["--max-rate", "inf"], "--max-rate: 'inf' is not finite; give a number of ops/s above 0"),
    (["--max-rate", "-3"], "--max-rate: -3 ops/s: give a number of ops/s above 0"),
    (["--refine", "9"], "--refine: 9 bisection steps: give 0 to 8"),
    (["--refine", "-1"], "--refine: -1 bisection steps: give 0 to 8"),
    (["--step-duration", "inf"], "--step-duration: 'inf' is not a duration"),
    (["--start-rate", "1000", "--max-rate", "10"], "--start-rate 1000 is above --max-rate 10 ops/s"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_capacity_values(flags: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert expected in one_line([*CAPACITY, *flags], capsys)


def test_sweep_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line(["sweep", "kv-cache", "--engine", "fake", "--scales", "0,10k"], capsys)
    assert "--scales: '0' is no record" in line


def test_rate_zero_keeps_meaning_closed_loop() -> None:
    (run,) = plan_runs(None, Overrides(engine="fake", workload="kv-cache", rate=0))
    assert run.load.target_rate is None and not run.load.open_loop


def test_a_day_long_run_needs_the_override(capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line([*FAKE, "--duration", "100000h"], capsys)
    assert "--duration: '100000h' is longer than a year" in line and "--override-limits" in line
    line = one_line([*FAKE, "--duration", "48h"], capsys)
    assert "duration 172,800s plus warm-up 2s is over the 24 h limit of one run" in line and "--override-limits" in line
    line = one_line([*FAKE, "--duration", "24h", "--warmup", "1m"], capsys)
    assert "over the 24 h limit" in line
    (run,) = plan_runs(None, Overrides(engine="fake", workload="kv-cache", duration="48h", override_limits=True))
    assert run.load.duration_s == 48 * 3600
    line = one_line([*FAKE, "--duration", "400d"], capsys)
    assert "--duration: '400d' is not a duration" in line  # days are not a unit; hours are


def test_oversubscribing_the_cores_needs_the_override(capsys: pytest.CaptureFixture[str]) -> None:
    too_many = (os.cpu_count() or 1) * limits.PROCESSES_PER_CORE + 1
    if too_many > 64:
        pytest.skip("this machine's cores allow every process count the model accepts")
    line = one_line([*FAKE, "--processes", str(too_many), "--users", "64"], capsys)
    assert f"--processes {too_many} is more than 4 per core" in line and "--override-limits" in line
    (run,) = plan_runs(None, Overrides(engine="fake", workload="kv-cache", processes=too_many, override_limits=True))
    assert run.load.processes == too_many


def test_the_fake_engine_refuses_a_dataset_larger_than_memory(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(limits, "available_memory", lambda: 2 * 1024**3)
    line = one_line([*FAKE, "--scale", "1000"], capsys)  # 10 M records of ~1.2 KB
    assert line.startswith("dbarena: dataset: 10,000,000 records × ~1.2 KB ≈ 11.")
    assert "the fake engine would hold" in line and "2.0 GiB is available" in line and "--override-limits" in line


def test_a_native_engine_refuses_a_dataset_larger_than_its_disk(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(limits, "free_disk", lambda path: 100 * 1024**2)
    line = one_line(["bench", "--engine", "redis", "--workload", "kv-cache", "--provision", "native",
                     "--scale", "100"], capsys)
    assert "redis would need" in line and "100.0 MiB is free" in line and "DBARENA_DATA" in line


def test_the_estimate_is_said_before_loading() -> None:
    from harness.spec.loader import load_workload, resolve_workload

    size = limits.footprint(load_workload(resolve_workload("kv-cache")))
    assert size.records == 10_000 and 1000 < size.record_bytes < 1400
    assert size.line().startswith("dataset: 10,000 records × ~1.")
    limits.check_room(size, "fake", "in-process")  # 10k records fit anywhere
    with pytest.raises(Exception, match="fake engine would hold"):
        limits.check_room(limits.Footprint(10**12, 1000.0), "fake", "in-process")
    limits.check_room(limits.Footprint(10**12, 1000.0), "fake", "in-process", override=True)
    limits.check_room(limits.Footprint(10**12, 1000.0), "postgres", "external")  # not visible from here


@pytest.mark.parametrize("flags", [["--duration", "-5s"], ["--warmup", "-1s"], ["--think-time", "-1s"]],
                         ids=lambda v: " ".join(v))
def test_a_negative_duration_is_told_not_just_a_missing_argument(flags: list[str],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line([*FAKE, *flags], capsys)
    assert f"{flags[0]}: expected one argument (none was given, or the next word starts with '-'" in line
    assert "FLAG=VALUE" in line


def test_a_flag_without_its_value_and_a_bound_say_what_was_given(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--junit: expected one argument (none was given" in one_line([*FAKE, "--junit"], capsys)
    assert one_line([*FAKE, "--duration", "0s"], capsys).endswith("--duration: should be greater than 0 (got 0.0)")


def test_the_junit_path_is_refused_before_the_run(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    began = time.monotonic()
    line = one_line([*FAKE, "--duration", "30s", "--junit", "/nonexistent/dir/x.xml"], capsys)
    assert line == ("dbarena: --junit /nonexistent/dir/x.xml: cannot write there (no such folder); "
                    "give a path in an existing, writable folder")
    assert time.monotonic() - began < 10  # nothing ran: not the 30 s window
    assert not list((results / "runs").glob("*.json"))


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/hostname", "/tmp"])
def test_show_takes_a_run_id_or_a_json_record_only(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line(["show", target], capsys)
    assert line == f"dbarena: {target!r} is neither a run id nor a .json run record; `dbarena runs` lists the runs"


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
def test_an_incomplete_run_is_refused_as_a_baseline_exit_5(force: list[str], results: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    run = synthetic_run(1000, seconds=4, per_second=100, run_id="20260101T000000Z-fake-kv-cache-cccc", seed=3)
    store.save(run.model_copy(update={"complete": False}))
    assert main(["baseline", "promote", run.run_id, *force]) == ExitCode.INVALID
    err = capsys.readouterr().err
    assert "incomplete" in err and "--force included" in err and len(err.strip().splitlines()) == 1, err
    assert not (results / "baselines").exists() or not list((results / "baselines").rglob("*.json"))


@pytest.mark.parametrize("argv", [["runs"], ["show", "X"], ["report"], ["compare", "A", "B"], ["check", "X", "--threshold", "p99<5ms"]],
                         ids=lambda v: " ".join(v))
def test_a_results_folder_that_is_a_file_is_one_line_for_every_reader(
        argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("DBARENA_RESULTS", str(blocked))
    assert f"results folder {blocked}: cannot use it" in one_line(argv, capsys)


def test_an_unknown_flag_points_to_its_commands_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert one_line([*FAKE, "--bogus"], capsys) == (
        "dbarena: bench: unrecognized arguments: --bogus (see dbarena bench --help)")


def test_home_may_follow_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--home", str(tmp_path)]) == ExitCode.OK  # accepted after the command, as before it
    capsys.readouterr()
    missing = tmp_path / "nowhere"
    assert one_line([*FAKE, "--home", str(missing)], capsys) == (
        f"dbarena: --home {missing}: not a directory; give the project folder")


def test_compare_names_the_first_missing_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert "'nosuch1'" in one_line(["compare", "nosuch1", "nosuch2"], capsys)


def test_a_malformed_url_is_said_malformed_not_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--engine", "postgres", "--workload", "user-accounts", "--url", "postgres://bad url",
                 "--duration", "1s"])
    err = capsys.readouterr().err
    assert code == ExitCode.USER_ERROR, err
    assert "postgres URL 'postgres://bad url' is malformed" in err and "not reachable" not in err, err


def test_a_preset_an_engine_cannot_run_is_named_in_the_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    """kv-cache runs on Redis; its ycsb-e preset (a scan) does not: the line names the preset."""
    code = main(["bench", "--engine", "redis", "--workload", "kv-cache", "--preset", "ycsb-e",
                 "--url", "redis://127.0.0.1:1/0"])
    err = capsys.readouterr().err
    assert code == 2 and "kv-cache with preset ycsb-e on redis: n/a (scan" in err, err
