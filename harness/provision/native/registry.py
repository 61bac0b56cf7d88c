"""Native launchers by engine name, imported lazily (a launcher may pull in heavy code)."""

from __future__ import annotations

import importlib

from harness.errors import UserError
from harness.provision.native.base import NativeLauncher

# engine name -> "module:Class"; one line per engine, no if-chains.
_LAUNCHERS: dict[str, str] = {
    "postgres": "harness.provision.native.postgres:PostgresLauncher",
    "redis": "harness.provision.native.redis:RedisLauncher",
    "neo4j": "harness.provision.native.neo4j:Neo4jLauncher",
    "opensearch": "harness.provision.native.opensearch:OpenSearchLauncher",
    "ferretdb": "harness.provision.native.ferretdb:FerretDBLauncher",
    "influxdb": "harness.provision.native.influxdb:InfluxDBLauncher",
}


def launcher_names() -> tuple[str, ...]:
    return tuple(sorted(_LAUNCHERS))


def get_launcher(name: str) -> NativeLauncher:
    target = _LAUNCHERS.get(name)
    if target is None:
        raise UserError(
            f"no native launcher for engine {name!r}; native engines: {', '.join(launcher_names())}"
        )
    module_name, class_name = target.split(":")
    launcher_class = getattr(importlib.import_module(module_name), class_name)
    launcher: NativeLauncher = launcher_class()
    return launcher
