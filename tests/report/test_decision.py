"""The decision report: several engines side by side, from runs and from a stored `select` result.

Records are synthetic (tests/compare/records.py: log-normal latencies around a known median), so every figure
the report prints is checked against a value computed here from the records themselves; the page is opened in
headless Chromium and its text and plots checked from the rendered DOM and screenshots.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest
from PIL import Image

from harness.cli import main
from harness.cli.results import newest_bench
from harness.metrics.histogram import merge
from harness.report import decision
from harness.report.blocks import Plot, Table
from harness.report.build import Evidence, gather, write_report
from harness.results import store
from harness.results.record import RunRecord
from harness.runner.progress import fmt_us
from harness.studies.models import CapacityResult, CurvePoint, Ranked, SelectionResult
from tests.browser import browser, chromium_fixture  # noqa: F401 (the chromium fixture)
from tests.compare.records import invalid, synthetic_run

SERVERS = {  # engine -> (provisioner server in the manifest, version, median latency µs)
    "postgres": ("postgres", "16.6", 300.0),
    "mongodb": ("ferretdb", "1.24.2", 900.0),
    "elasticsearch": ("opensearch", "2.18.0", 2_500.0),
}


def _run(engine: str, index: int, seed: int) -> RunRecord:
    server, version, median = SERVERS[engine]
    record = synthetic_run(median, seconds=5, per_second=200, seed=seed, run_id=f"{engine}-{index}")
    return record.model_copy(update={
        "engine": engine, "engine_version": version, "started_at": f"2026-01-01T00:{seed:02d}:00+00:00",
        "manifest": {"provisioner": {"server": server, "pid": 1}}})


@pytest.fixture(scope="module")
def runs() -> list[RunRecord]:
    """postgres three times (repeats), mongodb (FerretDB) and elasticsearch (OpenSearch) once each."""
    return [_run("postgres", 1, 1), _run("postgres", 2, 2), _run("postgres", 3, 3), _run("mongodb", 1, 4),
            _run("elasticsearch", 1, 5)]


def _capacity(engine: str, capacity: float) -> CapacityResult:
    steps = [(r, r * 0.99, 5_000 * r / (capacity + 250)) for r in (500.0, 1_000.0, 1_500.0, 2_000.0)]
    curve = tuple(CurvePoint(target_rate=t, achieved_ops_s=a, p50_us=int(p99 / 3), p99_us=int(p99), p999_us=int(p99 * 2),
                             slo_met=t <= capacity, valid=True, run_id=f"{engine}-step{t:g}") for t, a, p99 in steps)
    return CapacityResult(capacity_id=f"cap-{engine}", engine=engine, workload="kv-cache", slo="p99<=5ms",
                          capacity_ops_s=capacity, curve=curve, started_at="2026-01-01T00:30:00+00:00")


def _selection() -> SelectionResult:
    ranking = (Ranked(rank=1, engine="postgres", capacity_ops_s=1_500, throughput_ops_s=None, p99_us=None,
                      reasons=("sustains 1,500 ops/s within p99 ≤ 5 ms",), capacity_id="cap-postgres"),
               Ranked(rank=2, engine="mongodb", capacity_ops_s=1_000, throughput_ops_s=None, p99_us=None,
                      reasons=("sustains 1,000 ops/s within p99 ≤ 5 ms (0.67× the best)",), capacity_id="cap-mongodb"),
               Ranked(rank=3, engine="elasticsearch", capacity_ops_s=500, throughput_ops_s=None, p99_us=None,
                      reasons=("sustains 500 ops/s within p99 ≤ 5 ms (0.33× the best)",),
                      capacity_id="cap-elasticsearch"))
    return SelectionResult(selection_id="20260101T003000Z-login-ab12", use_case="login service", workload="kv-cache",
                           slo="p99<=5ms", ranking=ranking, traits={}, started_at="2026-01-01T00:31:00+00:00")


CAPACITY = (_capacity("postgres", 1_500), _capacity("mongodb", 1_000), _capacity("elasticsearch", 500))


def test_the_server_measured_is_named_and_stand_ins_said() -> None:
    assert decision.measured_server("mongodb", "7.0.77", {"provisioner": {"server": "ferretdb", "version": "1.24.2"}}) \
        == "FerretDB 1.24.2, stand-in for MongoDB"
    assert decision.measured_server("elasticsearch", "2.18.0", {"provisioner": {"server": "opensearch"}}) \
        == "OpenSearch 2.18.0, stand-in for Elasticsearch"
    assert decision.measured_server("influxdb", "1.8.10", {"provisioner": {"server": "influxdb"}}) \
        == "InfluxDB 1.8.10, stand-in for InfluxDB 2"
    assert decision.measured_server("influxdb", "2.7.1", {"provisioner": {"url": "http://x"}}) == "influxdb 2.7.1"
    assert decision.measured_server("postgres", "16.6", {}) == "postgres 16.6"
    # as native runs record them here: Redis's launcher says "local", FerretDB answers with MongoDB's version
    assert decision.measured_server("redis", "7.0.15", {"provisioner": {"server": "redis", "version": "local"}}) \
        == "redis 7.0.15"
    assert decision.measured_server("mongodb", "7.0.42 (FerretDB unknown)",
                                    {"provisioner": {"server": "ferretdb", "version": "1.24.2"}}) \
        == "FerretDB 1.24.2, stand-in for MongoDB"


def test_one_table_per_operation_across_engines(runs: list[RunRecord], tmp_path: Path) -> None:
    md = write_report(runs, Evidence(runs=tuple(runs), capacity=CAPACITY), tmp_path)[0].read_text(encoding="utf-8")
    assert "## Decision: kv-cache across 3 engines" in md
    postgres = runs[:3]
    rates = [r.operations["read"].throughput_ops_s for r in postgres]
    pooled = merge([r.operations["read"].histogram for r in postgres])
    row = next(line for line in md.splitlines() if line.startswith("| postgres 16.6 | 3 |"))
    assert f"| {statistics.median(rates):,.0f} |" in row
    assert f"{min(rates):,.0f}–{max(rates):,.0f}" in row and "3 runs" in row
    assert f"| {fmt_us(int(pooled.get_value_at_percentile(99.0)))} |" in row
    ferret = next(line for line in md.splitlines() if line.startswith("| mongodb (FerretDB 1.24.2, stand-in for MongoDB) | 1 |"))
    assert "one run" in ferret
    assert "elasticsearch (OpenSearch 2.18.0, stand-in for Elasticsearch)" in md
    assert "Stand-ins: mongodb was measured on FerretDB 1.24.2, stand-in for MongoDB" in md
    # every engine has a capacity search under one SLO: ranked by capacity, in words
    assert "Ranking by capacity under p99<=5ms" in md
    assert "1. postgres 16.6: sustains 1,500 ops/s within p99<=5ms (capacity search cap-postgres)" in md
    assert "2. mongodb (FerretDB 1.24.2, stand-in for MongoDB): sustains 1,000 ops/s" in md
    assert "| server measured | FerretDB 1.24.2, stand-in for MongoDB |" in md  # the run's own manifest
    assert "## Runs" in md  # each run's own section follows


def test_repeats_whose_ranges_overlap_are_within_noise(runs: list[RunRecord]) -> None:
    """Without a common capacity search the runs rank by throughput; overlapping repeats are said to be a tie."""
    twin = [r.model_copy(update={"engine": "redis", "run_id": f"redis-{i}", "manifest": {}})
            for i, r in enumerate(runs[:3])]
    lone = runs[4].model_copy(update={"total_throughput_ops_s": 10.0})
    blocks = decision.decision_blocks([*runs[:3], *twin, lone], [], ())
    words = [b.text for b in blocks if hasattr(b, "text") and b.text[:3] in ("2. ", "3. ")]
    assert "Ranking by throughput of the runs given" in str(blocks)
    assert len(words) == 2 and "within noise" in words[0] and "too few repeats" in words[1]
    assert words[1].startswith("3. elasticsearch (OpenSearch 2.18.0, stand-in for Elasticsearch): 10 ops/s")


def test_an_invalid_engine_is_marked_not_ranked_on_its_figures(runs: list[RunRecord]) -> None:
    bad = invalid(runs[3], "12% of operations started more than 1 s late", causes=("client",))
    blocks = decision.decision_blocks([runs[0], bad], [], ())
    words = " ".join(b.text for b in blocks if hasattr(b, "text"))
    assert "no valid run (12% of operations started more than 1 s late)" in words
    assert "1 (INVALID)" in str(blocks)


def test_a_selection_result_reports_ranking_capacity_and_servers(runs: list[RunRecord], tmp_path: Path) -> None:
    references = [r.model_copy(update={"suite": "select:login"}) for r in (runs[2], runs[3], runs[4])]
    evidence = Evidence(runs=tuple(references), capacity=CAPACITY)
    md = write_report([], evidence, tmp_path, _selection())[0].read_text(encoding="utf-8")
    assert "Ranking of selection 20260101T003000Z-login-ab12 (login service, SLO p99<=5ms)" in md
    assert "2. mongodb (FerretDB 1.24.2, stand-in for MongoDB): sustains 1,000 ops/s" in md
    assert "### Capacity under p99<=5ms" in md and "| elasticsearch (OpenSearch 2.18.0, stand-in for Elasticsearch) | " \
                                                  "500 ops/s |" in md
    assert (tmp_path / "decision-kv-cache-capacity.svg").exists()
    assert (tmp_path / "decision-kv-cache-read-percentiles.svg").exists()


def test_history_never_joins_incomparable_runs(runs: list[RunRecord], tmp_path: Path) -> None:
    first, second, third = runs[:3]
    other = third.model_copy(update={"workload_hash": "h2"})
    report = gather([second], Evidence(runs=(first, second, other)))
    text = [b.text for b in report.blocks if hasattr(b, "text")]
    assert any("fall into 2 series that cannot be compared" in t for t in text)
    histories = [p for p in report.plots if "History of" in p.title]
    assert len(histories) == 1 and "definition h1" in histories[0].title and "(2 runs)" in histories[0].title


def test_report_without_arguments_skips_capacity_steps(runs: list[RunRecord]) -> None:
    step = runs[4].model_copy(update={"run_id": "step", "suite": "capacity"})
    listed = runs[3].model_copy(update={"run_id": "listed", "started_at": "2026-01-01T01:00:00+00:00"})
    assert newest_bench([*runs, listed, step], {"listed"}) == [runs[4]]
    suite = [r.model_copy(update={"suite": "nightly"}) for r in runs[2:]]
    assert [r.run_id for r in newest_bench([*runs[:2], *suite], set())] == [r.run_id for r in suite]


def test_cli_reports_a_stored_selection(runs: list[RunRecord], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DBARENA_RESULTS", str(tmp_path / "results"))
    for record in runs:
        store.save(record.model_copy(update={"suite": "select:login"}))
    for result in CAPACITY:
        store.write_atomic(tmp_path / "results" / "capacity" / f"{result.capacity_id}.json", result.model_dump_json())
    store.write_atomic(tmp_path / "results" / "selections" / "sel.json", _selection().model_dump_json())
    assert main(["report", "--select", "20260101T003000Z-login", "--out", str(tmp_path / "out")]) == 0
    assert "report written" in capsys.readouterr().out
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "dbarena decision report" in page and "stand-in for Elasticsearch" in page
    assert main(["report", "--select", "nope"]) == 2


def _inked(png: Path) -> float:
    """The share of pixels that are not white (a blank plot is ~0)."""
    with Image.open(png) as image:
        gray = image.convert("L")
        hist = gray.histogram()
        return 1 - sum(hist[245:]) / (gray.width * gray.height)


def test_the_decision_page_renders_in_a_headless_browser(chromium: str, runs: list[RunRecord], tmp_path: Path) -> None:
    references = [r.model_copy(update={"suite": "select:login"}) for r in (runs[2], runs[3], runs[4])]
    _, html_path = write_report([*runs[:2], *references], Evidence(runs=tuple(runs), capacity=CAPACITY),
                                tmp_path / "report", _selection())
    dom = browser(chromium, tmp_path / "profile", "--dump-dom", html_path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    for text in ("Decision: kv-cache across 3 engines", "What each engine ran", "Ranking and reasons",
                 "mongodb (FerretDB 1.24.2, stand-in for MongoDB)", "OpenSearch 2.18.0, stand-in for Elasticsearch",
                 "Capacity curves across engines, SLO p99&lt;=5ms", "read: latency by percentile across engines"):
        assert text in dom.stdout, text
    shot = tmp_path / "page.png"
    done = browser(chromium, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1280,2400",
                   html_path.as_uri())
    assert done.returncode == 0 and _inked(shot) > 0.02, done.stderr[-2000:]
    for name in ("decision-kv-cache-read-percentiles", "decision-kv-cache-capacity"):  # each plot alone
        page = tmp_path / f"{name}.html"
        page.write_text(f"<!DOCTYPE html><body style='margin:0;background:#fff'>"
                        f"{(tmp_path / 'report' / f'{name}.svg').read_text(encoding='utf-8')}</body>", encoding="utf-8")
        plot = tmp_path / f"{name}.png"
        done = browser(chromium, tmp_path / f"profile-{name}", f"--screenshot={plot}", "--window-size=900,400",
                       page.as_uri())
        assert done.returncode == 0, done.stderr[-2000:]
        assert _inked(plot) > 0.01, f"{name} renders blank"


def test_a_repeated_selection_says_its_order_rounds_and_busy_host(runs: list[RunRecord]) -> None:
    """What a repeated selection records (pairwise order, capacity over rounds, host load) is said, stand-ins named."""
    first = _selection().ranking[0].model_copy(update={"capacity_rounds": (1_400.0, 1_500.0, 1_600.0),
                                                       "capacity_low": 1_400.0, "capacity_high": 1_600.0})
    selection = _selection().model_copy(update={
        "ranking": (first, *_selection().ranking[1:]), "repeats": 3, "host_busy": True,
        "host_reasons": ("load average 3.1 on 2 CPUs before round 2",),
        "order": ("postgres > mongodb with probability 0.97", "mongodb ≈ elasticsearch (within noise)")})
    references = [r.model_copy(update={"suite": "select:login"}) for r in (runs[2], runs[3], runs[4])]
    blocks = decision.decision_blocks([], references, CAPACITY, selection)
    text = " ".join(b.text for b in blocks if hasattr(b, "text"))
    assert "The host was busy during this selection (load average 3.1 on 2 CPUs before round 2)" in text
    assert ("Order over 3 round(s), engines interleaved (each statement says what it rests on): postgres 16.6 > "
            "mongodb (FerretDB 1.24.2, stand-in for MongoDB) with probability 0.97 | mongodb (FerretDB 1.24.2, "
            "stand-in for MongoDB) ≈ elasticsearch (OpenSearch 2.18.0, stand-in for Elasticsearch) (within noise).") in text
    assert "median 1,500 ops/s (1,400–1,600), 3 rounds: 1,400, 1,500, 1,600" in str(blocks)


def test_a_percentile_from_too_few_pooled_samples_is_marked(runs: list[RunRecord], tmp_path: Path) -> None:
    """Each run holds 1,000 calls of read: postgres pools 3 runs (3,000), mongodb has one (1,000); a p99.9 needs
    10,000 samples, a p99 1,000 (10/(1-q)): p99.9 is marked for both, p99 for neither; a 400-call engine has
    its p99 marked too."""
    short = synthetic_run(500.0, seconds=2, per_second=200, seed=9, run_id="redis-1")
    short = short.model_copy(update={"engine": "redis", "engine_version": "7.0.15",
                                     "started_at": "2026-01-01T00:09:00+00:00"})
    md = write_report([*runs, short], Evidence(runs=(*runs, short)), tmp_path)[0].read_text(encoding="utf-8")
    decision_part = md.split("## Runs")[0]
    table = [line.split(" | ") for line in decision_part.splitlines() if line.startswith(("| postgres", "| mongodb",
                                                                                            "| **redis", "| redis"))]
    cells = {row[0].strip("| *⚠").split(" ")[0]: row[4:7] for row in table}  # p50, p99, p99.9
    assert set(cells) >= {"postgres", "mongodb", "redis"}, table
    for engine in ("postgres", "mongodb"):
        p50, p99, p999 = cells[engine]
        assert not p50.endswith("\\*") and not p99.endswith("\\*") and p999.endswith("\\*"), (engine, cells[engine])
    assert [c.endswith("\\*") for c in cells["redis"]] == [False, True, True]
    assert "\\* from fewer than 10/(1-q) samples" in decision_part
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert re.search(r'<td class="num">[\d.]+ (µs|ms)\*</td>', page) and "* from fewer than 10/(1-q) samples" in page


def _missed(engine: str, capacity_id: str) -> CapacityResult:
    """A capacity search that missed the SLO even at its lowest rate (500 ops/s)."""
    return _capacity(engine, 0).model_copy(update={"capacity_id": capacity_id, "capacity_ops_s": None})


def test_a_selection_pools_all_its_rounds_and_says_a_capacity_never_found(runs: list[RunRecord]) -> None:
    """Two rounds per engine: both postgres reference runs are pooled (median ops/s, merged histograms), both
    searches listed and drawn; mongodb missed the SLO at 500 ops/s in both rounds: 'below 500 ops/s', never 0."""
    pg = [r.model_copy(update={"suite": "select:login"}) for r in runs[:2]]
    mongo = [runs[3].model_copy(update={"suite": "select:login"}),
             runs[3].model_copy(update={"suite": "select:login", "run_id": "mongodb-2"})]
    searches = (_capacity("postgres", 1_000), _capacity("postgres", 1_500).model_copy(update={"capacity_id": "cap-pg-2"}),
                _missed("mongodb", "cap-mongo-1"), _missed("mongodb", "cap-mongo-2"))
    ranking = (Ranked(rank=1, engine="postgres", capacity_ops_s=1_250, throughput_ops_s=None, p99_us=None, reasons=(),
                      capacity_id="cap-postgres", capacity_ids=("cap-postgres", "cap-pg-2"),
                      capacity_rounds=(1_000.0, 1_500.0), reference_ids=("postgres-1", "postgres-2")),
               Ranked(rank=2, engine="mongodb", capacity_ops_s=None, throughput_ops_s=None, p99_us=None, reasons=(),
                      capacity_id="cap-mongo-1", capacity_ids=("cap-mongo-1", "cap-mongo-2"),
                      capacity_rounds=(None, None), capacity_below_ops_s=500.0,
                      reference_ids=("mongodb-1", "mongodb-2")))
    selection = _selection().model_copy(update={"ranking": ranking, "repeats": 2, "stopped": "locked by run X"})
    blocks = decision.decision_blocks([], [*pg, *mongo, runs[2]], searches, selection)
    tables = [b for b in blocks if isinstance(b, Table)]
    ran = next(t for t in tables if t.header[-1] == "capacity searches")
    assert ran.rows[0][3] == "postgres-1, postgres-2" and ran.rows[0][5] == "cap-postgres, cap-pg-2"
    read = next(t for t in tables if t.header[1] == "runs")
    expected = statistics.median(r.operations["read"].throughput_ops_s for r in pg)
    assert read.rows[0][1] == "2" and read.rows[0][2] == f"{expected:,.0f}"
    pooled = merge([r.operations["read"].histogram for r in pg])
    assert read.rows[0][5].startswith(fmt_us(int(pooled.get_value_at_percentile(99.0))))
    capacity = next(t for t in tables if t.header[1].startswith("capacity"))
    assert capacity.rows[0][1:3] == ("1,250 ops/s", "median 1,250 ops/s (1,000–1,500), 2 rounds: 1,000, 1,500")
    assert capacity.rows[1][1:3] == ("below 500 ops/s", "median below 500 ops/s (below 500–below 500), 2 rounds: "
                                     "below 500, below 500")
    plot = next(b for b in blocks if isinstance(b, Plot) and b.name.endswith("-capacity"))
    assert "round 2" in plot.svg
    text = " ".join(b.text for b in blocks if hasattr(b, "text"))
    assert " 0 ops/s" not in text + str(capacity.rows)
    assert "PARTIAL selection: the study stopped before its end (locked by run X)" in text



def test_the_selection_section_says_below_the_lowest_rate(runs: list[RunRecord], tmp_path: Path) -> None:
    missed = _selection().ranking[1].model_copy(update={"capacity_ops_s": None, "capacity_below_ops_s": 200.0})
    selection = _selection().model_copy(update={"ranking": (_selection().ranking[0], missed)})
    evidence = Evidence(runs=tuple(r.model_copy(update={"suite": "select:login"}) for r in runs[2:4]), capacity=CAPACITY)
    md = write_report([], evidence, tmp_path, selection)[0].read_text(encoding="utf-8")
    assert "| 2 | mongodb | below 200 ops/s |" in md


def test_a_selection_with_one_measured_engine_says_there_is_no_ranking(runs: list[RunRecord]) -> None:
    alone = ("only postgres could be measured (mongodb: no mapping): no ranking, its figures stand alone",)
    ranking = (_selection().ranking[0].model_copy(update={"capacity_ids": ("cap-postgres",)}),
               _selection().ranking[1].model_copy(update={"unsupported": "no mapping", "capacity_id": None}))
    selection = _selection().model_copy(update={"ranking": ranking, "order": alone})
    blocks = decision.decision_blocks([], [runs[0].model_copy(update={"suite": "select:login"})], CAPACITY, selection)
    text = " ".join(b.text for b in blocks if hasattr(b, "text"))
    assert "No ranking: only postgres 16.6 could be measured (mongodb: no mapping): no ranking" in text
