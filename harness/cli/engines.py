"""`dbarena engines list|up|down|status|matrix`."""

from __future__ import annotations

import argparse

from harness.engines.registry import ENGINES, engine_info
from harness.errors import UserError
from harness.provision.native import base as native
from harness.provision.native.registry import get_launcher, launcher_names
from harness.report.terminal import table


def _native_name(name: str) -> str:
    if name in launcher_names():
        return name
    info = engine_info(name)
    if info.native is None:
        raise UserError(f"{name} has no native launcher; native: {', '.join(launcher_names())}")
    return info.native


def cmd_list(_: argparse.Namespace) -> int:
    rows = []
    for info in ENGINES.values():
        ways = ["external"]
        if info.compose_service:
            ways.insert(0, f"compose ({info.compose_service})")
        if info.native:
            ways.insert(1 if info.compose_service else 0, f"native ({info.native})")
        running = native.read_state(info.native) if info.native else None
        rows.append([info.name, ", ".join(ways), info.tested_against,
                     f"up at {running.url}" if running else ""])
    print(table(rows, ["engine", "runs here as", "tested against", "status"]))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    if not args.name:
        raise UserError("engines up: name an engine, e.g. `dbarena engines up postgres`")
    name = _native_name(args.name)
    running = native.read_state(name)
    if running is not None:
        print(f"{name} already up at {running.url} (pid {running.pid})")
        return 0
    server = native.start(get_launcher(name), port=args.port, progress=print, keep_state=True)
    print(f"{name} up at {server.url} (pid {server.pid}, ready after {server.ready_after_s:.1f}s, log {server.log_path})")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    names = [_native_name(args.name)] if args.name else list(launcher_names())
    for name in names:
        running = native.read_state(name)
        if running is None:
            if args.name:
                print(f"{name} is not running (not started by `engines up`)")
            continue
        native.stop(running)
        print(f"{name} stopped (pid {running.pid})")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """Build or fetch native launchers ahead of time (CI does this before the tests)."""
    import time

    from harness.provision import paths

    names = [_native_name(args.name)] if args.name else list(launcher_names())
    for name in names:
        launcher = get_launcher(name)
        began = time.monotonic()
        launcher.build(paths.artifact_dir(launcher.engine, launcher.version), print)
        print(f"{name} {launcher.version}: ready to start ({time.monotonic() - began:.1f}s)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    names = [_native_name(args.name)] if args.name else list(launcher_names())
    rows = []
    for name in names:
        running = native.read_state(name)
        rows.append([name, "up" if running else "down", running.url if running else "",
                     str(running.pid) if running else ""])
    print(table(rows, ["engine", "state", "url", "pid"]))
    return 0


def cmd_matrix(_: argparse.Namespace) -> int:
    from harness.engines.matrix import print_matrix

    print_matrix()
    return 0
