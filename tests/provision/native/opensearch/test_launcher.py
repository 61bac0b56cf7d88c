"""The native OpenSearch node starts, indexes and searches through opensearch-py, and stops."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.provision.native import base
from harness.provision.native.opensearch.launcher import OpenSearchLauncher

pytestmark = pytest.mark.opensearch


@pytest.fixture(scope="module")
def server() -> Iterator[base.NativeServer]:
    launcher = OpenSearchLauncher()
    started = base.start(launcher, port=base.free_port_for(launcher))  # its transport port (+100) is free too
    try:
        yield started
    finally:
        base.stop(started)
        assert not base.pid_alive(started.pid)


def test_declares_http_and_transport_ports() -> None:
    launcher = OpenSearchLauncher()
    assert launcher.ports(9200) == (9200, 9300)
    assert launcher.url(9200) == "http://127.0.0.1:9200"


def test_bulk_then_match_query(server: base.NativeServer) -> None:
    from opensearchpy import OpenSearch

    client = OpenSearch(server.url, timeout=30)
    assert client.info()["version"]["number"].startswith("2.19.")
    client.indices.create(
        index="docs",
        body={"mappings": {"properties": {"body": {"type": "text", "analyzer": "standard"}}}},
    )
    texts = ["The quick brown fox", "Lazy dogs sleep all day", "Quick thinking foxes"]
    actions: list[dict[str, object]] = []
    for i, text in enumerate(texts):
        actions += [{"index": {"_index": "docs", "_id": str(i)}}, {"body": text}]
    bulk = client.bulk(body=actions, refresh=True)
    assert not bulk["errors"]

    found = client.search(index="docs", body={"query": {"match": {"body": "QUICK fox"}}})
    assert {hit["_id"] for hit in found["hits"]["hits"]} == {"0", "2"}
    assert found["hits"]["hits"][0]["_id"] == "0"  # matches both terms, so scores highest
    assert client.cluster.health(index="docs")["status"] == "green"


def test_binds_loopback_only(server: base.NativeServer) -> None:
    from opensearchpy import OpenSearch

    nodes = OpenSearch(server.url).nodes.info(metric="http,transport")["nodes"]
    (node,) = nodes.values()
    assert node["http"]["bound_address"] == [f"127.0.0.1:{server.port}"]
    assert node["transport"]["bound_address"] == [f"127.0.0.1:{server.port + 100}"]
