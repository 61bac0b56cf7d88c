"""The format-neutral blocks a report is made of; build.py makes them, html.py and markdown.py render them.

Kept apart from both so that neither renderer imports the module that gathers the report
(and the gatherer imports no renderer to decide what the report says).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Block", "Heading", "Plot", "Report", "Table", "Text", "is_number"]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str | None = None
    tone: str = ""  # "" | bad


@dataclass(frozen=True)
class Text:
    text: str
    tone: str = ""  # "" | note | bad


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    tones: tuple[str, ...] = ()  # per row: "" | good | bad


@dataclass(frozen=True)
class Plot:
    name: str  # file-safe stem, unique within the report
    title: str
    svg: str


Block = Heading | Text | Table | Plot


@dataclass(frozen=True)
class Report:
    title: str
    generated_at: str
    blocks: tuple[Block, ...] = field(default=())

    @property
    def plots(self) -> list[Plot]:
        return [b for b in self.blocks if isinstance(b, Plot)]


_NUMBER = re.compile(r"^[+-]?\d[\d,.]*\s*(%|µs|ms|s|ops/s)?\*?$")  # `*`: a percentile from too few samples


def is_number(cell: str) -> bool:
    """Cells the renderers right-align (counts, rates, latencies, changes)."""
    return bool(_NUMBER.match(cell))
