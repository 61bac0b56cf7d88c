"""The live page (`--web`): its models and history here; its server and page in a gevent subprocess.

pytest's process is not gevent-patched, so the server runs in `tests.runner.live_feed` (locust
imported first, as in the run's master), fed synthetic snapshots; this process reads
`/stats.json` with urllib and opens `/` in headless Chromium (which must run in CI).
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from harness.metrics.histogram import new_histogram
from harness.results.build import run_and_record
from harness.runner.live import HISTORY_S, History, LiveOperation, LiveSnapshot, LiveView
from harness.runner.progress import Progress, fmt_us
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile
from tests.browser import browser, chromium_fixture  # noqa: F401 (the chromium fixture)

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
STEADY_OPS = {"read", "update", "scan"}


def _snapshot(elapsed: float, **operations: LiveOperation) -> LiveSnapshot:
    return LiveSnapshot(run="r", engine="fake", workload="kv", phase="measure", elapsed_s=elapsed, total_s=10.0,
                        operations=operations)


def test_an_operation_comes_from_its_hdr_histogram() -> None:
    histogram = new_histogram()
    for value, times in ((100, 98), (900, 1), (1_500, 1)):
        histogram.record_value(value, times)
    assert LiveOperation.of(200, 3, histogram, seconds=2.0) == LiveOperation(
        ops_s=100.0, errors=3, p50_us=100, p99_us=900, max_us=1_500)
    assert LiveOperation.of(0, 5, new_histogram()) == LiveOperation(
        ops_s=0.0, errors=5, p50_us=None, p99_us=None, max_us=None)


def test_history_is_bounded_and_follows_the_clock() -> None:
    op = LiveOperation(ops_s=10.0, errors=0, p50_us=1, p99_us=2, max_us=3)
    history = History()
    for second in range(HISTORY_S + 50):
        history.add(_snapshot(float(second), read=op))
    read = history.to_data()["read"]
    assert len(read["t"]) == HISTORY_S and read["t"][0] == 50.0 and read["t"][-1] == HISTORY_S + 49
    history.add(_snapshot(float(HISTORY_S + 49), read=op.model_copy(update={"ops_s": 11.0})))
    assert len(history.to_data()["read"]["t"]) == HISTORY_S and history.to_data()["read"]["ops_s"][-1] == 11.0
    history.add(_snapshot(1.0, read=op))  # a new clock (e.g. loading -> warm-up) starts afresh
    assert history.to_data()["read"]["t"] == [1.0] and list(history.phases) == [(1.0, "measure")]


def test_stats_body_without_a_server() -> None:
    view = LiveView()
    assert json.loads(view.stats()) == {"snapshot": None, "history": {}, "phases": []}
    view.update(_snapshot(1.0))
    assert json.loads(view.stats()) == {"snapshot": _snapshot(1.0).model_dump(mode="json"), "history": {},
                                        "phases": [[1.0, "measure"]]}
    view.stop()  # never started: nothing to stop


class Feed:
    """The running `tests.runner.live_feed` process and its page's URL."""

    def __init__(self, seconds: float) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.runner.live_feed", "--seconds", str(seconds)],
                                        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = _readline(self.process, START_TIMEOUT_S)
        assert line.startswith("http://127.0.0.1:"), line + self.stderr()
        self.url = line

    def stderr(self) -> str:
        return "" if self.process.poll() is None or self.process.stderr is None else self.process.stderr.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _readline(process: subprocess.Popen[str], timeout_s: float) -> str:
    """The process's next stdout line, waiting at most `timeout_s` (lines are printed whole, flushed)."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout_s)
    return process.stdout.readline().strip() if ready else ""


@pytest.fixture(scope="module")
def feed() -> Iterator[Feed]:
    running = Feed(seconds=120)
    try:
        yield running
    finally:
        running.close()


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_stats_json_holds_the_last_snapshot_and_the_history(feed: Feed) -> None:
    status, kind, body = _get(feed.url + "stats.json")
    assert (status, kind) == (200, "application/json")
    data = json.loads(body)
    snapshot = LiveSnapshot.model_validate(data["snapshot"])  # the documented shape, strictly
    assert (snapshot.run, snapshot.engine, snapshot.phase, snapshot.total_s) == ("run-live-test", "fake", "measure", 120)
    assert set(snapshot.operations) == STEADY_OPS
    read = snapshot.operations["read"]
    assert (read.ops_s, read.errors, read.p50_us, read.p99_us) == (4321.0, 0, 180, 1_800)
    assert snapshot.operations["update"].errors == 7
    assert set(data["history"]) == STEADY_OPS
    assert data["phases"] == [[0.0, "loading"], [1.0, "warm-up"], [11.0, "measure"]]
    for series in data["history"].values():
        assert set(series) == {"t", "ops_s", "p99_us", "errors"}
        assert len(series["t"]) >= 60 and series["t"] == sorted(series["t"])
        assert all(len(values) == len(series["t"]) for values in series.values())
    time.sleep(0.5)
    later = json.loads(_get(feed.url + "stats.json")[2])["snapshot"]
    assert later["elapsed_s"] > snapshot.elapsed_s  # fed while it is served


def test_the_page_is_self_contained_and_unknown_paths_are_404(feed: Feed) -> None:
    status, kind, body = _get(feed.url)
    assert (status, kind) == (200, "text/html; charset=utf-8")
    page = body.decode("utf-8")
    for needle in ("https://", "src=", "<link", "@import", "<img", "<iframe"):
        assert needle not in page, needle  # self-contained: the machine may be offline
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert _get(feed.url + "nope")[0] == 404


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The shared headless browser, in a 1200x800 window with a 3 s virtual-time budget."""
    return browser(chromium, profile, "--window-size=1200,800", "--virtual-time-budget=3000", *args, timeout_s=120)


