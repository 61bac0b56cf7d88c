"""The decision report: several engines on one workload side by side, from runs and/or a `select` result.

One section per workload: what each engine ran (its version and the server actually measured:
FerretDB, OpenSearch and InfluxDB 1.8 are named as the stand-ins they are for MongoDB,
Elasticsearch and InfluxDB 2 in every table, legend and ranking line), the ranking with its
reasons in words, one table and one percentile plot per operation across engines (repeats
pooled: throughput as the median of the runs with their range, percentiles from the runs' HDR
histograms merged exactly), and the capacity curves overlaid with the SLO line.
Like build.py it reads nothing: the caller passes the runs, the stored evidence and the selection.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.engines.registry import ENGINES
from harness.metrics.histogram import merge
from harness.metrics.samples import FEW, FEW_NOTE, marked
from harness.report import plots
from harness.report.blocks import Block, Heading, Plot, Table, Text
from harness.results.record import RunRecord
from harness.runner.progress import fmt_us
from harness.studies.models import CapacityResult, Ranked, SelectionResult

__all__ = ["STAND_INS", "Contender", "contenders", "decision_blocks", "engine_label", "measured_server", "record_label",
           "wants_decision"]

STAND_INS: dict[str, tuple[str, str]] = {  # server measured here -> (its name, the engine it stands in for)
    "ferretdb": ("FerretDB", "MongoDB"),
    "opensearch": ("OpenSearch", "Elasticsearch"),
    "influxdb": ("InfluxDB", "InfluxDB 2"),
}


def measured_server(engine: str, version: str, manifest: dict[str, Any] | None) -> str:
    """The server a run measured, in words: the manifest's provisioner `server` (the native launcher that served
    it; the engine's own name for an external or Compose server) with its version (the engine's answer; for a
    stand-in the launcher's own version when it gives one, FerretDB answering with MongoDB's), a stand-in said
    as such ("FerretDB 1.24.2, stand-in for MongoDB"). An InfluxDB answering 2.x is the real thing."""
    provisioner = (manifest or {}).get("provisioner") or {}
    server = str(provisioner.get("server") or engine)
    version = str(version or "").strip()
    known = STAND_INS.get(server)
    if known is None or (server == "influxdb" and version and not version.startswith("1.")):
        return f"{engine} {version}".strip() if version and version != "?" else engine
    launched = str(provisioner.get("version") or "")  # the stand-in's own version (FerretDB answers MongoDB's)
    version = launched if launched[:1].isdigit() else version
    name, real = known
    if server == "influxdb" and not version:
        version = "1.8"
    return f"{name} {version}".strip() + f", stand-in for {real}"


def engine_label(engine: str, server: str) -> str:
    """How a table, legend or ranking line names an engine: "mongodb (FerretDB 1.24.2, stand-in for MongoDB)"."""
    return f"{engine} ({server})" if "stand-in" in server else server


def record_label(record: RunRecord) -> str:
    """`engine_label` of the server a run measured."""
    return engine_label(record.engine, measured_server(record.engine, record.engine_version, record.manifest))


def _fallback_server(engine: str) -> str:
    """The server this machine's native route would have measured (a selection without its runs)."""
    info = ENGINES.get(engine)
    native = info.native.name if info and info.native else engine
    return measured_server(engine, "", {"provisioner": {"server": native}})


@dataclass(frozen=True)
class Contender:
    """One engine's evidence: its runs (repeats, oldest first), its capacity search and its selection entry."""

    engine: str
    server: str  # the server actually measured, in words (measured_server)
    runs: tuple[RunRecord, ...] = ()
    capacity: CapacityResult | None = None
    ranked: Ranked | None = None
    capacities: tuple[CapacityResult, ...] = ()  # every capacity search (a selection's rounds); else (capacity,)

    @property
    def searches(self) -> tuple[CapacityResult, ...]:
        """Every capacity search of this engine: the selection's rounds, else the one found."""
        return self.capacities or ((self.capacity,) if self.capacity is not None else ())

    @property
    def label(self) -> str:
        """The engine as every table, legend and ranking line names it: the stand-in said."""
        return engine_label(self.engine, self.server)

    @property
    def valid_runs(self) -> tuple[RunRecord, ...]:
        return tuple(r for r in self.runs if r.valid and r.complete)

    @property
    def counted(self) -> tuple[RunRecord, ...]:
        """The runs whose figures count: the valid ones, else (marked) all of them."""
        return self.valid_runs or self.runs


