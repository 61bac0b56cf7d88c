"""`dbarena import ycsb PROPERTIES_FILE [-p KEY=VALUE ...] [-o FILE] [--suite FILE]`: a YCSB workload as a dbarena spec.

The properties file (YCSB's workloads/workloada … workloadf, or a user's own), with `-p` values
on top as YCSB's own `-p` gives them, becomes a dbarena workload (harness/spec/ycsb.py) written
to standard output or `-o FILE`; `--suite FILE` also writes a suite running it with the
properties' load profile (threadcount, operationcount, target, maxexecutiontime, insertstart,
insertcount). A property that cannot be mapped is one line on stderr, and nothing is written
(exit 2).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from harness.cli.exit_codes import ExitCode
from harness.cli.options import Subcommands
from harness.errors import UserError

__all__ = ["cmd_import_ycsb", "register"]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"import ycsb: {path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"import ycsb: {path}: is a directory; give a YCSB properties file") from None
    except UnicodeDecodeError:
        raise UserError(f"import ycsb: {path}: not a text file; give a YCSB properties file") from None
    except OSError as exc:
        raise UserError(f"import ycsb: {path}: {exc.strerror}") from None


def _overrides(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"import ycsb: -p {pair!r}: give KEY=VALUE, e.g. -p recordcount=100000")
        out[key.strip()] = value.strip()
    return out


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"import ycsb: cannot write {path}: {exc.strerror}") from None


def cmd_import_ycsb(args: argparse.Namespace) -> ExitCode:
    from harness.spec.ycsb import parse_properties, suite_yaml, to_spec, workload_name, workload_yaml

    source: Path = args.properties
    props = {**parse_properties(_read(source)), **_overrides(args.property)}
    if args.suite is not None and args.output is None:
        raise UserError("import ycsb: --suite names the workload by its file; give -o FILE too")
    spec = to_spec(props, args.name or workload_name(source.stem), where=str(source))
    text = workload_yaml(spec, source.name)
    if args.output is None:
        sys.stdout.write(text)
        return ExitCode.OK
    _write(args.output, text)
    if args.suite is not None:
        _write(args.suite, suite_yaml(spec, str(args.output), args.engine))
    print(f"wrote {args.output}" + (f" and {args.suite}" if args.suite is not None else ""), file=sys.stderr)
    return ExitCode.OK


def _name(text: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]*", text):
        raise argparse.ArgumentTypeError(f"{text!r}: give lower-case letters, digits and dashes, starting with a letter")
    return text


def register(sub: Subcommands) -> None:
    """Add `import ycsb` to the `dbarena` parser."""
    parser = sub.add_parser("import", help="turn another tool's workload into a dbarena spec")
    tools = parser.add_subparsers(dest="tool", required=True, metavar="TOOL")
    ycsb = tools.add_parser("ycsb", help="a YCSB properties file (CoreWorkload) as a dbarena workload",
                            description="Map a YCSB properties file onto a dbarena workload (and suite); a property "
                                        "that cannot be mapped is refused with one line, exit 2.")
    ycsb.add_argument("properties", metavar="PROPERTIES_FILE", type=Path,
                      help="YCSB properties, e.g. YCSB's workloads/workloada")
    ycsb.add_argument("-p", dest="property", metavar="KEY=VALUE", action="append",
                      help="a property on top of the file's, as YCSB's -p (repeatable) (default: none)")
    ycsb.add_argument("-o", "--output", metavar="FILE", type=Path,
                      help="write the workload to FILE (default: standard output)")
    ycsb.add_argument("--suite", metavar="FILE", type=Path,
                      help="also write a suite running the workload with the properties' load profile "
                           "(threadcount, operationcount, target, maxexecutiontime, insertstart, insertcount); "
                           "needs -o (default: none)")
    ycsb.add_argument("--engine", metavar="NAME", default="postgres",
                      help="the engine the --suite runs on (default: postgres)")
    ycsb.add_argument("--name", metavar="NAME", type=_name,
                      help="the workload's name (default: from the file name, e.g. workloada)")
    ycsb.set_defaults(func=cmd_import_ycsb)
