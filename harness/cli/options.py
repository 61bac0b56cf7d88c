"""Flag groups shared by several commands, each defined once (asv's `common_args`).

- run shape: --preset --duration --warmup --users --processes --rate --schedule --scale
  (bench, capacity, sweep; a command may leave some out or give its own defaults);
- provisioning: --provision (choices from the provisioner's own `MODES`), --url and --keep-data;
- the gate: --fail-on regressed|inconclusive (alias --fail-on-regression), --threshold, --junit (bench, compare, check).

Every help text says what the value is, its unit and its default.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from harness.cli.exit_codes import ExitCode
from harness.engines.registry import NEO4J_WARMUP_S
from harness.errors import HarnessBug, UserError, error_line
from harness.provision.endpoint import MODES
from harness.spec.suite import MAX_SCALE, LoadProfile, parse_duration

if TYPE_CHECKING:
    from harness.studies.runs import Overrides, Placement

__all__ = ["DEFAULT_PROVISION", "FAIL_ON", "RUN_SHAPE", "Parser", "Subcommands", "add_json", "add_limits", "add_load_shape",
           "add_placement", "add_provisioning", "add_regression_gate", "add_run_shape", "check_address", "count_value",
           "default_text", "overrides_from", "placement_from", "positive_value", "rate_value", "scale_value",
           "time_value"]

class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the command, the flag, what is wrong), exit 2."""

    def error(self, message: str) -> NoReturn:
        """One line, as every user error (harness.errors.error_line): `dbarena: --flag: what (see ... --help)`,
        or the command first where argparse names no flag (`dbarena: compare: the following arguments ...`)."""
        if message.endswith("expected one argument"):  # none given, or a value such as -5s read as a flag
            message += (" (none was given, or the next word starts with '-' and so reads as a flag: write "
                        "FLAG=VALUE for a value that starts with '-')")
        message = message.removeprefix("argument ")
        command = self.prog.removeprefix("dbarena").strip()
        if command and not message.startswith("-"):
            message = f"{command}: {message}"
        self.exit(ExitCode.USER_ERROR, error_line(f"{message} (see {self.prog} --help)") + "\n")


Subcommands = argparse._SubParsersAction  # type: ignore[type-arg]
"""What each command module's `register(sub)` adds its parsers to."""

DEFAULT_PROVISION = "auto"
if DEFAULT_PROVISION not in MODES:
    raise HarnessBug(f"--provision default {DEFAULT_PROVISION!r} is not one of the provisioner's modes {MODES}")


# ---- value types: each names the unit and the range; argparse puts the flag in front ---------


def _number(text: str, what: str) -> float:
    """`text` as a finite number; ArgumentTypeError saying to give `what` otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give {what}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not finite; give {what}")
    return value


RATE = "a rate in ops/s, e.g. 2000 (0 = closed loop)"
SCALE = f"a factor above 0 and at most {MAX_SCALE:g}, e.g. 0.1 or 10"


def rate_value(text: str) -> float:
    """--rate: ops/s, finite, 0 or more (0 = closed loop)."""
    value = _number(text, RATE)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; give {RATE}")
    return value


def positive_value(unit: str) -> Callable[[str], float]:
    """A finite number above 0 in `unit` (--start-rate, --max-rate)."""
    what = f"a number of {unit} above 0"

    def parse(text: str) -> float:
        value = _number(text, what)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} {unit}: give {what}")
        return value
    parse.__name__ = unit  # argparse names the type in its own messages
    return parse


def scale_value(text: str) -> float:
    """--scale: a finite factor above 0 (at most MAX_SCALE)."""
    value = _number(text, SCALE)
    if not 0 < value <= MAX_SCALE:
        raise argparse.ArgumentTypeError(f"{text}: give {SCALE}")
    return value


def count_value(low: int, high: int, what: str) -> Callable[[str], int]:
    """A whole number of `what` in low..high (--users, --processes, --refine)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} {what}: give {low} to {high:,}")
        return value
    parse.__name__ = what
    return parse


