"""Native launchers by engine or launcher name, derived from the engine table (harness/engines/registry.py).

Each launcher is named there as "harness.provision.native.<name>.launcher:<Class>" and
imported lazily here (a launcher may pull in heavy code).
"""

from __future__ import annotations

from harness.engines.registry import launcher_names, load_object, native_of
from harness.errors import HarnessBug
from harness.provision.native.base import NativeLauncher

__all__ = ["get_launcher", "launcher_names"]


def get_launcher(name: str) -> NativeLauncher:
    """A new launcher for the native server of `name` (e.g. "ferretdb", or "mongodb" which it serves).

    Raises UserError for an unknown engine or one with no native launcher.
    """
    target = native_of(name).launcher
    launcher_class = load_object(target)
    if not (isinstance(launcher_class, type) and issubclass(launcher_class, NativeLauncher)):
        raise HarnessBug(f"engine table: {target} is not a NativeLauncher class")
    return launcher_class()
