"""`dbarena validate PATH...`: check workload, suite and selection files; one line per problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.exit_codes import ExitCode
from harness.cli.options import Subcommands
from harness.errors import SpecError, error_line
from harness.spec.loader import load_suite, spec_files, validate_file

__all__ = ["cmd_validate", "register"]


def cmd_validate(args: argparse.Namespace) -> ExitCode:
    files = spec_files(args.paths)
    problems = [line for path in files for line in validate_file(path) or _suite_problems(path)]
    for line in problems:
        print(error_line(line), file=sys.stderr)
    if not problems:
        print(f"{len(files)} spec file(s) valid")
    return ExitCode.PROBLEMS if problems else ExitCode.OK


def _suite_problems(path: Path) -> list[str]:
    """A valid suite is also checked as `bench` would plan it (workloads, presets, engines, n/a cells); a valid
    selection as `select` checks it before running (workload, preset, engines)."""
    from harness.spec.loader import load_selection, looks_like_selection, looks_like_suite, read_yaml
    from harness.studies.runs import selection_problems, suite_problems

    try:
        data = read_yaml(path)
        if looks_like_selection(data):
            return selection_problems(load_selection(path), str(path))
        if not looks_like_suite(data):
            return []
        return suite_problems(load_suite(path), str(path))
    except SpecError as exc:
        return list(exc.problems)


def register(sub: Subcommands) -> None:
    """Add `validate` to the `dbarena` parser."""
    parser = sub.add_parser("validate", help="check workload and suite files")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="spec files, or directories searched for *.yaml and *.yml")
    parser.set_defaults(func=cmd_validate)