def time_value(text: str) -> str:
    """A duration (30s, 5m, 500ms, or seconds), finite and not negative; kept as written for the load profile."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration is not negative")
    return text


def positive_time(text: str) -> str:
    """A duration above 0 (2s, 500ms, or seconds); kept as written for the load profile."""
    value = time_value(text)
    if parse_duration(value) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a time above 0, e.g. 2s or 500ms")
    return value


_USERS = LoadProfile.model_fields["users"].metadata  # ge/le of the model: the flag allows the same range
_PROCESSES = LoadProfile.model_fields["processes"].metadata


def _bound(metadata: list[Any], name: str) -> int:
    return int(next(getattr(item, name) for item in metadata if hasattr(item, name)))


@dataclass(frozen=True)
class Flag:
    """One run-shape flag: its help (with the unit), how its value is read, and the built-in default it falls back to."""

    help: str
    metavar: str | None = None
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    builtin: str = ""  # what a run uses when neither the flag nor a suite sets it


def _load_default(field: str) -> str:
    return str(LoadProfile.model_fields[field].default)


RUN_SHAPE: dict[str, Flag] = {
    "preset": Flag("workload preset (a named reweighting of its operations), e.g. ycsb-a", "NAME",
                   builtin="the workload as written"),
    "duration": Flag("measured duration: seconds, or with a unit (500ms, 30s, 5m); at most 24h without "
                     "--override-limits", "TIME", time_value, builtin=f"{float(_load_default('duration_s')):g}s"),
    "warmup": Flag("warm-up before measuring, excluded from the results: seconds or 5s, 1m", "TIME", time_value,
                   builtin=f"{float(_load_default('warmup_s')):g}s; Neo4j {NEO4J_WARMUP_S:g}s for its JIT ramp, said in "
                           "the run's notes"),
    "users": Flag(f"concurrent users (connections) over all processes, {_bound(_USERS, 'ge')} to "
                  f"{_bound(_USERS, 'le'):,}", "N", count_value(_bound(_USERS, "ge"), _bound(_USERS, "le"), "users"),
                  builtin=_load_default("users")),
    "processes": Flag(f"load-generating worker processes on this host, {_bound(_PROCESSES, 'ge')} to "
                      f"{_bound(_PROCESSES, 'le')} and at most 4 per core without --override-limits", "N",
                      count_value(_bound(_PROCESSES, "ge"), _bound(_PROCESSES, "le"), "processes"),
                      builtin=_load_default("processes")),
    "rate": Flag("open-loop target rate in ops/s over all users; 0 = closed loop", "OPS_S", rate_value,
                 builtin="closed loop"),
    "schedule": Flag("open-loop arrival schedule", None, None, ("poisson", "deterministic"),
                     builtin=_load_default("schedule")),
    "scale": Flag("factor (above 0) multiplying the workload's record counts", "FACTOR", scale_value, builtin="1"),
}


def default_text(default: object, builtin: str, suite: bool = True) -> str:
    """'(default: ...)' for a help text: the flag's own default, else the suite's value, else the built-in one."""
    if default is not None:
        return f"(default: {default})"
    if not suite:
        return f"(default: {builtin})"
    return f"(default: the suite's, else {builtin})"


def add_run_shape(parser: argparse.ArgumentParser, *, defaults: Mapping[str, object] | None = None,
                  omit: Collection[str] = (), suite: bool = True) -> None:
    """Add the run-shape flags (but `omit`), with the command's own `defaults`.

    `suite`: the command runs a suite, so an unset flag keeps the suite's value.
    """
    defaults = defaults or {}
    unknown = (set(defaults) | set(omit)) - set(RUN_SHAPE)
    if unknown:
        raise HarnessBug(f"not run-shape flags: {sorted(unknown)}")
    group = parser.add_argument_group("run shape")
    for name, flag in RUN_SHAPE.items():
        if name in omit:
            continue
        default = defaults.get(name)
        group.add_argument(f"--{name}", metavar=flag.metavar, type=flag.type or str, choices=flag.choices, default=default,
                           help=f"{flag.help} {default_text(default, flag.builtin, suite)}")


def add_load_shape(parser: argparse.ArgumentParser) -> None:
    """--stage (repeatable) and --think-time: load that changes within a run, users that pause."""
    group = parser.add_argument_group("load shape")
    group.add_argument("--stage", dest="stages", metavar="DURATION[:users=N][,rate=OPS_S]", action="append",
                       help="one step of a load shape, repeat for a ramp, steps or a spike, e.g. --stage 30s:users=8 "
                            "--stage 30s:rate=4000 --stage 10s:rate=8000; the measured duration is their sum and each "
                            "is summarised apart (default: one steady stage)")
    group.add_argument("--max-error-rate", metavar="SHARE", type=float,
                       help="error budget: a run whose failed calls exceed this share (0.01 = 1%%) is invalid and "
                            "`bench` exits 4 (default: the suite's, else 0.01)")
    group.add_argument("--op-timeout", metavar="TIME", type=positive_time,
                       help="the longest one call may take: seconds or 500ms, 2s; a call past it is a timeout, which "
                            "counts against --max-error-rate (default: the suite's, else "
                            f"{float(_load_default('op_timeout_s')):g}s; an operation's own `timeout` wins)")
    group.add_argument("--operationcount", metavar="N", type=count_value(1, 10**12, "operations"),
                       help="stop measuring after N operations over all users (YCSB's operationcount), or at the "
                            "duration if that comes first; the record says which (default: the suite's, else none)")
    group.add_argument("--insertstart", metavar="INDEX", type=count_value(0, 10**12, "records"),
                       help="load and name only records from this index on, e.g. to split a load among clients "
                            "(YCSB's insertstart; a workload of one entity) (default: the suite's, else 0)")
    group.add_argument("--insertcount", metavar="N", type=count_value(1, 10**12, "records"),
                       help="with --insertstart: load and name only N records (YCSB's insertcount) "
                            "(default: the suite's, else up to the last record)")
    group.add_argument("--think-time", metavar="TIME", type=time_value,
                       help="closed-loop users pause this long after each operation, not measured: 10ms, 1s "
                            "(default: the suite's, else 0)")


def add_limits(parser: argparse.ArgumentParser) -> None:
    """--override-limits: run past the safety limits of harness/studies/limits.py."""
    parser.add_argument("--override-limits", action="store_true",
                        help="run even past dbarena's safety limits, which otherwise refuse a run with one line: "
                             "a duration plus warm-up over 24h, more than 4 worker processes per core, a dataset "
                             "larger than the free memory (fake engine) or the free disk of the data folder "
                             "(native engines) (default: off)")


def add_placement(parser: argparse.ArgumentParser) -> None:
    """--expect-workers, --master-bind, --web: where the load comes from, and a live page."""
    group = parser.add_argument_group("distributed load")
    group.add_argument("--expect-workers", metavar="N", type=int, default=0,
                       help="wait for N workers started on load hosts with `dbarena worker --master HOST:PORT` "
                            "instead of starting --processes local ones (default: 0, local workers)")
    group.add_argument("--master-bind", metavar="HOST:PORT", default="127.0.0.1:0",
                       help="address the master listens on for workers; use 0.0.0.0:5557 (or a host address) "
                            "with --expect-workers (default: 127.0.0.1:0, a free loopback port)")
    group.add_argument("--web", metavar="HOST:PORT", nargs="?", const="127.0.0.1:0",
                       help="serve a live page of per-operation throughput and latency during the run; "
                            "--web alone picks a free loopback port, printed at the start (default: off)")


def placement_from(args: argparse.Namespace) -> Placement:
    """The Placement of a parsed command line; UserError for a bad address or count."""
    from harness.studies.runs import Placement

    if args.expect_workers < 0:
        raise UserError(f"--expect-workers: {args.expect_workers} is not a worker count; give 0 or more")
    if args.expect_workers and getattr(args, "processes", None) is not None:
        raise UserError("--processes starts local workers; with --expect-workers the workers are the ones you start "
                        "with `dbarena worker` — give one of the two")
    for flag, value in (("--master-bind", args.master_bind), ("--web", args.web)):
        if value is not None:
            check_address(flag, value)
    return Placement(expect_workers=args.expect_workers, master_bind=args.master_bind, web=args.web)


def check_address(flag: str, value: str) -> None:
    """UserError naming `flag` unless `value` is HOST:PORT with a port in 0..65535."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UserError(f"{flag} {value!r}: expected HOST:PORT, e.g. 0.0.0.0:5557 (port 0: a free one)")


