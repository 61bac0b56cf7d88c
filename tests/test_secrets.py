"""Secrets are never written: not in a run record, a baseline, a report, a history export or any line printed.

First every boundary on its own (in process, no engine): the run record (manifest, notes, failure,
invalid reasons, telemetry, error samples), the files written under the results folder, history
exports, progress lines, the recorder's error samples, the external endpoint, the CLI's lines.
Then whole `dbarena` processes against a redis-server started here with `--requirepass`: runs with
the password in `--url` and in `DBARENA_REDIS_URL`, `baseline promote`, `report`, `history
--csv/--parquet`, `show`, `compare`, runs with a wrong password, and credentials given the other
ways (InfluxDB `?token=`, Neo4j `bolt://user:pass@`, a libpq key/value DSN, MongoDB) to a closed
port; then every file under the results folder and everything printed is searched: no secret.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.provision import endpoint
from harness.provision.ports import free_port
from harness.redact import MASK, redact_text
from harness.results import baselines, history, store
from harness.results.manifest import manifest
from harness.results.record import RunRecord
from harness.runner.pacing import NS_PER_S
from harness.runner.progress import Progress
from harness.runner.recorder import Recorder
from tests.compare.records import synthetic_run

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Kn0wnPw-sec7"
TOKEN = "Kn0wnTok-9f3"
WRONG = "Wr0ngPw-4d1"
SECRETS = (PASSWORD, TOKEN, WRONG)
URL = f"redis://:{PASSWORD}@127.0.0.1:1/0?token={TOKEN}"


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def secret_record() -> RunRecord:
    """A record with a secret in every place text can come from: provisioner, settings, notes, errors..."""
    base = synthetic_run(100, seconds=2)
    read = base.operations["read"].model_copy(update={"errors": 1, "errors_sample": (
        f"ConnectionError: Error connecting to {URL}: refused",)})
    data = base.model_dump()
    data.update(
        manifest=manifest("redis", {"mode": "external", "url": URL}, {"requirepass": PASSWORD, "maxmemory": "0"}),
        notes=(f"reconnected to {URL}",), failure=f"EngineUnavailable: redis at {URL} is not reachable",
        invalid_reasons=(f"errors at host=127.0.0.1 password={PASSWORD}",), valid=False,
        telemetry={"client": {"password": PASSWORD, "addr": "127.0.0.1"}, "dsn": f"user=x password='{PASSWORD}'"},
        operations={"read": read},
    )
    return RunRecord.model_validate(data)


# ---- each boundary on its own ---------------------------------------------------------


def test_a_run_record_never_holds_a_secret_built_or_read() -> None:
    record = secret_record()
    assert leaks(record.model_dump_json()) == []
    assert record.manifest["provisioner"]["url"] == f"redis://:{MASK}@127.0.0.1:1/0?token={MASK}"
    assert record.operations["read"].errors_sample == (f"ConnectionError: Error connecting to "
                                                       f"redis://:{MASK}@127.0.0.1:1/0?token={MASK}: refused",)
    assert record.telemetry["client"] == {"password": MASK, "addr": "127.0.0.1"}
    assert record.manifest["engine_settings"]["maxmemory"] == "0"
    # built from keyword arguments (as results.build does) and read from an old file with secrets in it
    kwargs = {**synthetic_run(100, seconds=2).__dict__, "notes": (f"at {URL}",)}
    assert leaks(RunRecord(**kwargs).model_dump_json()) == []
    old = synthetic_run(100, seconds=2).model_dump(mode="json")
    old["manifest"] = {"provisioner": {"mode": "external", "url": URL}}
    assert leaks(RunRecord.model_validate(old).model_dump_json()) == []


def test_files_under_results_carry_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path))
    record = secret_record().model_copy(update={"valid": True, "invalid_reasons": ()})
    saved = store.save(record)
    promoted = baselines.promote(store.load(saved))
    store.write_atomic(tmp_path / "reports" / "report.md", f"| provisioner | mode=external, url={URL} |\n")
    for path in (saved, promoted, tmp_path / "reports" / "report.md"):
        assert leaks(path.read_text()) == [], path
    assert store.load(saved).manifest["provisioner"]["url"].startswith("redis://:***@")


def test_history_exports_mask_text_cells(tmp_path: Path) -> None:
    frame = pd.DataFrame({"run_id": ["r1"], "note": [f"from {URL}"], "count": [3]})
    for name in ("h.csv", "h.parquet"):
        history.export(frame, tmp_path / name)
    assert leaks((tmp_path / "h.csv").read_text()) == []
    assert leaks(pd.read_parquet(tmp_path / "h.parquet").to_csv()) == []
    assert frame.loc[0, "note"] == f"from {URL}"  # the caller's frame is untouched


def test_progress_lines_are_redacted() -> None:
    sink = io.StringIO()
    progress = Progress(sink, min_interval_s=0)
    progress.say(f"connecting to {URL}")
    progress.update(f"[load] password={PASSWORD}", force=True)
    progress.done(f"done with bolt://neo4j:{PASSWORD}@h")
    assert leaks(sink.getvalue()) == [] and sink.getvalue().count(MASK) == 4


def test_error_samples_are_redacted_before_they_are_cut() -> None:
    """A sample is cut at 200 characters: cut first, a URL ending inside its password would not look like one."""
    recorder = Recorder(["read"], t0_ns=0, warmup_s=0, duration_s=10, open_loop=False)
    stats = recorder.stats[0]
    prefix = "x" * (200 - len("ConnectionError: ") - len("redis://:") - 4)
    recorder.record_error(stats, 0, 5 * NS_PER_S, 5 * NS_PER_S, ConnectionError(f"{prefix}redis://:{PASSWORD}@127.0.0.1:1/0 refused"))
    assert leaks(stats.errors_sample[0]) == [] and PASSWORD[:4] not in stats.errors_sample[0]


def test_an_external_endpoint_records_its_url_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBARENA_REDIS_URL", URL)
    with endpoint.provisioned("redis", "auto", None, progress=lambda _line: None) as found:
        assert found.url == URL  # connect with the real one
        assert found.details == {"url": f"redis://:{MASK}@127.0.0.1:1/0?token={MASK}"}


def test_cli_lines_are_redacted(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBARENA_HOME", str(ROOT))
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path))
    assert main(["show", URL]) == 2  # a UserError quoting what was given
    with pytest.raises(SystemExit):
        main(["bench", "--users", URL])  # argparse quotes the bad value
    out, err = capsys.readouterr()
    assert leaks(out + err) == [] and MASK in err


# ---- whole runs, against a redis-server that wants a password --------------------------


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    """A redis-server with `--requirepass PASSWORD` on a free loopback port, stopped by PID afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD,
                               "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port, password=PASSWORD, socket_connect_timeout=1)
        for _ in range(100):  # up to ~10 s
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail(f"redis-server on port {port} did not answer in 10 s")
        client.close()
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


