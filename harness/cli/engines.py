"""`dbarena engines list|up|down|status|build|matrix|prune`: the engine table, native servers, the support matrix.

`engines list --markdown` prints the README's engine table from the one engine table
(`harness.engines.registry.ENGINES`); `engines matrix` prints which library workload runs
on which engine, as computed by `harness.engines.matrix`; `engines prune` removes native engines'
data folders that no running engine uses (`harness.provision.native.data`).
"""

from __future__ import annotations

import argparse
import time

from harness.cli.exit_codes import ExitCode
from harness.cli.options import Subcommands, time_value
from harness.engines.registry import ENGINES, MATRIX_ENGINES, EngineInfo, launcher_names, native_of
from harness.errors import UserError
from harness.provision import paths as provision_paths
from harness.provision.native import base as native
from harness.provision.native import data as data_folders
from harness.provision.native.registry import get_launcher
from harness.provision.ports import port_open
from harness.report.terminal import table
from harness.spec.suite import parse_duration

__all__ = ["ACTIONS", "cmd_engines", "markdown_table", "register"]

MARKDOWN_HEADER = ("engine", "Compose image (users)", "native route here (no Docker)", "tested in CI against")


def _names(args: argparse.Namespace) -> list[str]:
    """The native servers an action applies to: the named engine's, else every one."""
    return [native_of(args.name).name] if args.name else list(launcher_names())


def _ways(info: EngineInfo) -> str:
    ways = ["external"]
    if info.compose_service:
        ways.insert(0, f"compose ({info.compose_service})")
    if info.native:
        ways.insert(1 if info.compose_service else 0, f"native ({info.native.name})")
    return ", ".join(ways)


def markdown_table() -> str:
    """The README's engine table: every engine with a Compose image, one row each."""
    lines = ["| " + " | ".join(MARKDOWN_HEADER) + " |", "|" + "---|" * len(MARKDOWN_HEADER)]
    lines += [f"| {info.name} | {info.compose_image} | {info.native_route} | {info.tested_against} |"
              for info in ENGINES.values() if info.compose_image]
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace) -> ExitCode:
    if args.markdown:
        print(markdown_table())
        return ExitCode.OK
    rows = []
    for info in ENGINES.values():
        running = native.read_state(info.native.name) if info.native else None
        rows.append([info.name, _ways(info), info.tested_against, f"up at {running.url}" if running else ""])
    print(table(rows, ["engine", "runs here as", "tested against", "status"]))
    return ExitCode.OK


def cmd_up(args: argparse.Namespace) -> ExitCode:
    if not args.name:
        raise UserError("engines up: name an engine, e.g. `dbarena engines up postgres`")
    name = native_of(args.name).name
    running = native.read_state(name)
    if running is not None:
        print(f"{name} already up at {running.url} (pid {running.pid})")
        return ExitCode.OK
    for died in (found for found in native.recorded(name) if found.server and not found.running):
        freed = native.stop_recorded(died)
        print(f"{died.describe()}; removed its data folder ({data_folders.human_bytes(freed)})")
    server = native.start(get_launcher(name), port=args.port, progress=print, keep_state=True)
    print(f"{name} up at {server.url} (pid {server.pid}, ready after {server.ready_after_s:.1f}s, log {server.log_path}, "
          f"data {server.data_dir})")
    return ExitCode.OK


def cmd_down(args: argparse.Namespace) -> ExitCode:
    """Stop what `engines up` started (found under the data root, whatever `$DBARENA_CACHE` says); a server that
    died has its data folder removed and is said to be stopped already; a server a running dbarena uses is left."""
    for name in _names(args):
        found = native.recorded(name)
        for server in found:
            print(_down_one(server, args.keep_data))
        if not found and args.name:
            print(_nothing_recorded(name))
    return ExitCode.OK


def _down_one(found: native.Recorded, keep_data: bool) -> str:
    if found.run_pid is not None:
        return f"{found.engine} on port {found.port} is in use by dbarena pid {found.run_pid}: left as it is (stop that first)"
    freed = native.stop_recorded(found, keep_data=keep_data)
    kept = f"data kept in {found.folder}" if keep_data else f"data removed, {data_folders.human_bytes(freed)}"
    if found.running:
        return f"{found.engine} stopped (pid {found.server_pid}, port {found.port}; {kept})"
    return f"{found.engine} was already stopped (pid {found.server_pid} had died; {kept})"