def add_provisioning(parser: argparse.ArgumentParser, *, url: bool = True) -> None:
    """--provision (and --url): how the engine under test is reached."""
    group = parser.add_argument_group("provisioning")
    group.add_argument("--provision", default=DEFAULT_PROVISION, choices=MODES,
                       help="how the engine is reached: external (a URL), compose (Docker Compose), native "
                            "(a server dbarena starts here); auto = external when a URL is given, else compose "
                            f"when a Docker engine answers, else native (default: {DEFAULT_PROVISION})")
    if url:
        group.add_argument("--url", metavar="URL",
                           help="URL of an engine you run yourself; implies --provision external under auto "
                                "(default: $DBARENA_<ENGINE>_URL, else none)")
    group.add_argument("--keep-data", action="store_true",
                       help="keep the data folder of a native engine dbarena starts (under $DBARENA_DATA, else "
                            "<temp>/dbarena-<uid>) after the run; `dbarena engines prune` removes it later "
                            "(default: off, removed when the engine stops; $DBARENA_KEEP_DATA=1 sets it)")


FAIL_ON = ("regressed", "inconclusive")
DEFAULT_MIN_EFFECT = 0.05  # harness.compare.compare.DEFAULT_THRESHOLD, not imported here: it loads scipy (test)


def add_json(parser: argparse.ArgumentParser, what: str) -> None:
    """--json: print `what` as JSON on stdout and nothing else (progress stays on stderr)."""
    parser.add_argument("--json", action="store_true",
                        help=f"print {what} as JSON on stdout, nothing else (keys: docs/output.md) (default: off)")


