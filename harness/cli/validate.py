"""`dbarena validate PATH...`: check workload, suite and selection files; one line per problem."""

from __future__ import annotations

import argparse
import sys

from harness.cli.exit_codes import ExitCode
from harness.cli.options import Subcommands
from harness.spec.loader import spec_files, validate_file

__all__ = ["cmd_validate", "register"]


def cmd_validate(args: argparse.Namespace) -> ExitCode:
    files = spec_files(args.paths)
    problems = [line for path in files for line in validate_file(path)]
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"{len(files)} spec file(s) valid")
    return ExitCode.PROBLEMS if problems else ExitCode.OK


def register(sub: Subcommands) -> None:
    """Add `validate` to the `dbarena` parser."""
    parser = sub.add_parser("validate", help="check workload and suite files")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="spec files, or directories searched for *.yaml and *.yml")
    parser.set_defaults(func=cmd_validate)
