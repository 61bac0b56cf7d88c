"""Neo4j 5.26 starts natively (embedded + Bolt), takes a write and a read from the neo4j driver, stops by PID."""

from __future__ import annotations

import pytest

from harness.provision.native import base
from harness.provision.native.neo4j.launcher import Neo4jLauncher

neo4j = pytest.importorskip("neo4j")


@pytest.mark.neo4j
def test_neo4j_serves_bolt_write_and_read() -> None:
    launcher = Neo4jLauncher()
    port = base.free_port_for(launcher)
    server = base.start(launcher, port=port)
    try:
        assert server.url == f"bolt://127.0.0.1:{port}"
        assert launcher.is_ready(port)
        # Auth is off: no auth and any basic auth are both accepted, so one adapter config fits compose too.
        for auth in (None, ("neo4j", "any-password")):
            with neo4j.GraphDatabase.driver(server.url, auth=auth) as driver:
                driver.verify_connectivity()
                assert driver.get_server_info().agent == f"Neo4j/{launcher.version}"
        with neo4j.GraphDatabase.driver(server.url, auth=None) as driver:
            driver.execute_query(
                "CREATE (a:Person {name: $a})-[:KNOWS {since: 2020}]->(b:Person {name: $b})",
                a="ada",
                b="grace",
            )
            records, _, _ = driver.execute_query(
                "MATCH (a:Person {name: $a})-[k:KNOWS]->(b:Person) RETURN b.name AS name, k.since AS since",
                a="ada",
                routing_=neo4j.RoutingControl.READ,
            )
            assert [(r["name"], r["since"]) for r in records] == [("grace", 2020)]
    finally:
        base.stop(server)
    assert not base.pid_alive(server.pid)
    assert not base.port_open(port)
