"""The report as GitHub-flavoured markdown; plots are the sibling .svg files write_report writes."""

from __future__ import annotations

from harness.report.blocks import Block, Heading, Report, Table, Text, is_number

__all__ = ["render"]


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("\n", " ") or " "


def _table(table: Table) -> list[str]:
    width = len(table.header)
    if not any(table.header):  # a key/value table: markdown needs a header row anyway
        lines = ["| | |", "|---|---|"]
    else:
        lines = ["| " + " | ".join(_cell(h) for h in table.header) + " |",
                 "|" + "|".join("---" if i == 0 else "---:" if _numeric(table, i) else "---" for i in range(width)) + "|"]
    for index, row in enumerate(table.rows):
        cells = [_cell(c) for c in row]
        if table.tones and table.tones[index] == "bad":
            cells[0] = f"**{cells[0]}** ⚠"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _numeric(table: Table, column: int) -> bool:
    """Right-align columns of numbers, like the terminal tables do."""
    values = [row[column] for row in table.rows if column < len(row) and row[column] not in ("", "-", "n/a")]
    return bool(values) and all(is_number(v) for v in values)


def _block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return ["#" * block.level + " " + block.text + (" ⚠" if block.tone == "bad" else ""), ""]
    if isinstance(block, Text):
        text = block.text.replace("*", "\\*")  # the text's own `*` (the few-samples mark) is no emphasis
        if block.tone == "bad":
            return [f"> **⚠ {text}**", ""]
        if block.tone == "note":
            return [f"_{text}_", ""]
        return [text, ""]
    if isinstance(block, Table):
        return [*_table(block), ""]
    return [f"![{block.title}]({block.name}.svg)", ""]  # a Plot: the sibling file write_report wrote


def render(report: Report) -> str:
    lines = [f"# {report.title}", "", f"Generated {report.generated_at} by `dbarena report`.", ""]
    for block in report.blocks:
        lines += _block(block)
    return "\n".join(lines).rstrip() + "\n"
