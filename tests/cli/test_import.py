"""`dbarena import ycsb`: YCSB's properties become a spec that validates and runs; what cannot be mapped is
one line per property on stderr, exit 2, and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.cli.exit_codes import ExitCode

YCSB = Path(__file__).resolve().parents[1] / "spec" / "ycsb"


def test_workloads_a_to_f_go_to_standard_output_and_validate(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    for letter in "abcdef":
        assert main(["import", "ycsb", str(YCSB / f"workload{letter}")]) == ExitCode.OK
        out, err = capsys.readouterr()
        assert not err and out.startswith("# Imported by `dbarena import ycsb` from workload")
        assert "--operationcount 1000" in out.splitlines()[1]  # the load profile, as bench flags
        path = tmp_path / f"workload{letter}.yaml"
        path.write_text(out)
        assert yaml.safe_load(out)["name"] == f"workload{letter}"
    assert main(["validate", str(tmp_path)]) == ExitCode.OK
    assert "6 spec file(s) valid" in capsys.readouterr().out


def test_workloade_with_its_suite_runs_its_operationcount_and_scans_by_the_drawn_length(
        tmp_path: Path, results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workload, suite = tmp_path / "e.yaml", tmp_path / "e-suite.yaml"
    argv = ["import", "ycsb", str(YCSB / "workloade"), "-p", "operationcount=600", "-p", "threadcount=2",
            "-o", str(workload), "--suite", str(suite), "--engine", "fake"]
    assert main(argv) == ExitCode.OK
    assert f"wrote {workload} and {suite}" in capsys.readouterr().err
    assert main(["validate", str(workload), str(suite)]) == ExitCode.OK
    assert main(["bench", "--suite", str(suite)]) == ExitCode.OK
    capsys.readouterr()
    record = json.loads(next((results / "runs").glob("*.json")).read_text())
    counted = sum(op["count"] for op in record["operations"].values())
    assert counted == 600  # YCSB's operationcount (the recorder stops the window there)
    assert set(record["operations"]) == {"scan", "insert"} and record["load"]["users"] == 2


@pytest.mark.parametrize(("extra", "names"), [
    (["-p", "requestdistribution=exponential"], ["requestdistribution"]),
    (["-p", "readallfields=false", "-p", "foo.bar=1", "-p", "fieldcount=-2"], ["fieldcount", "foo.bar", "readallfields"]),
])
def test_unmappable_properties_are_one_line_each_and_nothing_is_written(
        extra: list[str], names: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "out.yaml"
    assert main(["import", "ycsb", str(YCSB / "workloada"), *extra, "-o", str(output)]) == ExitCode.USER_ERROR
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert not out and "Traceback" not in err and not output.exists()
    assert sorted(line.split(": ")[2].split("=")[0] for line in lines) == names
    assert all(line.startswith(f"dbarena: {YCSB / 'workloada'}: ") for line in lines)


@pytest.mark.parametrize(("argv", "expected"), [
    (["import", "ycsb", "/no/such/file"], "import ycsb: /no/such/file: no such file"),
    (["import", "ycsb", str(YCSB)], "is a directory; give a YCSB properties file"),
    (["import", "ycsb", str(YCSB / "workloada"), "-p", "novalue"], "-p 'novalue': give KEY=VALUE"),
    (["import", "ycsb", str(YCSB / "workloada"), "--suite", "s.yaml"], "--suite names the workload by its file"),
    (["import", "ycsb", str(YCSB / "workloada"), "--name", "Bad Name"], "--name: 'Bad Name': give lower-case"),
])
def test_bad_input_is_one_line(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    assert code == ExitCode.USER_ERROR and not out and len(err.strip().splitlines()) == 1, err
    assert expected in err