def wants_decision(records: Sequence[RunRecord], selection: SelectionResult | None) -> bool:
    """A cross-engine view is due for a selection, or for runs of two engines or more on one workload."""
    if selection is not None:
        return True
    engines: dict[tuple[str, str | None], set[str]] = {}
    for r in records:
        engines.setdefault((r.workload, r.preset), set()).add(r.engine)
    return any(len(found) > 1 for found in engines.values())


def _newest_capacity(engine: str, workload: str, preset: str | None,
                     results: Sequence[CapacityResult]) -> CapacityResult | None:
    mine = [c for c in results if c.engine == engine and c.workload == workload and c.preset == preset]
    return mine[-1] if mine else None


def _server_of(engine: str, runs: Sequence[RunRecord]) -> str:
    if runs:
        last = runs[-1]
        return measured_server(engine, last.engine_version, last.manifest)
    return _fallback_server(engine)


def _selection_runs(selection: SelectionResult, entry: Ranked, stored: Sequence[RunRecord]) -> list[RunRecord]:
    """Every round's closed-loop reference run of `entry` (by the ids the selection recorded; a selection stored
    before it recorded them: the engine's last `repeats` select reference runs before it ended)."""
    ids = tuple(getattr(entry, "reference_ids", ()) or ())
    if ids:
        by_id = {r.run_id: r for r in stored}
        return [by_id[i] for i in ids if i in by_id]
    refs = [r for r in stored if r.engine == entry.engine and r.workload == selection.workload
            and (r.suite or "").startswith("select:") and r.load.target_rate is None
            and r.started_at <= selection.started_at]
    return refs[-max(1, selection.repeats):]


def contenders(records: Sequence[RunRecord], stored: Sequence[RunRecord], capacity: Sequence[CapacityResult],
               selection: SelectionResult | None = None) -> dict[tuple[str, str | None], list[Contender]]:
    """Per (workload, preset): each engine's runs among `records`, its capacity search (the selection's, else
    the newest stored one) and selection entry; engines in the selection's order, else as the runs came."""
    by_key: dict[tuple[str, str | None], dict[str, list[RunRecord]]] = {}
    for r in records:
        by_key.setdefault((r.workload, r.preset), {}).setdefault(r.engine, []).append(r)
    out: dict[tuple[str, str | None], list[Contender]] = {}
    for (workload, preset), engines in by_key.items():
        out[(workload, preset)] = [Contender(engine, _server_of(engine, runs), tuple(runs),
                                             _newest_capacity(engine, workload, preset, capacity))
                                   for engine, runs in engines.items()]
    if selection is not None:
        found = {c.capacity_id: c for c in capacity}
        key = next((k for k in out if k[0] == selection.workload), (selection.workload, None))
        given = {c.engine: c for c in out.get(key, [])}
        chosen = []
        for entry in sorted(selection.ranking, key=lambda e: e.rank):
            runs = given[entry.engine].runs if entry.engine in given else tuple(_selection_runs(selection, entry, stored))
            searches = tuple(found[i] for i in (entry.capacity_ids or (entry.capacity_id or "",)) if i in found)
            step_ids = {p.run_id for c in searches for p in c.curve}
            step_runs = [r for r in stored if r.run_id in step_ids]
            chosen.append(Contender(entry.engine, _server_of(entry.engine, list(runs) or step_runs), tuple(runs),
                                    searches[0] if searches else None, entry, searches))
        out[key] = chosen + [c for name, c in given.items() if name not in {e.engine for e in selection.ranking}]
    return out


