"""`dbarena report` end to end: fake-engine runs in, report.md + a self-contained report.html out.

The headless-browser test proves the page renders offline without console errors; outside
CI it skips when Debian's chromium is missing, in CI (CI=true) it fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.results import stored_evidence
from harness.report import html, plots
from harness.report.build import Evidence, write_report
from harness.results import store
from harness.results.baselines import promote
from harness.results.build import run_and_record
from harness.results.record import RunRecord
from harness.runner.progress import Progress
from harness.runner.run import RunRequest
from harness.spec.loader import load_workload
from harness.spec.suite import LoadProfile
from harness.studies.models import CapacityResult, CurvePoint, Ranked, SelectionResult, Trait
from tests.browser import browser, chromium_fixture  # noqa: F401 (the chromium fixture)

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("Summary", "Manifest", "Latency percentile distribution", "Per-second time series", "History",
            "Comparison vs baseline", "Capacity", "Selection: session store", "Ranking (measured)",
            "Qualitative traits (not measured)")


def _run() -> RunRecord:
    workload = load_workload(ROOT / "workloads" / "kv-cache.yaml").scaled(0.05)
    request = RunRequest(engine="fake", url="fake://r?latency_us=300", workload=workload,
                         load=LoadProfile(users=2, processes=1, duration=2, warmup=1))
    return run_and_record(request, Progress())


def _write(records: list[RunRecord], out: Path) -> tuple[Path, Path]:
    """What `dbarena report` does: the runs plus what the results folder holds about them."""
    return write_report(records, stored_evidence(records), out)


def _later(record: RunRecord, seconds: int, **update: object) -> RunRecord:
    started = datetime.fromisoformat(record.started_at) + timedelta(seconds=seconds)
    return record.model_copy(update={"started_at": started.isoformat(timespec="seconds"), **update})


def _capacity(record: RunRecord) -> CapacityResult:
    steps = [(200, 199, 400, 900, 1_500), (400, 398, 450, 1_400, 2_600), (800, 790, 600, 3_900, 7_000),
             (1_200, 1_050, 2_500, 14_000, 30_000)]
    curve = tuple(CurvePoint(target_rate=t, achieved_ops_s=a, p50_us=p50, p99_us=p99, p999_us=p999,
                             slo_met=p99 <= 5_000, valid=t < 1_200, run_id=f"{record.run_id}-step{t}")
                  for t, a, p50, p99, p999 in steps)
    return CapacityResult(capacity_id="cap-fake-kv", engine="fake", workload="kv-cache", slo="p99<=5ms",
                          capacity_ops_s=800, curve=curve, started_at=record.started_at)


def _selection(record: RunRecord) -> SelectionResult:
    ranking = (Ranked(rank=1, engine="fake", capacity_ops_s=800, throughput_ops_s=record.total_throughput_ops_s,
                      p99_us=3_900, reasons=("highest capacity under p99<=5ms",), capacity_id="cap-fake-kv"),
               Ranked(rank=2, engine="neo4j", capacity_ops_s=None, throughput_ops_s=None, p99_us=None, reasons=(),
                      unsupported="no key-value scan"))
    traits = {"fake": Trait(transactions="none", schema_flexibility="any", query_power="key lookups",
                            operational_burden="none (in memory)")}
    return SelectionResult(selection_id="sel-kv", use_case="session store", workload="kv-cache", slo="p99<=5ms",
                           ranking=ranking, traits=traits, started_at=record.started_at)


class Stored:
    """What the module's results directory holds (DBARENA_RESULTS points at `path` for the module)."""

    def __init__(self, path: Path, **runs: RunRecord) -> None:
        self.path = path
        self.runs = runs


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stored]:
    """Two real fake-engine runs (the first promoted to baseline), invalid and lonely copies, capacity, a selection."""
    path = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBARENA_RESULTS", str(path))
        first = _run()
        store.save(first)
        promote(first)
        second = _run()
        store.save(second)
        invalid = _later(second, 5, run_id=f"{second.run_id}-bad", valid=False, complete=False,
                         invalid_reasons=("load generator fell behind: 12.0% of operations started more than 1 s late",))
        store.save(invalid)
        lonely = _later(second, 2, run_id=f"{second.run_id}-lonely", workload="lonely")
        store.save(lonely)
        store.write_atomic(path / "capacity" / "cap-fake-kv.json", _capacity(second).model_dump_json())
        store.write_atomic(path / "selections" / "sel-kv.json", _selection(second).model_dump_json())
        store.write_atomic(path / "capacity" / "garbage.json", "{not json")  # skipped, not fatal
        yield Stored(path, first=first, second=second, invalid=invalid, lonely=lonely)


@pytest.fixture(scope="module")
def report(stored: Stored) -> tuple[Path, Path]:
    return _write([stored.runs["second"]], stored.path / "reports")


