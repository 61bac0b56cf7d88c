"""`dbarena verify WORKLOAD [--engines a,b,...]`: do the engines answer the same calls alike?

Prints one row per operation and engine: agree, differ (with one example) or n/a (with the
reason), and exits 1 (PROBLEMS) when anything differs. harness/studies/verify does the work.
"""

from __future__ import annotations

import argparse
import sys

from harness.cli.exit_codes import ExitCode
from harness.cli.options import Subcommands, add_provisioning, count_value
from harness.errors import UserError

__all__ = ["cmd_verify", "register"]

DEFAULT_RECORDS = 1000
DEFAULT_SAMPLES = 10


def parse_urls(pairs: list[str] | None) -> dict[str, str]:
    """ENGINE=URL pairs -> {engine: url}; UserError (one line) for anything else."""
    urls = {}
    for pair in pairs or ():
        engine, sep, url = pair.partition("=")
        if not sep or not engine or not url:
            raise UserError(f"--url {pair.split('://')[0]!r}...: give ENGINE=URL, e.g. postgres=postgresql://127.0.0.1/db")
        urls[engine.strip()] = url
    return urls


def _engines(text: str | None, workload_name: str) -> list[str]:
    from harness.engines.registry import MATRIX_ENGINES, engine_info

    if not text:
        return list(MATRIX_ENGINES)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UserError(f"--engines {text!r}: give engine names separated by commas, e.g. postgres,redis")
    for name in names:
        engine_info(name)  # UserError naming the known engines
    return names


def cmd_verify(args: argparse.Namespace) -> ExitCode:
    from harness.report.terminal import table
    from harness.runner.progress import Progress
    from harness.spec.loader import load_workload, resolve_workload
    from harness.studies.verify import DIFFER, verify

    workload = load_workload(resolve_workload(args.workload))
    workload = workload.scaled(args.records / workload.dataset.entities[0].count)
    engines = _engines(args.engines, workload.name)
    urls = parse_urls(args.url)
    unknown = sorted(set(urls) - set(engines))
    if unknown:
        raise UserError(f"--url names {', '.join(unknown)}, which --engines does not include ({', '.join(engines)})")
    progress = Progress()
    verdicts = verify(workload, engines, args.samples, provision=args.provision, urls=urls, say=progress.say)
    rows = [[v.operation, v.engine, v.status, v.detail] for v in verdicts]
    print(table(rows, ["operation", "engine", "verdict", "detail"]))
    differing = [v for v in verdicts if v.status == DIFFER]
    print(f"{workload.name}: {len(verdicts) - len(differing)} of {len(verdicts)} cells agree or are n/a; "
          f"{len(differing)} differ", file=sys.stderr if differing else sys.stdout)
    return ExitCode.PROBLEMS if differing else ExitCode.OK


def register(sub: Subcommands) -> None:
    """Add `verify` to the `dbarena` parser."""
    parser = sub.add_parser("verify", help="load the same data into several engines and compare their answers")
    parser.add_argument("workload", metavar="WORKLOAD", help="workload name under <home>/workloads/ or a file")
    parser.add_argument("--engines", metavar="A,B,...",
                        help="engines to compare, comma-separated (default: every engine of `dbarena engines matrix`)")
    parser.add_argument("--records", metavar="N", type=count_value(1, 10_000_000, "records"), default=DEFAULT_RECORDS,
                        help="records of the workload's first entity, the others scaled alike, 1 to 10000000 "
                             f"(default: {DEFAULT_RECORDS})")
    parser.add_argument("--samples", metavar="N", type=count_value(1, 10_000, "calls"), default=DEFAULT_SAMPLES,
                        help=f"calls per operation, 1 to 10000 (default: {DEFAULT_SAMPLES})")
    parser.add_argument("--url", metavar="ENGINE=URL", action="append",
                        help="an engine you run yourself, e.g. postgres=postgresql://127.0.0.1/db; repeat per engine "
                             "(default: $DBARENA_<ENGINE>_URL, else provisioned)")
    add_provisioning(parser, url=False)
    parser.set_defaults(func=cmd_verify)
