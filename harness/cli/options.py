"""Flag groups shared by several commands, each defined once (asv's `common_args`).

- run shape: --preset --duration --warmup --users --processes --rate --schedule --scale
  (bench, capacity, sweep; a command may leave some out or give its own defaults);
- provisioning: --provision (choices from the provisioner's own `MODES`) and --url;
- the regression gate: --fail-on-regression (bench, compare).

Every help text says what the value is, its unit and its default.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessBug, UserError
from harness.provision.endpoint import MODES
from harness.spec.suite import LoadProfile

if TYPE_CHECKING:
    from harness.studies.runs import Overrides, Placement

__all__ = ["DEFAULT_PROVISION", "RUN_SHAPE", "Subcommands", "add_load_shape", "add_placement", "add_provisioning",
           "add_regression_gate", "add_run_shape", "check_address", "default_text", "overrides_from", "placement_from"]

Subcommands = argparse._SubParsersAction  # type: ignore[type-arg]
"""What each command module's `register(sub)` adds its parsers to."""

DEFAULT_PROVISION = "auto"
if DEFAULT_PROVISION not in MODES:
    raise HarnessBug(f"--provision default {DEFAULT_PROVISION!r} is not one of the provisioner's modes {MODES}")


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
    "duration": Flag("measured duration: seconds, or with a unit (500ms, 30s, 5m)", "TIME",
                     builtin=f"{float(_load_default('duration_s')):g}s"),
    "warmup": Flag("warm-up before measuring, excluded from the results: seconds or 5s, 1m", "TIME",
                   builtin=f"{float(_load_default('warmup_s')):g}s"),
    "users": Flag("concurrent users (connections) over all processes", "N", int, builtin=_load_default("users")),
    "processes": Flag("load-generating worker processes on this host", "N", int, builtin=_load_default("processes")),
    "rate": Flag("open-loop target rate in ops/s over all users; 0 = closed loop", "OPS_S", float,
                 builtin="closed loop"),
    "schedule": Flag("open-loop arrival schedule", None, None, ("poisson", "deterministic"),
                     builtin=_load_default("schedule")),
    "scale": Flag("factor multiplying the workload's record counts", "FACTOR", float, builtin="1"),
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
    group.add_argument("--think-time", metavar="TIME",
                       help="closed-loop users pause this long after each operation, not measured: 10ms, 1s "
                            "(default: the suite's, else 0)")


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


def add_regression_gate(parser: argparse.ArgumentParser, what: str) -> None:
    """--fail-on-regression: exit 3 (REGRESSED) when `what`."""
    parser.add_argument("--fail-on-regression", action="store_true",
                        help=f"exit 3 when {what} (default: off, exit 0)")


def overrides_from(args: argparse.Namespace, **given: Any) -> Overrides:
    """The Overrides of a parsed command line; `given` replaces or adds values (capacity's --step-duration)."""
    from harness.studies.runs import Overrides  # imports the runner: only for commands that run

    values = {name: getattr(args, name, None) for name in Overrides.__dataclass_fields__}
    stages = values.get("stages")
    if stages is not None:
        values["stages"] = tuple(stages)
    return Overrides(**{**values, **given})
