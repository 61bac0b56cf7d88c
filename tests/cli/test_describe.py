"""`dbarena schema` and `dbarena workloads list`: what they print, and one line for a bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.cli.exit_codes import ExitCode
from harness.engines.registry import MATRIX_ENGINES
from harness.spec.reference import REFERENCE_PATH
from tests.cli.conftest import ROOT


@pytest.mark.parametrize("kind", ["workload", "suite", "selection"])
def test_schema_prints_the_committed_schema(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", kind]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out == (ROOT / "schemas" / f"{kind}.schema.json").read_text(encoding="utf-8")
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(("argv", "said"), [
    (["schema", "workloads"], "invalid choice: 'workloads'"),
    (["workloads", "show"], "invalid choice: 'show'"),
])
def test_bad_input_is_one_line(argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    err = capsys.readouterr().err
    assert caught.value.code == ExitCode.USER_ERROR and said in err and len(err.strip().splitlines()) == 1, err


def test_schema_without_a_kind_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == ExitCode.USER_ERROR
    assert capsys.readouterr().err == "dbarena: schema: give a file kind (workload, suite, selection) or --write\n"


def test_write_regenerates_the_committed_files_in_another_home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "examples" / "specs", tmp_path / "examples" / "specs")  # the page's examples
    assert main(["--home", str(tmp_path), "schema", "--write"]) == ExitCode.OK
    assert len(capsys.readouterr().out.splitlines()) == 4
    for path in [*(tmp_path / "schemas").glob("*.json"), tmp_path / REFERENCE_PATH]:
        committed = ROOT / path.relative_to(tmp_path)
        assert path.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), path


def test_workloads_list_json_is_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workloads", "list", "--json"]) == ExitCode.OK
    listed = {w["name"]: w for w in json.loads(capsys.readouterr().out)}
    assert set(listed) == {p.stem for p in (ROOT / "workloads").glob("*.yaml")}
    kv = listed["kv-cache"]
    spec = yaml.safe_load((ROOT / "workloads" / "kv-cache.yaml").read_text(encoding="utf-8"))
    assert kv["entities"] == [{"name": e["name"], "count": e["count"]} for e in spec["dataset"]["entities"]]
    assert [(o["name"], o["kind"], o["weight"]) for o in kv["operations"]] == [
        (o["name"], o["kind"], float(o["weight"])) for o in spec["operations"]]
    assert set(kv["presets"]) == set(spec["presets"]) and kv["presets"]["ycsb-c"] == {"read": 100.0}
    assert set(kv["engines"]) == set(MATRIX_ENGINES) and all(cell["runs"] for cell in kv["engines"].values())
    redis = listed["metrics-timeseries"]["engines"]["redis"]  # the matrix's n/a, with its reason
    assert not redis["runs"] and any("RedisTimeSeries" in reason for reason in redis["reasons"])


def test_workloads_list_text_names_counts_weights_and_engines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workloads", "list"]) == ExitCode.OK
    out = capsys.readouterr().out
    block = out.split("\n\n")[[b.split(":")[0] for b in out.split("\n\n")].index("kv-cache")]
    assert "usertable (10,000 records)" in block and "read [read] 50" in block
    assert "ycsb-a, ycsb-b, ycsb-c, ycsb-d, ycsb-e, ycsb-f" in block
    assert "n/a on redis: hourly-mean-per-host: " in out


def test_explain_prints_setup_statements_and_the_reason_for_what_cannot_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "social-graph", "--engine", "postgres"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.startswith("social-graph on postgres (rendered, nothing connected")
    assert '  CREATE INDEX "follows_idx0_src" ON "follows" ("src")\n' in out
    assert "friends-of-friends (traverse, weight " in out and "WITH RECURSIVE walk(node, depth)" in out
    assert main(["explain", "session-cache", "--engine", "postgres"]) == ExitCode.OK
    assert "  n/a: PostgreSQL has no record expiry" in capsys.readouterr().out


def test_explain_json_and_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "kv-cache", "--engine", "mongodb", "--preset", "ycsb-c", "--json"]) == ExitCode.OK
    explained = json.loads(capsys.readouterr().out)
    (read,) = explained["operations"]
    assert (read["name"], read["weight"], read["unsupported"]) == ("read", 100.0, None)
    assert read["sends"][0].startswith('usertable: {"find_one": {"_id": "user')


@pytest.mark.parametrize(("argv", "said"), [
    (["explain", "kv-cache", "--engine", "postgre"], "dbarena: unknown engine 'postgre'; known: "),
    (["explain", "kv-cach", "--engine", "postgres"], "dbarena: workload 'kv-cach' not found in "),
    (["explain", "kv-cache", "--engine", "fake"], "dbarena: explain does not render fake"),
    (["explain", "kv-cache", "--engine", "neo4j", "--preset", "ycsb-z"],
     "dbarena: --preset 'ycsb-z': workload kv-cache has no such preset; known: ycsb-a"),
])
def test_explain_bad_input_is_one_line(argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == ExitCode.USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith(said) and len(err.strip().splitlines()) == 1, err