class Rows(HTMLParser):
    """The table's rows as {operation: {cell class: text}}."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.classes: dict[str, str] = {}
        self._row: dict[str, str] | None = None
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-op"):
            self._row = self.rows.setdefault(str(found["data-op"]), {})
            self.classes[str(found["data-op"])] = found.get("class") or ""
        elif tag == "td" and self._row is not None:
            self._cell = found.get("class") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is not None and self._cell is not None:
            self._row[self._cell] = self._row.get(self._cell, "") + data


def _rate(value: float) -> str:
    return f"{round(value):,}" if value >= 100 or value == 0 else f"{value:.1f}"


def test_the_page_shows_the_snapshot_in_a_headless_browser(chromium: str, feed: Feed, tmp_path: Path) -> None:
    snapshot: dict[str, Any] = json.loads(_get(feed.url + "stats.json")[2])["snapshot"]
    dom = _browser(chromium, tmp_path / "profile", "--dump-dom", feed.url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    rows = Rows()
    rows.feed(dom.stdout)
    assert set(rows.rows) == STEADY_OPS, dom.stdout[-3000:]
    for name, op in snapshot["operations"].items():
        shown = rows.rows[name]
        assert shown["name"] == name
        assert shown["ops_s"] == _rate(op["ops_s"]) and shown["errors"] == str(op["errors"])
        assert (shown["p50"], shown["p99"], shown["max"]) == (fmt_us(op["p50_us"]), fmt_us(op["p99_us"]),
                                                              fmt_us(op["max_us"]))
        assert ("err" in rows.classes[name].split()) == (op["errors"] > 0), name  # errors highlighted
    assert rows.rows["read"]["p99"] == "1.80 ms" and rows.rows["read"]["ops_s"] == "4,321"
    assert re.search(r'id="phase"[^>]*>measure<', dom.stdout)
    # the measure phase's own clock: 10 s warm-up then 110 s measured, not one 120 s clock from warm-up start
    clock = re.search(r'id="clock"[^>]*>(\d\d):(\d\d) / 01:50<', dom.stdout)
    assert clock, dom.stdout[-3000:]
    after = json.loads(_get(feed.url + "stats.json")[2])["snapshot"]["elapsed_s"]
    assert snapshot["elapsed_s"] - 10 - 1 <= int(clock[1]) * 60 + int(clock[2]) <= after - 10 + 1
    assert len(re.findall(r"<path [^>]*data-op=", dom.stdout)) == 2 * len(STEADY_OPS)  # ops/s and p99 lines
    assert len(re.findall(r'<circle [^>]*class="error"', dom.stdout)) >= 2 * 6  # update's seconds with errors

    shot = tmp_path / "live.png"
    done = _browser(chromium, tmp_path / "profile2", f"--screenshot={shot}", feed.url)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000, "a blank page compresses to a few kilobytes"
    keep = os.environ.get("DBARENA_LIVE_SHOT")
    if keep:
        shutil.copy(shot, keep)


def test_the_feed_ends_with_done_and_closes_its_port() -> None:
    short = Feed(seconds=1)
    try:
        port = urlsplit(short.url).port
        assert port is not None
        assert _get(short.url)[0] == 200 and _get(short.url + "stats.json")[0] == 200
        assert _readline(short.process, 30) == "stopped", short.stderr()  # requests wrote nothing on stdout
        assert short.process.wait(timeout=10) == 0
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    finally:
        short.close()


class _Catch(Progress):
    """A progress display that opens the live page in a browser when the master announces it."""

    def __init__(self, chromium: str, profile: Path) -> None:
        super().__init__()
        self.chromium, self.profile = chromium, profile
        self.dom: list[str] = []
        self.stats: list[dict[str, object]] = []
        self.thread: threading.Thread | None = None

    def say(self, line: str) -> None:
        if line.startswith("live view: "):
            url = line.removeprefix("live view: ").strip()
            self.thread = threading.Thread(target=self._look, args=(url,), daemon=True)
            self.thread.start()

    def _look(self, url: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the page shows measured seconds
            stats = json.loads(_get(url + "stats.json")[2])
            if stats["snapshot"]["phase"] == "measure" and stats["snapshot"]["operations"]:
                self.stats.append(stats)
                self.dom.append(_browser(self.chromium, self.profile, "--dump-dom", url).stdout)
                return
            time.sleep(0.2)


def test_a_run_with_web_serves_the_live_page_from_its_own_histograms(chromium: str, tmp_path: Path) -> None:
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(0.05)
    load = LoadProfile(users=4, processes=2, duration=4, warmup=1)
    catch = _Catch(chromium, tmp_path / "profile")
    record = run_and_record(RunRequest(engine="fake", url="fake://web?latency_us=500", workload=workload, load=load,
                                       web="127.0.0.1:0"), catch)
    assert catch.thread is not None
    catch.thread.join(timeout=60)
    assert record.valid, record.invalid_reasons
    (stats,) = catch.stats
    snapshot = stats["snapshot"]
    assert isinstance(snapshot, dict) and snapshot["phase"] in ("warm-up", "measure")
    assert set(snapshot["operations"]) == set(record.operations)  # type: ignore[arg-type]
    assert all(op["ops_s"] > 0 for op in snapshot["operations"].values())  # type: ignore[union-attr]
    rows = Rows()
    rows.feed(catch.dom[0])
    assert set(rows.rows) == set(record.operations)