class Session:
    """`python -m harness.cli` in subprocesses sharing one results folder; everything printed is kept."""

    def __init__(self, results: Path) -> None:
        self.results = results
        self.printed: list[str] = []
        self.env = {**os.environ, "DBARENA_HOME": str(ROOT), "DBARENA_RESULTS": str(results)}
        for name in [n for n in self.env if n.startswith("DBARENA_") and n.endswith("_URL")]:
            del self.env[name]

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                              timeout=180, cwd=ROOT, env={**self.env, **(env or {})}, check=False)
        self.printed.append(f"$ dbarena {redact_text(' '.join(args))}\n{done.stdout}\n{done.stderr}")  # the output only
        return done

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        """A bench run of kv-cache on redis (~2 s measured); returns its run id."""
        before = set(self.results.glob("runs/*.json"))
        done = self("bench", "--engine", "redis", "--workload", "kv-cache", "--duration", "2s", "--warmup", "0s",
                    "--scale", "0.01", "--users", "2", "--processes", "1", *args, env=env)
        assert done.returncode == 0, done.stderr
        (path,) = set(self.results.glob("runs/*.json")) - before
        return path.stem


@pytest.mark.redis
@pytest.mark.slow
def test_nothing_a_run_writes_or_prints_holds_a_secret(redis_port: int, tmp_path: Path) -> None:
    dbarena = Session(tmp_path / "results")
    url = f"redis://:{PASSWORD}@127.0.0.1:{redis_port}/0"
    first = dbarena.run("--url", url)
    second = dbarena.run(env={"DBARENA_REDIS_URL": url})

    for args in (["baseline", "promote", first], ["baseline", "list"], ["runs"], ["show", first], ["show", second],
                 ["compare", first, second], ["compare", second], ["report", first, second], ["history"],
                 ["history", "--csv", str(tmp_path / "results" / "history.csv")],
                 ["history", "--parquet", str(tmp_path / "results" / "history.parquet")]):
        done = dbarena(*args)
        assert done.returncode == 0, (args, done.stderr)

    wrong = f"redis://:{WRONG}@127.0.0.1:{redis_port}/0"
    closed = free_port()
    failing = [
        ("redis", ["--url", wrong], None),
        ("redis", [], {"DBARENA_REDIS_URL": wrong}),
        ("influxdb", ["--url", f"http://127.0.0.1:{closed}?org=-&bucket=dbarena/autogen&token=admin:{TOKEN}"], None),
        ("neo4j", ["--url", f"bolt://neo4j:{PASSWORD}@127.0.0.1:{closed}"], None),
        ("postgres", [], {"DBARENA_POSTGRES_URL": f"host=127.0.0.1 port={closed} user=bench password={PASSWORD}"}),
        ("mongodb", ["--url", f"mongodb://bench:{PASSWORD}@127.0.0.1:{closed}/dbarena?authSource=admin"], None),
    ]
    for engine, args, env in failing:
        done = dbarena("bench", "--engine", engine, "--workload", "kv-cache", "--duration", "2s", "--warmup", "0s",
                       "--scale", "0.01", "--users", "2", *args, env=env)
        assert done.returncode == 2, done.stderr
        assert f"dbarena: {engine} at " in done.stderr, done.stderr
        assert "not reachable" in done.stderr or "answered but refused the connection" in done.stderr, done.stderr
        assert MASK in done.stderr, done.stderr

    written = [p for p in (tmp_path / "results").rglob("*") if p.is_file()]
    names = {p.relative_to(tmp_path / "results").parts[0] for p in written}
    assert {"runs", "baselines", "reports"} <= names and len(written) >= 6
    found = {str(p): leaks(pd.read_parquet(p).to_csv() if p.suffix == ".parquet" else p.read_bytes().decode("utf-8", "replace"))
             for p in written}
    assert {path: hits for path, hits in found.items() if hits} == {}
    printed = "\n".join(dbarena.printed)
    assert leaks(printed) == [], printed
    assert "redis://:***@127.0.0.1" in printed  # the URL is still shown, masked
    record = store.load(tmp_path / "results" / "runs" / f"{first}.json")
    assert record.manifest["provisioner"] == {"mode": "external", "url": f"redis://:***@127.0.0.1:{redis_port}/0"}
