"""A comparison and the gate's checks as a terminal table, and as JSON (`--json`, keys in docs/output.md)."""

from __future__ import annotations

from typing import Any

from harness.compare.compare import PER_OPERATION, SHARES, Comparison, MetricChange, Verdict
from harness.compare.gate import Gate
from harness.compare.samples import FEW_NOTE, marked
from harness.compare.thresholds import ThresholdCheck
from harness.report.terminal import table
from harness.runner.progress import fmt_us

__all__ = ["SHARE_RULE", "change_cells", "checks_json", "checks_text", "comparison_json", "comparison_table",
           "fmt_metric", "gate_json"]


SHARE_RULE = ("shares: errors and timeouts of all calls, not found of a must-hit operation's successes; a share "
              "regressed when it rose significantly by at least max(0.1 pp, minimum effect × the baseline's share)")


def fmt_metric(metric: str, value: float | None) -> str:
    """A metric's value in its unit: ops/s, a latency, or a share in percent (outcome shares)."""
    if value is None:
        return "n/a"
    if metric in SHARES:
        return f"{100 * value:.2f}%"
    return f"{value:,.0f} ops/s" if metric == "throughput" else fmt_us(value)


def change_cells(change: MetricChange) -> tuple[str, str, str, str]:
    """(metric ↑/↓, baseline, candidate, change): a relative change, or for a share the difference in
    percentage points."""
    if change.change is None:
        moved = "n/a"
    elif change.metric in SHARES:
        moved = f"{100 * change.change:+.2f} pp"
    else:
        moved = f"{change.change:+.1%}"
    before, after = fmt_metric(change.metric, change.before), fmt_metric(change.metric, change.after)
    if change.verdict is Verdict.TOO_FEW:  # mark the side(s) whose percentile came from too few samples
        before, after = marked(before, change.samples[0], change.metric), marked(after, change.samples[1], change.metric)
    return change.metric + (" ↑" if change.higher_is_better else " ↓"), before, after, moved


def comparison_table(comparison: Comparison) -> str:
    rows = [[c.operation, *change_cells(c), c.verdict.value, c.evidence] for c in comparison.changes]
    lines = [f"baseline  {comparison.baseline.run_id}", f"candidate {comparison.candidate.run_id}"]
    lines += [f"*** {line} ***" for line in comparison.invalid]
    lines += [f"WARNING: {w}" for w in comparison.warnings if w not in comparison.invalid]
    lines.append(table(rows, ["operation", "metric", "baseline", "candidate", "change", "verdict", "evidence"]))
    verdict = comparison.verdict.value.upper() + (" (INVALID run compared)" if comparison.invalid else "")
    if weak := comparison.weak_changes:  # a direction on the fallback alone is never the headline (docs/output.md)
        verdict += (" (" + ", ".join(f"{c.operation} {c.metric} {c.verdict.value}" for c in weak)
                    + f" on the weaker {PER_OPERATION} only: not counted; run longer)")
    lines.append(f"verdict: {verdict} (minimum effect {comparison.threshold:.0%}; "
                 f"{2 * comparison.threshold:.0%} for p99, {4 * comparison.threshold:.0%} for p99.9; "
                 f"unchanged = the whole interval inside it; family-wise significance 5%, Bonferroni over "
                 f"{len(comparison.changes)} metrics: each tested at {comparison.alpha:.2%}, its interval at "
                 f"{1 - comparison.alpha:.1%}; "
                 "↑ higher is better, ↓ lower is better)")
    if any(c.metric in SHARES for c in comparison.changes):
        lines.append(SHARE_RULE)
    if any(c.verdict is Verdict.TOO_FEW for c in comparison.changes):
        lines.append(FEW_NOTE)
    return "\n".join(lines)


def checks_text(checks: tuple[ThresholdCheck, ...]) -> str:
    """One line per threshold as applied: 'threshold read.p99<5ms: pass (read p99 4.2 ms < 5 ms)'."""
    return "\n".join(f"threshold {c.name}: {'pass' if c.passed else 'FAIL'} ({c.detail})" for c in checks)


def _change_json(change: MetricChange) -> dict[str, Any]:
    return {"operation": change.operation, "metric": change.metric, "higher_is_better": change.higher_is_better,
            "baseline": change.before, "candidate": change.after, "change": change.change,
            "verdict": change.verdict.value, "interval": list(change.interval) if change.interval else None,
            "method": change.method, "samples": {"baseline": change.samples[0], "candidate": change.samples[1]},
            "evidence": change.evidence}


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """The comparison's stable keys (docs/output.md)."""
    return {"baseline": comparison.baseline.run_id, "candidate": comparison.candidate.run_id,
            "verdict": comparison.verdict.value, "min_effect": comparison.threshold,
            "invalid": list(comparison.invalid), "warnings": list(comparison.warnings),
            "changes": [_change_json(c) for c in comparison.changes]}


def checks_json(checks: tuple[ThresholdCheck, ...]) -> list[dict[str, Any]]:
    return [{"threshold": c.name, "operation": c.operation, "metric": c.threshold.metric,
             "comparator": c.threshold.comparator, "limit": c.threshold.limit, "value": c.value,
             "passed": c.passed, "detail": c.detail} for c in checks]


def gate_json(gate: Gate, fail_on: str | None, exit_code: int) -> dict[str, Any]:
    """`compare --json` / `check --json`: the run, the comparison (or null), the thresholds and the gate's outcome."""
    record = gate.candidate
    return {"run": record.run_id, "valid": record.valid, "invalid_reasons": list(record.invalid_reasons),
            "invalid_causes": list(getattr(record, "invalid_causes", ())),
            "comparison": comparison_json(gate.comparison) if gate.comparison is not None else None,
            "not_compared": gate.not_compared, "thresholds": checks_json(gate.checks),
            "gate": {"fail_on": fail_on, "failures": [f.value for f in gate.failures(fail_on)],
                     "exit_code": int(exit_code)}}