def test_report_files_hold_every_section(report: tuple[Path, Path], stored: Stored) -> None:
    md_path, html_path = report
    md, page = md_path.read_text(encoding="utf-8"), html_path.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in md, section
        assert section in page, section
    second = stored.runs["second"]
    assert second.run_id in md and f"baseline {stored.runs['first'].run_id}" in md
    p99 = second.operations["read"].latency_us
    assert p99 is not None and f"{p99.p99 / 1000:.2f} ms" in md  # our HDR numbers, not Locust's
    assert page.count("<svg") == 4  # percentiles, time series, history, capacity curve
    images = re.findall(r"!\[[^\]]*\]\(([^)]+\.svg)\)", md)
    assert len(images) == 4
    for name in images:
        assert "/" not in name and (md_path.parent / name).read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_html_references_nothing_outside_itself(report: tuple[Path, Path]) -> None:
    page = report[1].read_text(encoding="utf-8")
    for needle in ("http://", "https://", "src=", "<script", "<link", "@import", "<img", "<iframe", "xlink:href"):
        assert needle not in page, needle
    assert not re.search(r"url\((?!#)", page)  # only in-page references such as clip paths
    assert not re.search(r'href="(?!#)', page)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "inlined SVGs must not share ids"
    referenced = set(re.findall(r'href="#([^"]+)"', page)) | set(re.findall(r"url\(#([^)]+)\)", page))
    assert referenced <= set(ids)


def test_invalid_and_incomplete_runs_are_marked(stored: Stored, tmp_path: Path) -> None:
    md_path, html_path = _write([stored.runs["invalid"]], tmp_path)
    for text in (md_path.read_text(encoding="utf-8"), html_path.read_text(encoding="utf-8")):
        assert "INVALID RUN" in text and "INCOMPLETE RUN" in text and "load generator fell behind" in text
    assert '<h2 id="' in html_path.read_text(encoding="utf-8") and 'class="bad"' in html_path.read_text(encoding="utf-8")


def test_a_run_without_history_baseline_or_capacity_still_reports(stored: Stored, tmp_path: Path) -> None:
    md = _write([stored.runs["lonely"]], tmp_path)[0].read_text(encoding="utf-8")
    assert "No history yet" in md and "Nothing to compare with" in md
    assert "### Capacity" not in md and "Selection:" not in md


def test_gathering_reads_only_what_it_is_given(stored: Stored, tmp_path: Path) -> None:
    """The report draws on the evidence passed in, never on the results folder itself."""
    second = stored.runs["second"]
    md = write_report([second], Evidence(), tmp_path)[0].read_text(encoding="utf-8")
    assert "Nothing to compare with" in md and "No history yet" in md
    assert "### Capacity" not in md and "Selection:" not in md
    with_baseline = Evidence(baselines={("fake", "kv-cache", None): stored.runs["first"]})
    md = write_report([second], with_baseline, tmp_path / "again")[0].read_text(encoding="utf-8")
    assert f"Comparison vs baseline {stored.runs['first'].run_id}" in md


def test_cli_reports_the_newest_run_by_default(stored: Stored, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--out", str(tmp_path)]) == 0
    assert "report written" in capsys.readouterr().out
    assert stored.runs["invalid"].run_id in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert main(["report", "no-such-run"]) == 2


def test_inlined_svgs_get_their_own_ids() -> None:
    svg = ('<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg" width="10pt" height="5pt" '
           'viewBox="0 0 10 5"><defs><path id="g1"/><clipPath id="c1"/></defs>'
           '<use xlink:href="#g1"/><g clip-path="url(#c1)"/></svg>')
    out = html.inline_svg(svg, "f3")
    assert out.startswith("<svg") and "http" not in out and "width=" not in out and 'viewBox="0 0 10 5"' in out
    assert 'id="f3-g1"' in out and 'href="#f3-g1"' in out and "url(#f3-c1)" in out


def test_slo_bounds_are_read_in_microseconds() -> None:
    assert plots.parse_slo_us("p99<=5ms") == ("p99", 5_000.0)
    assert plots.parse_slo_us("p99.9 <= 250us") == ("p999", 250.0)
    assert plots.parse_slo_us("throughput>=100") is None


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_the_page_renders_in_a_headless_browser(chromium: str, report: tuple[Path, Path], tmp_path: Path) -> None:
    html_path = report[1]
    shot = tmp_path / "shot.png"
    done = browser(chromium, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000",
                   html_path.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert not console, console  # the page has no script: any console message is a problem
    assert shot.exists() and _png_size(shot) == (1280, 2000)
    assert shot.stat().st_size > 50_000, "a blank page compresses to a few kilobytes"
    keep = os.environ.get("DBARENA_REPORT_SHOT")
    if keep:
        shutil.copy(shot, keep)

    dom = browser(chromium, tmp_path / "profile2", "--dump-dom", html_path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") == 4 and "</main>" in dom.stdout
    assert "Comparison vs baseline" in dom.stdout
