"""Every kind of user error reads the same: one line on stderr, `dbarena: ` first, then the file and field or
the flag, what is wrong and what to do; exit 2 (validate: 1); no traceback; nothing on stdout.

Run through the installed console script in a fresh process each, as a user meets them (argparse's
refusals, SpecError lines of a bad workload file, UserError from a command), so a warning, a log
record or a stray print would show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.exit_codes import ExitCode
from harness.errors import ERROR_PREFIX, SpecError, error_line

ROOT = Path(__file__).resolve().parents[2]
DBARENA = Path(sys.executable).with_name("dbarena")
BAD_FIELD = """version: 1
name: bad-field
dataset:
  entities:
    - {name: items, count: 10, key: id, fields: {id: {type: int}}}
operations:
  - {name: get, kind: read, entity: items, weight: -1}
"""


def stderr_line(argv: list[str], tmp_path: Path, expected_code: int = ExitCode.USER_ERROR) -> str:
    """The one stderr line of `dbarena argv` (exit `expected_code`, no traceback, nothing on stdout)."""
    env = {**os.environ, "DBARENA_HOME": str(ROOT), "DBARENA_RESULTS": str(tmp_path / "results")}
    done = subprocess.run([str(DBARENA), *argv], capture_output=True, text=True, timeout=120, env=env, check=False)
    lines = done.stderr.splitlines()
    assert done.returncode == expected_code, done.stderr
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert not done.stdout.strip(), done.stdout
    return lines[0]


@pytest.mark.parametrize(("argv", "expected"), [
    (["bench", "--engine", "fake", "--workload", "kv-cache", "--rate", "fast"],
     "dbarena: --rate: 'fast' is not a number; give a rate in ops/s, e.g. 2000 (0 = closed loop) "
     "(see dbarena bench --help)"),
    (["bench", "--engine", "fake", "--workload", "kv-cache", "--duration", "10parsecs"],
     "dbarena: --duration: '10parsecs' is not a duration such as 30s, 2m or 500ms (see dbarena bench --help)"),
    (["bench", "--engine", "postgre", "--workload", "kv-cache"],
     "dbarena: --engine: unknown engine 'postgre'; known: elasticsearch, fake, ferretdb, influxdb, mongodb, neo4j, "
     "opensearch, postgres, redis (did you mean 'postgres'?)"),
    (["bench", "--engine", "fake", "--workload", "missing.yaml"], "dbarena: missing.yaml: no such file"),
    (["explain", "kv-cache", "--engine", "fake"],
     "dbarena: explain does not render fake (an in-memory test engine, no statements); it renders postgres, "
     "mongodb, ferretdb, influxdb, neo4j, redis, elasticsearch, opensearch"),
    (["compare"], "dbarena: compare: the following arguments are required: RUN_ID (see dbarena compare --help)"),
    (["--home", "/no/such/folder", "runs"], "dbarena: --home /no/such/folder: not a directory; give the project folder"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_a_bad_flag_or_name_is_one_line_with_the_prefix(argv: list[str], expected: str, tmp_path: Path) -> None:
    assert stderr_line(argv, tmp_path) == expected


def test_a_bad_field_in_a_workload_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad-field.yaml"
    path.write_text(BAD_FIELD, encoding="utf-8")
    for argv, code in ((["bench", "--engine", "fake", "--workload", str(path)], ExitCode.USER_ERROR),
                       (["explain", str(path), "--engine", "postgres"], ExitCode.USER_ERROR),
                       (["validate", str(path)], ExitCode.PROBLEMS)):
        line = stderr_line(argv, tmp_path, code)
        assert line.startswith(f"{ERROR_PREFIX}{path}: operations[0]."), line
        assert "weight" in line, line


def test_error_line_folds_a_message_onto_one_line() -> None:
    assert error_line("a: b\n  c\n\n") == "dbarena: a: b; c"
    assert [error_line(p) for p in SpecError(["f.yaml: x: bad", "f.yaml: y: bad"]).problems] == [
        "dbarena: f.yaml: x: bad", "dbarena: f.yaml: y: bad"]
