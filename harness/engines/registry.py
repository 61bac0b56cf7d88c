"""Every engine dbarena knows: its adapter, how it runs here, what it is tested against.

Adapters are imported lazily so that a run against Redis never imports psycopg, and so
the runner can patch gevent before any driver is imported.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from harness.engines.base import EngineAdapter
from harness.errors import UserError
from harness.spec.hints import did_you_mean


@dataclass(frozen=True)
class EngineInfo:
    name: str
    adapter: str  # "module:Class"
    default_url: str
    native: str | None  # native launcher that serves this engine here (may be a stand-in)
    compose_service: str | None
    tested_against: str
    compose_url: str | None = None  # when the compose service is reached differently from default_url


ENGINES: dict[str, EngineInfo] = {
    info.name: info
    for info in (
        EngineInfo("postgres", "harness.engines.postgres:PostgresAdapter",
                   "postgresql://postgres@127.0.0.1:5432/postgres", "postgres", "postgres",
                   "PostgreSQL 15 (Debian) natively"),
        EngineInfo("redis", "harness.engines.redis:RedisAdapter",
                   "redis://127.0.0.1:6379/0", "redis", "redis", "Redis 7 (Debian redis-server) natively"),
        EngineInfo("mongodb", "harness.engines.mongodb:MongoAdapter",
                   "mongodb://127.0.0.1:27017/dbarena", "ferretdb", "mongodb",
                   "FerretDB 1.24 (MongoDB wire protocol); real mongod only under Compose"),
        EngineInfo("ferretdb", "harness.engines.mongodb:MongoAdapter",
                   "mongodb://127.0.0.1:27017/dbarena", "ferretdb", "ferretdb", "FerretDB 1.24 natively",
                   compose_url="mongodb://127.0.0.1:27018/dbarena"),
        EngineInfo("elasticsearch", "harness.engines.search:SearchAdapter",
                   "http://127.0.0.1:9200", "opensearch", "elasticsearch",
                   "OpenSearch 2.19 (same query DSL); real Elasticsearch 8 only under Compose"),
        EngineInfo("opensearch", "harness.engines.search:SearchAdapter",
                   "http://127.0.0.1:9200", "opensearch", "opensearch", "OpenSearch 2.19 natively",
                   compose_url="http://127.0.0.1:9201"),
        EngineInfo("influxdb", "harness.engines.influxdb:InfluxAdapter",
                   "http://127.0.0.1:8086?org=-&bucket=dbarena/autogen&token=user:pass", "influxdb", "influxdb",
                   "InfluxDB 1.8.10 v2-compatible API natively",
                   compose_url="http://127.0.0.1:8086?org=dbarena&bucket=dbarena&token=dbarena-token"),
        EngineInfo("neo4j", "harness.engines.neo4j:Neo4jAdapter",
                   "bolt://127.0.0.1:7687", "neo4j", "neo4j", "Neo4j 5.26 community natively"),
        EngineInfo("fake", "harness.engines.fake:FakeAdapter", "fake://", None, None,
                   "in-memory, for unit tests of the runner and everything above it"),
    )
}


def engine_info(name: str) -> EngineInfo:
    info = ENGINES.get(name)
    if info is None:
        known = sorted(ENGINES)
        raise UserError(f"unknown engine {name!r}; known: {', '.join(known)}{did_you_mean(name, known)}")
    return info


def adapter_class(name: str) -> type[EngineAdapter]:
    module_name, class_name = engine_info(name).adapter.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise UserError(f"engine {name!r}: its adapter is not available ({exc})") from exc
    adapter: type[EngineAdapter] = getattr(module, class_name)
    return adapter


def create_adapter(name: str, url: str) -> EngineAdapter:
    """A new, not yet connected adapter for engine `name` at `url`."""
    adapter = adapter_class(name)(url)
    adapter.name = name  # type: ignore[misc]  # one adapter class may serve several engine names
    return adapter
