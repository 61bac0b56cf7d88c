"""A comparison as a terminal table, with its verdict and warnings."""

from __future__ import annotations

from harness.compare.compare import Comparison
from harness.report.terminal import table
from harness.runner.progress import fmt_us


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f} ops/s" if metric == "throughput" else fmt_us(value)


def comparison_table(comparison: Comparison) -> str:
    rows = [[c.operation, c.metric + (" ↑" if c.higher_is_better else " ↓"), _fmt(c.metric, c.before),
             _fmt(c.metric, c.after), f"{c.change:+.1%}" if c.change is not None else "n/a", c.verdict.value,
             c.evidence] for c in comparison.changes]
    lines = [f"baseline  {comparison.baseline.run_id}", f"candidate {comparison.candidate.run_id}"]
    lines += [f"WARNING: {w}" for w in comparison.warnings]
    lines.append(table(rows, ["operation", "metric", "baseline", "candidate", "change", "verdict", "evidence"]))
    lines.append(f"verdict: {comparison.verdict.value.upper()} (minimum effect {comparison.threshold:.0%}; "
                 f"{2 * comparison.threshold:.0%} for p99, {4 * comparison.threshold:.0%} for p99.9; "
                 f"family-wise significance 5%; ↑ higher is better, ↓ lower is better)")
    return "\n".join(lines)
