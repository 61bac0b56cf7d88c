"""Shared fixtures: live engines started through dbarena's own native launchers.

Each engine fixture uses `DBARENA_<ENGINE>_URL` when set, else starts the engine on a
free loopback port for the session and stops it by PID afterwards. Outside CI a missing
engine skips its tests; in CI (CI=true) a skip of an engine test is turned into a failure.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from harness.errors import EngineUnavailable
from harness.provision.native import base
from harness.provision.native.registry import get_launcher

ENGINE_MARKERS = ("postgres", "redis", "mongodb", "opensearch", "influxdb", "neo4j")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def live_engine(launcher_name: str, env_var: str) -> Iterator[base.NativeServer | str]:
    url = os.environ.get(env_var)
    if url:
        yield url
        return
    launcher = get_launcher(launcher_name)
    try:
        server = base.start(launcher, port=free_port())
    except EngineUnavailable as exc:
        if IN_CI:
            pytest.fail(f"{launcher_name} could not be started in CI: {exc}")
        pytest.skip(f"{launcher_name} unavailable here: {exc}")
    try:
        yield server
    finally:
        base.stop(server)


def _url(item: base.NativeServer | str) -> str:
    return item if isinstance(item, str) else item.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[base.NativeServer | str]:
    yield from live_engine("postgres", "DBARENA_POSTGRES_URL")


@pytest.fixture(scope="session")
def postgres_url(postgres_server: base.NativeServer | str) -> str:
    return _url(postgres_server)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[base.NativeServer | str]:
    yield from live_engine("redis", "DBARENA_REDIS_URL")


@pytest.fixture(scope="session")
def redis_url(redis_server: base.NativeServer | str) -> str:
    return _url(redis_server)


@pytest.fixture()
def results_dir(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> object:
    """Run records of a test go to a temporary directory."""
    path = tmp_path / "results"  # type: ignore[operator]
    monkeypatch.setenv("DBARENA_RESULTS", str(path))
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and any(item.get_closest_marker(m) for m in ENGINE_MARKERS):
        report.outcome = "failed"
        report.longrepr = f"engine test skipped in CI (not allowed): {report.longrepr}"


@pytest.fixture(scope="session")
def opensearch_server() -> Iterator[base.NativeServer | str]:
    yield from live_engine("opensearch", "DBARENA_OPENSEARCH_URL")


@pytest.fixture(scope="session")
def opensearch_url(opensearch_server: base.NativeServer | str) -> str:
    return _url(opensearch_server)


@pytest.fixture(scope="session")
def mongodb_server() -> Iterator[base.NativeServer | str]:
    yield from live_engine("ferretdb", "DBARENA_MONGODB_URL")


@pytest.fixture(scope="session")
def mongodb_url(mongodb_server: base.NativeServer | str) -> str:
    return _url(mongodb_server)


@pytest.fixture(scope="session")
def influxdb_server() -> Iterator[base.NativeServer | str]:
    yield from live_engine("influxdb", "DBARENA_INFLUXDB_URL")


@pytest.fixture(scope="session")
def influxdb_url(influxdb_server: base.NativeServer | str) -> str:
    return _url(influxdb_server)


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[base.NativeServer | str]:
    yield from live_engine("neo4j", "DBARENA_NEO4J_URL")


@pytest.fixture(scope="session")
def neo4j_url(neo4j_server: base.NativeServer | str) -> str:
    return _url(neo4j_server)