def _nothing_recorded(name: str) -> str:
    """One line for an engine with no record: not running, or (its port answers) not knowable from here."""
    root = provision_paths.data_root()
    port = get_launcher(name).default_port
    if port_open(port):
        return (f"{name}: no server started by `engines up` is recorded under {root}, but 127.0.0.1:{port} answers: "
                f"either not dbarena's, or started with another $DBARENA_DATA/$TMPDIR (set it as then and retry)")
    return f"{name} is not running (nothing started by `engines up` is recorded under {root})"


def cmd_build(args: argparse.Namespace) -> ExitCode:
    """Build or fetch native launchers ahead of time (CI does this before the tests)."""
    for name in _names(args):
        launcher = get_launcher(name)
        began = time.monotonic()
        launcher.build(provision_paths.artifact_dir(launcher.engine, launcher.version), print)
        print(f"{name} {launcher.version}: ready to start ({time.monotonic() - began:.1f}s)")
    return ExitCode.OK


def cmd_status(args: argparse.Namespace) -> ExitCode:
    """A row per recorded server (up, died) or per engine with none (down); a line each for the died and the unknown."""
    rows, notes = [], []
    for name in _names(args):
        found = native.recorded(name)
        for server in found:
            state = "up" if server.running else "died"
            rows.append([name, state, server.server.url if server.server else "", str(server.server_pid), str(server.port)])
            if not server.running or server.server is None:
                notes.append(server.describe())
        if not found:
            rows.append([name, "down", "", "", ""])
            if args.name or port_open(get_launcher(name).default_port):
                notes.append(_nothing_recorded(name))
    print(table(rows, ["engine", "state", "url", "pid", "port"]))
    for note in notes:
        print(note)
    return ExitCode.OK


def cmd_matrix(_: argparse.Namespace) -> ExitCode:
    from harness.engines.matrix import matrix_rows  # loads every adapter

    rows, notes = matrix_rows()
    print(table(rows, ["workload", *MATRIX_ENGINES]))
    if notes:
        print("\nwhy n/a:")
        for note in notes:
            print(f"  {note}")
    return ExitCode.OK


def cmd_prune(args: argparse.Namespace) -> ExitCode:
    """Remove data folders no running engine uses, untouched for --older-than; say what was freed and what was kept."""
    older_than = parse_duration(args.older_than)
    removed, in_use = data_folders.prune(older_than)
    for folder in removed:
        print(f"removed {folder.path} ({data_folders.human_bytes(folder.size)}, unused for {_age(folder.age_s)})")
    for folder in in_use:
        print(f"kept {folder.path}: in use by pid {', '.join(map(str, folder.pids))}")
    total = sum(folder.size for folder in removed)
    print(f"freed {data_folders.human_bytes(total)} in {len(removed)} folder(s) under {provision_paths.data_root()}")
    return ExitCode.OK


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


ACTIONS = {"list": cmd_list, "up": cmd_up, "down": cmd_down, "status": cmd_status, "build": cmd_build,
           "matrix": cmd_matrix, "prune": cmd_prune}


def cmd_engines(args: argparse.Namespace) -> ExitCode:
    return ACTIONS[args.action](args)


def register(sub: Subcommands) -> None:
    """Add `engines` to the `dbarena` parser."""
    parser = sub.add_parser("engines", help="list, start, stop native engines")
    parser.add_argument("action", choices=list(ACTIONS), help="what to do")
    parser.add_argument("name", nargs="?", metavar="ENGINE",
                        help="engine or native server for up/down/status/build (default: every native server; "
                             "up needs one)")
    parser.add_argument("--port", type=int, metavar="PORT",
                        help="TCP port for `up` (default: the engine's usual one)")
    parser.add_argument("--keep-data", action="store_true",
                        help="`down` only: keep the stopped engine's data folder (default: off, removed)")
    parser.add_argument("--older-than", metavar="TIME", type=time_value, default="0s",
                        help="`prune` only: remove only folders unused for at least this long: seconds, or with a "
                             "unit (30m, 12h); a folder whose recorded server or dbarena PID still runs is never "
                             "removed (default: 0s, every unused folder)")
    parser.add_argument("--markdown", action="store_true",
                        help="`list` only: print the README's engine table as markdown (default: off)")
    parser.set_defaults(func=cmd_engines)