def _spread(values: Sequence[float]) -> str:
    if len(values) < 2:
        return "one run"
    low, high, mid = min(values), max(values), statistics.median(values)
    half = (high - low) / 2 / mid if mid else 0.0
    return f"{low:,.0f}–{high:,.0f} (±{half:.0%}, {len(values)} runs)"


def _operation_row(contender: Contender, name: str) -> tuple[tuple[str, ...], str]:
    runs = contender.counted
    ops = [r.operations[name] for r in runs if name in r.operations]
    if not ops:
        return (contender.label, "-", "not run", *(["-"] * 7)), "bad"
    if any(op.unsupported for op in ops):
        return (contender.label, str(len(ops)), f"n/a: {ops[0].unsupported}", *(["-"] * 7)), "bad"
    rates = [op.throughput_ops_s for op in ops]
    pooled = merge([op.histogram for op in ops if op.histogram])
    has = pooled.get_total_count() > 0
    count = pooled.get_total_count()
    lat = [marked(fmt_us(int(pooled.get_value_at_percentile(q))), count, metric) if has else "-"
           for q, metric in ((50.0, "p50"), (99.0, "p99"), (99.9, "p999"))]
    errors, timeouts = sum(op.errors for op in ops), sum(op.timeouts for op in ops)
    not_found = f"{sum(op.not_found for op in ops):,}" if any(op.must_hit for op in ops) else "-"
    shown = f"{len(ops)}" if contender.valid_runs else f"{len(ops)} (INVALID)"
    bad = not contender.valid_runs or errors or timeouts or (not_found not in ("-", "0"))
    return ((contender.label, shown, f"{statistics.median(rates):,.0f}", _spread(rates), *lat, f"{errors:,}",
             f"{timeouts:,}", not_found), "bad" if bad else "")


def _operations(key: str, group: Sequence[Contender]) -> list[Block]:
    names = list(dict.fromkeys(name for c in group for r in c.runs for name in r.operations))
    blocks: list[Block] = []
    for name in names:
        rows = [_operation_row(c, name) for c in group if c.runs]
        blocks += [Heading(4, f"{name}"),
                   Table(("engine (server measured)", "runs", "ops/s (median)", "spread (min–max)", "p50", "p99",
                          "p99.9", "errors", "timeouts", "not found (must hit)"),
                         tuple(r for r, _ in rows), tuple(t for _, t in rows))]
        curves = {c.label: [r.operations[name].histogram for r in c.counted
                            if name in r.operations and r.operations[name].histogram] for c in group}
        if svg := plots.percentiles_by_engine({k: v for k, v in curves.items() if v}, name):
            blocks.append(Plot(f"decision-{key}-{_stem(name)}-percentiles",
                               f"{name}: latency by percentile across engines", svg))
    if names:
        blocks.append(Text("ops/s: median over the engine's valid runs, spread = lowest–highest run (±half the range "
                           "of the median); p50/p99/p99.9 from the runs' HDR histograms merged (every call of every "
                           "repeat, µs, 3 significant digits); errors, timeouts and not found summed over the runs. "
                           "An engine without a valid run is shown from its invalid runs and marked INVALID.", "note"))
    if any(FEW in cell for block in blocks if isinstance(block, Table) for row in block.rows for cell in row[4:7]):
        blocks.append(Text(FEW_NOTE + ".", "note"))
    return blocks


def _stem(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in text).strip("-") or "x"


def _setup(record: RunRecord) -> str:
    load = record.load
    return (f"definition {record.workload_hash}, scale {record.scale:g}, {load.users} users × {load.processes} "
            f"process(es), {record.describe_load()}, {load.duration_s:g} s measured")