def add_regression_gate(parser: argparse.ArgumentParser, what: str, *, thresholds: bool = True,
                        min_effect: bool = False) -> None:
    """The gate: --fail-on regressed|inconclusive (--fail-on-regression = --fail-on regressed), --threshold, --junit,
    and --min-effect where a comparison is made (`min_effect`).

    Exit codes: 3 (REGRESSED) when `what`; 6 (INCONCLUSIVE) with --fail-on inconclusive when a verdict is
    inconclusive; 7 (THRESHOLD) when a --threshold is breached.
    """
    group = parser.add_argument_group("gate")
    group.add_argument("--fail-on", choices=FAIL_ON, default=None,
                       help=f"regressed: exit 3 when {what}; inconclusive: also exit 6 when a verdict is inconclusive "
                            "(the interval reaches past the minimum effect) (default: off, verdicts do not change the "
                            "exit status)")
    group.add_argument("--fail-on-regression", dest="fail_on", action="store_const", const="regressed",
                       help="the same as --fail-on regressed (default: off)")
    if thresholds:
        group.add_argument("--threshold", dest="thresholds", metavar="EXPR", action="append", default=[],
                           help="absolute limit every run must meet, repeatable, k6-style: 'read.p99<5ms', "
                                "'p99<10ms' (every operation), 'errors<0.1%%', 'throughput>=2000'; exit 7 when one "
                                "is breached (default: none)")
    if min_effect:
        group.add_argument("--min-effect", metavar="FRACTION", type=float, default=DEFAULT_MIN_EFFECT,
                           help="minimum relative effect that counts, as a fraction (0.05 = 5%%); doubled for p99, "
                                f"quadrupled for p99.9 (default: {DEFAULT_MIN_EFFECT})")
    group.add_argument("--junit", metavar="FILE", type=Path,
                       help="also write the gate's outcome as JUnit XML to FILE, one testcase per operation × "
                            "metric and per threshold (default: none)")


def overrides_from(args: argparse.Namespace, **given: Any) -> Overrides:
    """The Overrides of a parsed command line; `given` replaces or adds values (capacity's --step-duration)."""
    from harness.studies.runs import Overrides  # imports the runner: only for commands that run

    values = {name: getattr(args, name, None) for name in Overrides.__dataclass_fields__}
    stages = values.get("stages")
    if stages is not None:
        values["stages"] = tuple(stages)
    return Overrides(**{**values, **given})
