"""FerretDB 1.24 as the native MongoDB-protocol server: no mongod can be installed here.

FerretDB is built from a tiny Go wrapper module around its embeddable package, shipped in
this package (package data: go.mod, go.sum, main.go) and copied into the artifacts cache to
build, because `go install` of FerretDB's own cmd panics on a generated version file it lacks.
SQLite keeps the data in the data directory; `DBARENA_FERRETDB_POSTGRES_URL` switches the
backend to an existing PostgreSQL database instead.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import ClassVar

from harness.provision.native.base import (
    LaunchPlan,
    NativeLauncher,
    Progress,
    port_open,
    require_tool,
    run_step,
)
from harness.provision.native.sources import Sources

SOURCES = Sources("harness.provision.native.ferretdb", ("go.mod", "go.sum", "*.go"))
BINARY = "dbarena-ferretdb"
POSTGRES_URL_ENV = "DBARENA_FERRETDB_POSTGRES_URL"


class FerretDBLauncher(NativeLauncher):
    """Builds the Go wrapper once per version and runs it on 127.0.0.1."""

    engine: ClassVar[str] = "ferretdb"
    version: ClassVar[str] = "1.24.2"
    default_port: ClassVar[int] = 27017
    startup_timeout_s: ClassVar[float] = 60.0
    route: ClassVar[str] = (
        "FerretDB v1.24.2 embedded in dbarena's Go wrapper module, MongoDB wire protocol, "
        f"SQLite backend in the data dir (PostgreSQL if ${POSTGRES_URL_ENV} is set)"
    )

    def build(self, artifacts: Path, progress: Progress) -> None:
        binary = artifacts / BINARY
        stamp = artifacts / f"{BINARY}.sha256"
        digest = _source_digest()
        if binary.exists() and stamp.exists() and stamp.read_text().strip() == digest:
            return
        go = require_tool("go", self.engine, "install Go >= 1.24 (https://go.dev/doc/install)")
        src = artifacts / "src"
        src.mkdir(parents=True, exist_ok=True)
        SOURCES.copy_to(src)
        progress(f"building FerretDB {self.version} with {go} (first time: a few minutes)")
        run_step(
            [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(binary), "."],
            cwd=src,
            engine=self.engine,
            what="go build",
            # -mod=mod lets go fill go.sum gaps; GOTOOLCHAIN=local never fetches another Go.
            env={"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"},
        )
        stamp.write_text(digest + "\n")

    def plan(self, artifacts: Path, data: Path, port: int) -> LaunchPlan:
        argv = (
            str(artifacts / BINARY),
            f"-listen-addr=127.0.0.1:{port}",
            f"-data-dir={data}",
            "-log-level=warn",
        )
        # Through the environment, not argv, so a password in the URL stays out of `ps`.
        # Always set (maybe empty) so a stray FERRETDB_POSTGRESQL_URL cannot pick the backend.
        env = {"FERRETDB_POSTGRESQL_URL": os.environ.get(POSTGRES_URL_ENV, "")}
        return LaunchPlan(argv=argv, cwd=data, env=env)

    def url(self, port: int) -> str:
        return f"mongodb://127.0.0.1:{port}/"

    def is_ready(self, port: int) -> bool:
        """A MongoDB `ping` answers: the listener is up and the backend opened."""
        if not port_open(port):
            return False
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        client: MongoClient[dict[str, object]] = MongoClient(
            self.url(port), serverSelectionTimeoutMS=1000, connectTimeoutMS=1000, directConnection=True
        )
        try:
            return bool(client.admin.command("ping").get("ok"))
        except PyMongoError:
            return False
        finally:
            client.close()


def _source_digest() -> str:
    """Hash of the wrapper's sources, so an edited wrapper is rebuilt under the same version."""
    digest = hashlib.sha256()
    for name, source in SOURCES.files():
        digest.update(name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()