def _ran(group: Sequence[Contender]) -> list[Block]:
    rows = []
    for c in group:
        runs = c.runs
        versions = sorted({r.engine_version for r in runs}) or ["?"]
        rows.append((c.engine, c.server, ", ".join(versions), ", ".join(r.run_id for r in runs) or "-",
                     "; ".join(sorted({_setup(r) for r in runs})) or "-",
                     ", ".join(found.capacity_id for found in c.searches) or "-"))
    blocks: list[Block] = [Heading(3, "What each engine ran"),
                           Table(("engine", "server measured", "version", "runs", "setup", "capacity searches"),
                                 tuple(rows))]
    stand_ins = [c for c in group if "stand-in" in c.server]
    if stand_ins:
        blocks.append(Text("Stand-ins: " + "; ".join(f"{c.engine} was measured on {c.server}" for c in stand_ins)
                           + ". Their figures are the stand-in's, not the real engine's.", "bad"))
    setups = {_setup(r) for c in group for r in c.runs}
    if len(setups) > 1:
        blocks.append(Text("These runs are not the same test (" + " | ".join(sorted(setups)) + "): a difference "
                           "between engines may come from the setup, not the engine.", "bad"))
    return blocks


def _median_total(c: Contender) -> float | None:
    runs = c.valid_runs
    return statistics.median(r.total_throughput_ops_s for r in runs) if runs else None


def _versus(c: Contender, above: Contender) -> str:
    """How `c`'s throughput stands against the engine ranked just above it, in words."""
    mine, theirs = [r.total_throughput_ops_s for r in c.valid_runs], [r.total_throughput_ops_s for r in above.valid_runs]
    if len(mine) < 2 or len(theirs) < 2:
        return (f"below {above.label} ({len(theirs)} run(s) of it, {len(mine)} of this engine): too few repeats to "
                "tell noise from a difference (bench --repeat N)")
    if max(mine) >= min(theirs):
        return f"≈ {above.label} (within noise: their runs' ranges overlap)"
    return f"below {above.label}: every run of {above.label} was faster than every run of this engine"


def _capacity_reason(c: Contender) -> str:
    found = c.capacity
    if found is None:
        return "no capacity search"
    if found.capacity_ops_s is None:
        lowest = _lowest_rate(found)
        return (f"capacity below {lowest:,.0f} ops/s: missed {found.slo} even at {lowest:,.0f} ops/s, the lowest rate "
                f"tried (capacity search {found.capacity_id})")
    bound = " — client-bound: the load generator's limit, the engine does at least this much" if found.client_bound else ""
    return f"sustains {found.capacity_ops_s:,.0f} ops/s within {found.slo} (capacity search {found.capacity_id}){bound}"


def _lowest_rate(found: CapacityResult) -> float:
    """The lowest rate a capacity search tried (ops/s): a search that missed there found a capacity below it."""
    return min((p.target_rate for p in found.curve), default=0.0)


def _capacity_words(value: float | None, below: float | None) -> str:
    """'1,500 ops/s', or 'below 200 ops/s' for a capacity never found (missed at the lowest rate tried)."""
    if value:
        return f"{value:,.0f} ops/s"
    return f"below {below:,.0f} ops/s" if below else "none"


def _runs_ranking(group: Sequence[Contender]) -> tuple[str, list[tuple[Contender, list[str]]]]:
    """(how the ranking was made, each engine with its reasons): by capacity under one SLO when every engine has
    a capacity search under it, else by the runs' median throughput."""
    slos = {c.capacity.slo for c in group if c.capacity is not None}
    by_capacity = len(slos) == 1 and all(c.capacity is not None for c in group)
    if by_capacity:
        ordered = sorted(group, key=lambda c: -(c.capacity.capacity_ops_s or -1.0) if c.capacity else 1.0)
        head = (f"Ranking by capacity under {slos.pop()} (one capacity search per engine: a repeated search tells "
                "whether the order holds), then the runs given:")
    else:
        ordered = sorted(group, key=lambda c: -(_median_total(c) or -1.0))
        head = "Ranking by throughput of the runs given (no common capacity search ranks them here):"
    out = []
    for index, c in enumerate(ordered):
        reasons = [_capacity_reason(c)] if by_capacity else []
        total = _median_total(c)
        if total is None:
            reasons.append(f"no valid run ({'; '.join(c.runs[-1].invalid_reasons) if c.runs else 'no run'}): "
                           "its run figures are not ranked")
        else:
            reasons.append(f"{total:,.0f} ops/s in all ({c.runs[-1].describe_load()}; median of {len(c.valid_runs)} "
                           f"valid run(s), {_spread([r.total_throughput_ops_s for r in c.valid_runs])})")
            if index and not by_capacity and _median_total(ordered[index - 1]) is not None:
                reasons.append(_versus(c, ordered[index - 1]))
        out.append((c, reasons))
    return head, out


