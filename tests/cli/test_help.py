"""`--help` of every command and subcommand: each option says its default (the value it really has) and units.

The parser is walked to the leaves (`import ycsb`, …), so a flag added anywhere is checked:
- every option's help says "(default: …)" (or that it is required), and when the option has a
  default value, that text names the value;
- every duration option reads a duration (value type `time_value`/`positive_time`) and its help
  names the unit (seconds, or examples such as 500ms, 30s);
- every rate option reads ops/s and says so.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from harness.cli import build_parser
from harness.cli.options import positive_time, rate_value, time_value

DURATION_TYPES = (time_value, positive_time)
DURATION_DEST = re.compile(r"(duration|warmup|timeout|time|older_than|interval)$")
RATE_DEST = re.compile(r"(^|_)rate$")
NOT_RATES = {"max_error_rate"}  # a share of calls, not ops/s
UNIT_EXAMPLE = re.compile(r"\b\d+(ms|s|m|h)\b|seconds")


def _parsers(parser: argparse.ArgumentParser, name: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def _options() -> Iterator[tuple[str, argparse.Action]]:
    for name, parser in _parsers(build_parser(), "dbarena"):
        for action in parser._actions:
            if action.option_strings and not isinstance(action, argparse._HelpAction | argparse._VersionAction):
                yield f"{name} {action.option_strings[-1]}", action


OPTIONS = dict(_options())


def _shown(value: object) -> set[str]:
    """How a default may be written in a help text: 100.0 as 100 or 100.0, 100000 as 100,000."""
    if isinstance(value, bool):
        return {"on" if value else "off"}
    if isinstance(value, int | float):
        return {f"{value:g}", f"{value:,g}", str(value), f"{value:,}"}
    return {str(value)}


def test_the_walk_reaches_nested_commands() -> None:
    names = {name for name, _ in _parsers(build_parser(), "dbarena")}
    assert {"dbarena", "dbarena bench", "dbarena import ycsb", "dbarena engines"} <= names
    assert len(OPTIONS) > 80


def test_every_help_text_renders() -> None:
    for name, parser in _parsers(build_parser(), "dbarena"):
        assert parser.format_help(), name  # a stray % in a help text raises here


@pytest.mark.parametrize("flag", sorted(OPTIONS))
def test_every_option_says_its_default_value(flag: str) -> None:
    action = OPTIONS[flag]
    text = action.help or ""
    assert "(default:" in text or "required" in text, f"{flag}: help gives no default: {text!r}"
    if action.required or action.default in (None, False, [], argparse.SUPPRESS):
        return  # an unset flag: the text says what applies instead (the suite's value, off, none, …)
    said = text[text.index("(default:"):]
    assert any(f"(default: {shown}" in said for shown in _shown(action.default)), \
        f"{flag}: default {action.default!r} is not what the help says: {said!r}"


@pytest.mark.parametrize("flag", sorted(f for f, a in OPTIONS.items() if DURATION_DEST.search(a.dest)
                                        or a.type in DURATION_TYPES))
def test_every_duration_option_reads_a_duration_and_names_its_unit(flag: str) -> None:
    action = OPTIONS[flag]
    assert action.type in DURATION_TYPES, f"{flag}: a duration read as {action.type!r}, not time_value"
    assert UNIT_EXAMPLE.search(action.help or ""), f"{flag}: help names no unit: {action.help!r}"


@pytest.mark.parametrize("flag", sorted(f for f, a in OPTIONS.items() if RATE_DEST.search(a.dest)
                                        and a.dest not in NOT_RATES))
def test_every_rate_option_is_in_ops_per_second(flag: str) -> None:
    action = OPTIONS[flag]
    assert "ops/s" in (action.help or ""), f"{flag}: help names no unit: {action.help!r}"
    assert action.type is rate_value or getattr(action.type, "__name__", "") == "ops/s", flag
