"""The report as one self-contained HTML page: inline CSS and inline SVG, no script, no fetches.

A report is mailed around, attached to tickets and opened years later offline, so the
page references nothing outside itself: no images, fonts, stylesheets or CDNs.
"""

from __future__ import annotations

import re
from html import escape

from harness.report.blocks import Block, Heading, Plot, Report, Table, Text, is_number

__all__ = ["inline_svg", "render"]

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #1f2328; background: #fff; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 40px 0 8px; padding-top: 12px; border-top: 2px solid #d0d7de; }
h3 { font-size: 16px; margin: 24px 0 6px; }
h2.bad { color: #b71c1c; border-top-color: #c62828; }
p { margin: 6px 0; }
p.note { color: #57606a; font-size: 13px; }
p.bad { background: #ffebee; border-left: 4px solid #c62828; color: #8e0000; padding: 8px 12px; font-weight: 600; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #d8dee4; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; white-space: nowrap; }
tr.bad td { background: #ffebee; }
tr.good td { background: #e8f5e9; }
table.kv td:first-child { color: #57606a; white-space: nowrap; }
figure { margin: 12px 0; }
figure svg { display: block; width: 100%; max-width: 960px; height: auto; }
figcaption { color: #57606a; font-size: 12px; }
.meta { color: #57606a; }
"""

_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_ROOT_ATTRS = re.compile(r'\s(?:xmlns(?::\w+)?|width|height|version)="[^"]*"')
_ID = re.compile(r'\bid="([^"]+)"')


def inline_svg(svg: str, prefix: str) -> str:
    """Matplotlib's standalone SVG made fit for inlining next to other SVGs in one page.

    Drops the XML prolog, DOCTYPE and namespace declarations (the HTML parser puts <svg> in
    the SVG namespace itself), switches xlink:href to SVG 2 href, and prefixes every id:
    matplotlib reuses glyph and clip ids across figures, and in one page they would clash.
    """
    body = _PROLOG.sub("", svg, count=1)
    tag_end = body.index(">")
    body = _ROOT_ATTRS.sub("", body[:tag_end]) + body[tag_end:]
    body = body.replace("xlink:href=", "href=")
    ids = set(_ID.findall(body))

    def rename(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}{prefix}-{name}" if name in ids else match.group(0)

    body = re.sub(r'(\bid=")([^"]+)(?=")', rename, body)
    body = re.sub(r'(\bhref="#)([^"]+)(?=")', rename, body)
    body = re.sub(r"(url\(#)([^)]+)(?=\))", rename, body)
    return body.strip()


def _table(table: Table) -> str:
    if any(table.header):
        parts = ["<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in table.header) + "</tr></thead><tbody>"]
    else:  # key/value facts: no header row
        parts = ['<table class="kv"><tbody>']
    for index, row in enumerate(table.rows):
        tone = table.tones[index] if index < len(table.tones) else ""
        cells = "".join(f'<td class="num">{escape(c)}</td>' if i and is_number(c) else f"<td>{escape(c)}</td>"
                        for i, c in enumerate(row))
        parts.append(f'<tr class="{tone}">{cells}</tr>' if tone else f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _block(block: Block, index: int) -> str:
    if isinstance(block, Heading):
        attrs = (f' id="{escape(block.anchor)}"' if block.anchor else "") + (f' class="{block.tone}"' if block.tone else "")
        return f"<h{block.level}{attrs}>{escape(block.text)}</h{block.level}>"
    if isinstance(block, Text):
        return f'<p class="{block.tone}">{escape(block.text)}</p>' if block.tone else f"<p>{escape(block.text)}</p>"
    if isinstance(block, Table):
        return _table(block)
    return _figure(block, index)


def _figure(plot: Plot, index: int) -> str:
    svg = inline_svg(plot.svg, f"f{index}")
    svg = svg.replace("<svg", f'<svg role="img" aria-label="{escape(plot.title)}"', 1)
    return f"<figure>{svg}<figcaption>{escape(plot.title)}</figcaption></figure>"


def render(report: Report) -> str:
    body = "\n".join(_block(block, i) for i, block in enumerate(report.blocks))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(report.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(report.title)}</h1>\n"
        f'<p class="meta">Generated {escape(report.generated_at)} by <code>dbarena report</code>. '
        "Numbers are dbarena's own HDR measurements; rows and headings marked red need attention.</p>\n"
        f"{body}\n</main>\n</body>\n</html>\n"
    )