def _ranking(group: Sequence[Contender], selection: SelectionResult | None) -> list[Block]:
    if selection is not None and all(c.ranked for c in group):
        ranked = [(c, list(c.ranked.reasons) if c.ranked else []) for c in group]
        head = (f"Ranking of selection {selection.selection_id} ({selection.use_case}, SLO {selection.slo}): "
                "capacity under the SLO first, then closed-loop throughput, then tail latency.")
    else:
        head, ranked = _runs_ranking(group)
    rows = tuple((str(i), c.label, "; ".join(reasons) or "-") for i, (c, reasons) in enumerate(ranked, start=1))
    tones = tuple("bad" if (c.ranked and c.ranked.unsupported) or (c.runs and not c.valid_runs) else ""
                  for c, _ in ranked)
    words = [Text(f"{i}. {c.label}: " + "; ".join(reasons) + ".") for i, (c, reasons) in enumerate(ranked, start=1)]
    return [Heading(3, "Ranking and reasons"), *_stopped(selection), *_host(selection), Text(head),
            Table(("rank", "engine (server measured)", "reasons"), rows, tones), *words, *_order(selection, group)]


def _host(selection: SelectionResult | None) -> list[Block]:
    """A busy host said before the ranking (a selection that checked host load records it)."""
    if selection is None or not getattr(selection, "host_busy", False):
        return []
    reasons = "; ".join(getattr(selection, "host_reasons", ()) or ("no detail recorded",))
    return [Text(f"The host was busy during this selection ({reasons}): its figures may be the host's, not the "
                 "engines'.", "bad")]


def _order(selection: SelectionResult | None, group: Sequence[Contender]) -> list[Block]:
    """The selection's pairwise statements ("A > B with probability p", "A ≈ B (within noise)"), stand-ins named."""
    order = tuple(getattr(selection, "order", ()) or ()) if selection is not None else ()
    if not order:
        return []
    rounds = getattr(selection, "repeats", 1)
    measured = [e for e in selection.ranking if not e.unsupported and (e.capacity_ids or e.capacity_id)] if selection else []
    lines = []
    for line in order:
        for c in group:
            if c.label != c.engine:
                line = re.sub(rf"(?<![\w(-]){re.escape(c.engine)}(?![\w-])", c.label, line)
        lines.append(line)
    if len(measured) < 2:
        return [Text("No ranking: " + "; ".join(lines) + ".", "bad")]
    return [Text(f"Order over {rounds} round(s), engines interleaved (each statement says what it rests on): "
                 + " | ".join(lines) + ".")]


def _stopped(selection: SelectionResult | None) -> list[Block]:
    """A selection that stopped before its last round, said before its figures."""
    reason = getattr(selection, "stopped", None) if selection is not None else None
    if not reason:
        return []
    return [Text(f"PARTIAL selection: the study stopped before its end ({reason}); the figures below are what was "
                 "measured until then.", "bad")]


def _curves(group: Sequence[Contender], slo: str) -> dict[str, CapacityResult]:
    """Every capacity search under `slo` by legend label; a selection's rounds each drawn ("label · round k")."""
    out = {}
    for c in group:
        mine = [r for r in c.searches if r.slo == slo]
        for k, r in enumerate(mine, start=1):
            out[c.label if len(mine) == 1 else f"{c.label} · round {k}"] = r
    return out


