"""The `dbarena` command: one module per group of verbs, shared flag groups, named exit codes.

    run.py       bench, capacity, sweep, select   (run benchmarks; harness/studies does the work)
    results.py   runs, show, compare, baseline, history, report
    engines.py   engines list|up|down|status|build|matrix
    validate.py  validate
    imports.py   import ycsb (a YCSB properties file as a dbarena workload and suite)
    verify.py    verify (the engines' answers to the same calls compared)
    describe.py  schema, workloads list, explain (the spec formats, the library, what an engine is sent)
    options.py   flag groups shared by several commands (run shape, provisioning, regression gate)
    exit_codes.py  ExitCode: what each exit status means
    gate.py      the CI gate shared by bench, compare and check (thresholds, exit code, JUnit)

User errors print one line per problem on stderr, `dbarena: ` then where (file and field, or
flag), what is wrong and what to do (harness.errors.error_line), and exit 2 (USER_ERROR), without a
traceback (a stored invalid run refused without --force: exit 5, INVALID); anything else is
a harness bug and keeps its traceback. Nothing printed carries a secret: stdout and stderr
mask URL passwords, tokens and DSN passwords (`harness.redact`).
`--home DIR` sets the project root (workloads/, benchmarks/, results/) for this process and
the ones it starts; it may come before or after the command.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.cli import describe, engines, imports, results, run, validate, verify
from harness.cli.exit_codes import ExitCode
from harness.cli.options import Parser
from harness.errors import InvalidRunRefused, SpecError, UserError, error_line
from harness.paths import HOME_ENV, set_project_root
from harness.provision.endpoint import KEEP_DATA_ENV
from harness.redact import redact_output, redact_text
from harness.signals import Interrupted, stop_signals_raise

__all__ = ["ExitCode", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="dbarena", description="Polyglot persistence benchmarking harness.")
    parser.add_argument("--home", metavar="DIR", type=Path,
                        help="project root holding workloads/, benchmarks/ and results/ "
                             f"(default: ${HOME_ENV}, else the nearest of the current directory and its parents "
                             "holding workloads/ or benchmarks/; with none, the workload library shipped in the "
                             "package, and results in $XDG_DATA_HOME/dbarena/results, ~/.local/share/dbarena/results)")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (validate, run, engines, results, verify, imports, describe):
        group.register(sub)
    for command in _commands(parser):  # `dbarena bench --home DIR` as well as `dbarena --home DIR bench`
        command.add_argument("--home", metavar="DIR", type=Path, default=argparse.SUPPRESS,
                             help="project root, as `dbarena --home DIR` (before or after the command alike) (default: the one given "
                                  "before the command, else as `dbarena --help` says)")
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's commands by name ({} for a leaf command)."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def _commands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every command's parser below `parser` (`engines` and `engines up` alike), each once."""
    found: list[argparse.ArgumentParser] = []
    for command in _subcommands(parser).values():
        if command not in found:  # an alias is the same parser
            found.append(command)
            found += [c for c in _commands(command) if c not in found]
    return found


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """parse_args, but an unknown flag is reported by the command it was given to (`see dbarena bench --help`)."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        command = parser
        for token in sys.argv[1:] if argv is None else argv:
            command = _subcommands(command).get(token, command)
        command.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _run(args: argparse.Namespace) -> int:
    """Run the chosen command; user errors and Ctrl-C become their exit codes."""
    command: Callable[[argparse.Namespace], int] = args.func
    try:
        return int(command(args))
    except SpecError as exc:
        for line in exc.problems:
            print(redact_text(error_line(line)), file=sys.stderr)
        return ExitCode.USER_ERROR
    except InvalidRunRefused as exc:
        print(redact_text(error_line(str(exc))), file=sys.stderr)
        return ExitCode.INVALID
    except UserError as exc:
        print(redact_text(error_line(str(exc))), file=sys.stderr)
        return ExitCode.USER_ERROR
    except KeyboardInterrupt as exc:
        why = f" ({exc.signal_name})" if isinstance(exc, Interrupted) else ""
        print(f"dbarena: interrupted{why}; what was measured is saved", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    redact_output()  # before parsing: argparse errors quote the values given (a --url, say)
    args = _parse(build_parser(), argv)
    if args.home is not None:
        if not args.home.is_dir():
            print(error_line(f"--home {args.home}: not a directory; give the project folder"), file=sys.stderr)
            return ExitCode.USER_ERROR
        set_project_root(args.home)
    if getattr(args, "keep_data", False):  # worker processes and studies read it from the provisioner
        os.environ[KEEP_DATA_ENV] = "1"
    with stop_signals_raise():  # SIGTERM and SIGHUP stop a run as Ctrl-C does: saved, engines stopped
        return _run(args)

