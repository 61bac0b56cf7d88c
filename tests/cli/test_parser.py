"""The parser: shared flag groups, defaults and units in every help text, named exit codes, --home."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import build_parser, exit_codes, main
from harness.cli.exit_codes import ExitCode
from harness.provision.endpoint import MODES
from tests.cli.conftest import ROOT


def _commands() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    yield "dbarena", parser
    yield from sub.choices.items()


def test_exit_codes_are_named_and_documented() -> None:
    assert [(c.name, int(c)) for c in ExitCode] == [
        ("OK", 0), ("PROBLEMS", 1), ("USER_ERROR", 2), ("REGRESSED", 3), ("ERRORS", 4), ("INVALID", 5),
        ("INCONCLUSIVE", 6), ("THRESHOLD", 7), ("INTERRUPTED", 130)]
    doc = exit_codes.__doc__ or ""
    assert all(f"{int(c)}" in doc and c.name in doc for c in ExitCode)


def test_every_command_is_there() -> None:
    names = {name for name, _ in _commands()}
    assert names >= {"dbarena", "validate", "bench", "capacity", "sweep", "select", "engines", "runs", "show",
                     "compare", "check", "baseline", "history", "report", "worker"}


@pytest.mark.parametrize(("name", "parser"), list(_commands()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_option_says_its_default(name: str, parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            assert action.help and ("(default:" in action.help or "required" in action.help), (name, action.dest)


def test_provisioning_choices_come_from_the_provisioner() -> None:
    for name, parser in _commands():
        for action in parser._actions:
            if "--provision" in action.option_strings:
                assert tuple(action.choices or ()) == MODES, name
                assert action.default == "auto"


def test_run_shape_flags_are_shared() -> None:
    commands = dict(_commands())
    flags = {name: {s for a in commands[name]._actions for s in a.option_strings} for name in ("bench", "capacity", "sweep")}
    shape = {"--preset", "--warmup", "--users", "--processes"}
    assert all(shape <= found for found in flags.values())
    assert {"--duration", "--rate", "--schedule", "--scale", "--fail-on-regression", "--url"} <= flags["bench"]
    assert "--step-duration" in flags["capacity"] and "--duration" not in flags["capacity"]


def test_capacity_and_sweep_keep_their_own_defaults() -> None:
    parser = build_parser()
    capacity = parser.parse_args(["capacity", "--engine", "fake", "--workload", "kv-cache", "--slo", "p99=5ms"])
    assert (capacity.users, capacity.processes, capacity.warmup, capacity.step_duration) == (16, 2, "2s", "10s")
    assert (capacity.start_rate, capacity.max_rate, capacity.refine) == (100.0, 100_000.0, 2)
    sweep = parser.parse_args(["sweep", "kv-cache", "--engine", "fake", "--scales", "1k"])
    assert (sweep.users, sweep.processes, sweep.duration, sweep.warmup, sweep.rate) == (8, 2, "10s", "2s", None)
    bench = parser.parse_args(["bench"])
    assert (bench.users, bench.duration, bench.provision, bench.fail_on) == (None, None, "auto", None)
    assert parser.parse_args(["bench", "--fail-on-regression"]).fail_on == "regressed"  # the old spelling, kept
    assert parser.parse_args(["compare", "r", "--fail-on", "inconclusive"]).fail_on == "inconclusive"


def test_user_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "no-such-run"]) == ExitCode.USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("dbarena: no run 'no-such-run'") and len(err.strip().splitlines()) == 1


def test_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "workloads")]) == ExitCode.OK
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\n")
    assert main(["validate", str(bad)]) == ExitCode.PROBLEMS
    assert "Traceback" not in capsys.readouterr().err


def test_home_sets_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "project"
    shutil.copytree(ROOT / "workloads", home / "workloads")
    monkeypatch.delenv("DBARENA_RESULTS")
    monkeypatch.setenv("DBARENA_HOME", str(tmp_path / "elsewhere"))  # restored after the test
    monkeypatch.chdir(tmp_path)
    assert main(["--home", str(home), "runs"]) == ExitCode.OK
    assert "no runs stored yet" in capsys.readouterr().out
    from harness import paths

    assert paths.workloads_dir() == home.resolve() / "workloads"
    assert paths.results_dir() == home.resolve() / "results"
    assert main(["--home", str(tmp_path / "missing"), "runs"]) == ExitCode.USER_ERROR


@pytest.mark.parametrize(("argv", "expected"), [
    (["worker", "--master", "nohost"], "--master 'nohost': expected HOST:PORT"),
    (["bench", "--engine", "fake", "--master-bind", "0.0.0.0"], "--master-bind '0.0.0.0': expected HOST:PORT"),
    (["bench", "--engine", "fake", "--web", "localhost:99999"], "--web 'localhost:99999': expected HOST:PORT"),
    (["bench", "--engine", "fake", "--expect-workers", "-1"], "--expect-workers: -1 is not a worker count"),
    (["bench", "--engine", "fake", "--workload", "kv-cache", "--stage", "10s:userz=3"], "--stage '10s:userz=3'"),
    (["bench", "--engine", "fake", "--workload", "kv-cache", "--stage", "ten:users=3"], "is not a duration"),
    (["bench", "--engine", "fake", "--workload", "kv-cache", "--stage", "2s:users=abc"],
     "--stage '2s:users=abc': users='abc' should be a whole number of users"),
    (["bench", "--engine", "fake", "--workload", "kv-cache", "--stage", "2s:rate=fast"],
     "--stage '2s:rate=fast': rate='fast' should be a rate in ops/s"),
    (["bench", "--engine", "fake", "--workload", "kv-cache", "--rate", "100", "--think-time", "5ms"],
     "think_time applies to closed-loop users"),
])
def test_distributed_and_shape_flags_are_one_clear_line(argv: list[str], expected: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == ExitCode.USER_ERROR
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_validate_and_bench_refuse_a_suite_bench_could_not_run_before_anything_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text("version: 1\nname: s\nruns:\n  - {workload: nosuch-workload, engines: [postgres]}\n"
                     "  - {workload: kv-cache, engines: [nosuchengine]}\n  - {workload: session-cache, engines: [postgres]}\n")
    assert main(["validate", str(suite)]) == ExitCode.PROBLEMS
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith(f"dbarena: {suite}: runs[") for line in lines), lines
    assert "n/a" in lines[2]
    assert main(["bench", "--suite", str(suite)]) == ExitCode.USER_ERROR  # nothing ran: no engine was started
    assert "initdb" not in capsys.readouterr().err
