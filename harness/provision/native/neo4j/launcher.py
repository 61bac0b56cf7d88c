"""Neo4j community, embedded in a tiny Java main that serves Bolt (no Docker, no tarball).

Maven Central ships Neo4j as the `org.neo4j:neo4j` library, not as a server download, so
this package holds a pom and a Java main (package data: pom.xml, src/) that open a
DatabaseManagementService with the Bolt connector on 127.0.0.1 and auth off. `build` runs
`mvn package` on a copy of those sources in the artifacts cache (the runner jar plus ~210
dependency jars land in lib/); the Maven repository stays at ~/.m2 so later builds reuse
the downloads.
"""

from __future__ import annotations

import shutil
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

SOURCES = Sources("harness.provision.native.neo4j", ("pom.xml", "src/*"))
MAIN_CLASS = "dbarena.neo4j.Main"

# What neo4j.conf 5.26 passes to the JVM (server.jvm.additional), minus the profiling and
# AlwaysPreTouch ones: the add-opens keep Neo4j's off-heap/NIO access working on Java 17+.
JVM_FLAGS: tuple[str, ...] = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
)


class Neo4jLauncher(NativeLauncher):
    """Neo4j 5.26 LTS community; Bolt at bolt://127.0.0.1:<port>, no auth."""

    engine: ClassVar[str] = "neo4j"
    version: ClassVar[str] = "5.26.30"
    default_port: ClassVar[int] = 7687
    startup_timeout_s: ClassVar[float] = 120.0  # JVM + system/neo4j databases: ~10-25 s on 2 cores
    route: ClassVar[str] = (
        "Neo4j 5.26.30 community (Maven Central org.neo4j:neo4j) embedded by dbarena's Java runner "
        "(harness.provision.native.neo4j); Bolt on 127.0.0.1, auth off, heap 1g, page cache 512 MiB"
    )
    heap: ClassVar[str] = "1g"
    page_cache_mib: ClassVar[int] = 512

    def build(self, artifacts: Path, progress: Progress) -> None:
        stamp = artifacts / "BUILT"
        fingerprint = self._fingerprint()
        if stamp.exists() and stamp.read_text() == fingerprint and (artifacts / "lib").is_dir():
            return
        hint = "install a JDK 17+ and Maven (Debian: apt-get install openjdk-17-jdk-headless maven)"
        require_tool("javac", self.engine, hint)
        mvn = require_tool("mvn", self.engine, hint)
        progress(f"building neo4j {self.version} runner with Maven (first time downloads ~125 MB of jars)")
        src = artifacts / "src"
        shutil.rmtree(src, ignore_errors=True)
        SOURCES.copy_to(src)
        run_step(
            [mvn, "-q", "-B", f"-Dneo4j.version={self.version}", "package"],
            cwd=src,
            engine=self.engine,
            what="maven package",
            timeout_s=1800.0,
            log_path=artifacts / "maven-package.log",
        )
        lib = artifacts / "lib"
        shutil.rmtree(lib, ignore_errors=True)
        shutil.move(str(src / "target" / "lib"), lib)
        shutil.rmtree(src, ignore_errors=True)
        stamp.write_text(fingerprint)

    def plan(self, artifacts: Path, data: Path, port: int) -> LaunchPlan:
        java = require_tool("java", self.engine, "install a Java 17+ runtime")
        argv = (
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            *JVM_FLAGS,
            "-cp",
            str(artifacts / "lib" / "*"),
            MAIN_CLASS,
            str(data),
            str(port),
            str(self.page_cache_mib),
        )
        return LaunchPlan(argv=argv, cwd=data)

    def url(self, port: int) -> str:
        return f"bolt://127.0.0.1:{port}"

    def is_ready(self, port: int) -> bool:
        """A Bolt query answers: an accepting TCP port alone does not prove the default database is online."""
        if not port_open(port):
            return False
        from neo4j import GraphDatabase

        try:
            # session.run, not execute_query: the latter retries for up to 30 s on its own.
            with GraphDatabase.driver(self.url(port), auth=None, connection_timeout=2.0) as driver, driver.session() as session:
                record = session.run("RETURN 1 AS ok").single()
                return record is not None and record["ok"] == 1
        except Exception:  # any driver error just means "not yet"
            return False

    def _fingerprint(self) -> str:
        """Version plus the runner's source, so an edited pom or main rebuilds."""
        return SOURCES.fingerprint(seed=self.version.encode())
