"""What `bench`, `compare` and `check` share as a CI gate: thresholds from flags, exit code, JUnit file."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli.exit_codes import ExitCode, for_failures
from harness.compare.gate import Gate
from harness.compare.thresholds import Threshold, parse_thresholds
from harness.errors import UserError

__all__ = ["check_junit", "exit_code", "min_effect_from", "thresholds_from", "write_junit"]


def thresholds_from(texts: Sequence[str]) -> tuple[Threshold, ...]:
    """--threshold values parsed; UserError (one line naming the bad expression) otherwise."""
    return parse_thresholds(texts, "--threshold")


def min_effect_from(args: argparse.Namespace) -> tuple[float, list[str]]:
    """(minimum effect, threshold expressions): a bare number given to --threshold is the old spelling of --min-effect."""
    expressions, min_effect = [], args.min_effect
    for text in args.thresholds:
        try:
            value = float(text)
        except ValueError:
            expressions.append(text)
            continue
        print(f"dbarena: --threshold {text} read as --min-effect {text} (the minimum effect); "
              "--threshold now takes expressions such as 'read.p99<5ms'", file=sys.stderr)
        min_effect = value
    if not 0 <= min_effect < 10:
        raise UserError(f"--min-effect {min_effect:g}: give a fraction such as 0.05 (5%)")
    return min_effect, expressions


def exit_code(gates: Sequence[Gate], fail_on: str | None) -> ExitCode:
    """The worst failure over every gate (ExitCode order: errors, invalid, threshold, regressed, inconclusive)."""
    return for_failures([f.value for gate in gates for f in gate.failures(fail_on)])


def check_junit(args: argparse.Namespace) -> None:
    """Refuse --junit FILE before any work when it could not be written then (UserError, one line)."""
    target: Path | None = getattr(args, "junit", None)
    if target is None:
        return
    folder = target.parent
    if target.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        why = "is a folder" if target.is_dir() else ("no such folder" if not folder.is_dir() else "folder not writable")
        raise UserError(f"--junit {target}: cannot write there ({why}); give a path in an existing, writable folder")


def write_junit(args: argparse.Namespace, gates: Sequence[Gate]) -> None:
    """Write --junit FILE when given; UserError (one line) when it cannot be written."""
    from harness.report.junit import junit_xml

    target: Path | None = getattr(args, "junit", None)
    if target is None:
        return
    try:
        target.write_text(junit_xml(gates, args.fail_on), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--junit {target}: cannot write there ({exc.strerror or exc}); "
                        "give a path in an existing, writable folder") from None
