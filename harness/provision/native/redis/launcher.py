"""Redis from Debian's redis-server, on 127.0.0.1 with persistence settings made explicit."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

from harness.errors import EngineUnavailable
from harness.provision.native.base import LaunchPlan, NativeLauncher, Progress, port_open


def redis_server() -> str:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if found is None:
        raise EngineUnavailable("redis: `redis-server` is not installed; `apt-get install redis-server`")
    return found


class RedisLauncher(NativeLauncher):
    engine = "redis"
    version = "local"
    default_port = 6379
    startup_timeout_s: ClassVar[float] = 30.0
    route = "Debian redis-server on 127.0.0.1 (no RDB snapshots, appendonly off, recorded in the manifest)"

    def build(self, artifacts: Path, progress: Progress) -> None:
        redis_server()

    def plan(self, artifacts: Path, data: Path, port: int) -> LaunchPlan:
        argv = (
            redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
            "--enable-debug-command", "local", "--loglevel", "warning",
        )
        return LaunchPlan(argv=argv, cwd=data)

    def url(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}/0"

    def is_ready(self, port: int) -> bool:
        if not port_open(port):
            return False
        import redis

        try:
            return bool(redis.Redis.from_url(self.url(port), socket_timeout=2).ping())
        except redis.RedisError:
            return False