def _capacity_row(c: Contender, slo: str) -> tuple[str, ...]:
    mine = [r for r in c.searches if r.slo == slo]
    entry = c.ranked
    if entry is not None and entry.capacity_ids:
        value = _capacity_words(entry.capacity_ops_s, getattr(entry, "capacity_below_ops_s", None)
                                or min((_lowest_rate(r) for r in mine), default=None))
    else:
        value = _capacity_words(mine[-1].capacity_ops_s, _lowest_rate(mine[-1]))
    bound = any(r.client_bound for r in mine)
    return (c.label, value, _rounds(entry, mine), "client-bound: the load generator's limit, at least this much" if bound
            else "engine", ", ".join(r.capacity_id for r in mine), ", ".join(str(len(r.curve)) for r in mine))


def _capacity(key: str, group: Sequence[Contender], selection: SelectionResult | None) -> list[Block]:
    searched = [c for c in group if c.searches]
    if not searched:
        return []
    slo = selection.slo if selection is not None else searched[0].searches[0].slo
    same = [c for c in searched if any(r.slo == slo for r in c.searches)]
    blocks: list[Block] = [Heading(3, f"Capacity under {slo}")]
    if svg := plots.capacity_by_engine(_curves(same, slo), slo):
        blocks.append(Plot(f"decision-{key}-capacity", f"Capacity curves across engines, SLO {slo}", svg))
    rows = tuple(_capacity_row(c, slo) for c in same)
    head = "capacity (median over the rounds)" if selection is not None else "capacity (this search)"
    blocks.append(Table(("engine (server measured)", head, "each round", "bound by", "searches", "steps"), rows))
    left = sorted(c.label for c in searched if c not in same)
    if left:
        blocks.append(Text(f"Not drawn (their search used another SLO): {', '.join(left)}.", "note"))
    return blocks


def _rounds(entry: Ranked | None, searches: Sequence[CapacityResult]) -> str:
    """Each round's capacity (the selection's record of its rounds, else the searches found) with the median and
    range ('below 200' for a round that never met the SLO at the lowest rate tried); '-' for a single search."""
    recorded = tuple(getattr(entry, "capacity_rounds", ()) or ()) if entry is not None else ()
    rounds = list(recorded) if len(recorded) > 1 else [r.capacity_ops_s for r in searches]
    if len(rounds) < 2:
        return "-"
    below = (getattr(entry, "capacity_below_ops_s", None) if entry is not None else None) or min(
        (_lowest_rate(r) for r in searches), default=0.0)
    found = [v for v in rounds if v]
    low = f"{min(found):,.0f}" if len(found) == len(rounds) else f"below {below:,.0f}"
    high = f"{max(found):,.0f}" if found else low
    values = ", ".join(f"{v:,.0f}" if v else f"below {below:,.0f}" for v in rounds)
    median = f"{statistics.median(v or 0.0 for v in rounds):,.0f}" if found else f"below {below:,.0f}"
    if found and not statistics.median(v or 0.0 for v in rounds):
        median = f"below {below:,.0f}"
    return f"median {median} ops/s ({low}–{high}), {len(rounds)} rounds: {values}"


def decision_blocks(records: Sequence[RunRecord], stored: Sequence[RunRecord], capacity: Sequence[CapacityResult],
                    selection: SelectionResult | None = None) -> list[Block]:
    """The cross-engine sections: one per workload with two engines or more (or the selection's)."""
    blocks: list[Block] = []
    for (workload, preset), group in contenders(records, stored, capacity, selection).items():
        if len(group) < 2 and (selection is None or workload != selection.workload):
            continue
        name = workload + (f":{preset}" if preset else "")
        key = _stem(name)
        blocks += [Heading(2, f"Decision: {name} across {len(group)} engines", f"decision-{key}"),
                   *_ran(group), *_ranking(group, selection), *_capacity(key, group, selection),
                   Heading(3, "Per operation across engines"), *_operations(key, group)]
    return blocks
