"""InfluxDB 1.8.10 as the native InfluxDB: the influxdb:2 image cannot run here.

1.8 is the last pure-Go InfluxDB (2.x needs Rust for Flux), and with Flux enabled it serves
the v2-compatible `/api/v2/write` and `/api/v2/query` that influxdb-client speaks: token
`user:pass` (anything while auth is off), org `-`, bucket `<database>/<retention policy>`.
`go install` from the module proxy builds it with Go 1.26 as is: no wrapper module, no
linkname escape. The settings live in influxdb.conf.tmpl next to this module (package
data), written into the data directory on each start. 1.x has no bucket API, so the
`dbarena` database that the default URL names is created from `is_ready`, through the 1.x
`/query` endpoint.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path
from string import Template
from typing import ClassVar

from harness.provision.native.base import (
    LaunchPlan,
    NativeLauncher,
    Progress,
    require_tool,
    run_step,
)
from harness.provision.native.sources import Sources

SOURCES = Sources("harness.provision.native.influxdb", ("influxdb.conf.tmpl",))
TEMPLATE = "influxdb.conf.tmpl"
MODULE = "github.com/influxdata/influxdb/cmd/influxd"
DATABASE = "dbarena"  # the bucket `dbarena/autogen` of the engine's default URL
RPC_OFFSET = 2  # the backup/restore RPC port, like 8086 -> 8088 by default
CONFIG = "influxdb.conf"


class InfluxDBLauncher(NativeLauncher):
    """Builds influxd once per version and runs it on 127.0.0.1 from a generated config."""

    engine: ClassVar[str] = "influxdb"
    version: ClassVar[str] = "1.8.10"
    default_port: ClassVar[int] = 8086
    startup_timeout_s: ClassVar[float] = 60.0  # Flux type-checks its stdlib at start: ~5 s
    route: ClassVar[str] = (
        "InfluxDB 1.8.10 influxd (go install from the Go module proxy, CGO off), Flux on: "
        "v2 write/query API, bucket dbarena/autogen, RPC on port + 2"
    )

    def _ldflags(self) -> str:
        return f"-s -w -X main.version={self.version} -X main.branch=v{self.version} -X main.commit=goproxy"

    def build(self, artifacts: Path, progress: Progress) -> None:
        binary = artifacts / "bin" / "influxd"
        stamp = artifacts / "influxd.build"
        recipe = f"{MODULE}@v{self.version} {self._ldflags()}"
        if binary.exists() and stamp.exists() and stamp.read_text().strip() == recipe:
            return
        go = require_tool("go", self.engine, "install Go (https://go.dev/doc/install) to build influxd")
        progress(f"building InfluxDB {self.version} with {go} (first time: 2-4 minutes)")
        run_step(
            [go, "install", "-trimpath", f"-ldflags={self._ldflags()}", f"{MODULE}@v{self.version}"],
            cwd=artifacts,
            engine=self.engine,
            what="go install influxd",
            # CGO off: a static binary and no C compiler needed; GOTOOLCHAIN=local never fetches a Go.
            env={"GOBIN": str(binary.parent), "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"},
        )
        stamp.write_text(recipe + "\n")

    def prepare_data(self, artifacts: Path, data: Path, port: int, progress: Progress) -> None:
        """Write the config: everything (meta, data, WAL) inside the fresh data directory."""
        text = Template(SOURCES.read_text(TEMPLATE)).substitute(data=str(data), http_port=port, rpc_port=port + RPC_OFFSET)
        (data / CONFIG).write_text(text)

    def plan(self, artifacts: Path, data: Path, port: int) -> LaunchPlan:
        argv = (str(artifacts / "bin" / "influxd"), "run", "-config", str(data / CONFIG))
        # influxd lets INFLUXDB_* variables override the file: pin what must not drift.
        env = {
            "INFLUXDB_BIND_ADDRESS": f"127.0.0.1:{port + RPC_OFFSET}",
            "INFLUXDB_HTTP_BIND_ADDRESS": f"127.0.0.1:{port}",
            "INFLUXDB_HTTP_AUTH_ENABLED": "false",
            "INFLUXDB_HTTP_FLUX_ENABLED": "true",
        }
        return LaunchPlan(argv=argv, cwd=data, env=env)

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}?org=-&bucket={DATABASE}/autogen&token=user:pass"

    def ports(self, port: int) -> tuple[int, ...]:
        return (port, port + RPC_OFFSET)

    def is_ready(self, port: int) -> bool:
        """`/ping` answers 204, then `CREATE DATABASE dbarena` (idempotent) succeeds."""
        base = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP proxy
        try:
            with opener.open(f"{base}/ping", timeout=1.0) as reply:
                if reply.status != 204:
                    return False
            body = urllib.parse.urlencode({"q": f"CREATE DATABASE {DATABASE}"}).encode()
            with opener.open(f"{base}/query", data=body, timeout=5.0) as reply:
                results = json.load(reply).get("results", [{}])
        except (OSError, ValueError):  # URLError is an OSError; ValueError covers bad JSON
            return False
        return all("error" not in result for result in results)
