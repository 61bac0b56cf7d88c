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


def _engine_fixtures(engine: str, launcher: str) -> None:
    """Define session fixtures `<engine>_server` (started once) and `<engine>_url`."""

    @pytest.fixture(scope="session", name=f"{engine}_server")
    def server() -> Iterator[base.NativeServer | str]:
        yield from live_engine(launcher, f"DBARENA_{engine.upper()}_URL")

    @pytest.fixture(scope="session", name=f"{engine}_url")
    def url(request: pytest.FixtureRequest) -> str:
        return _url(request.getfixturevalue(f"{engine}_server"))

    globals()[f"{engine}_server"], globals()[f"{engine}_url"] = server, url


# engine fixture name -> the native launcher that serves it here
for _engine, _launcher in {"postgres": "postgres", "redis": "redis", "mongodb": "ferretdb",
                           "opensearch": "opensearch", "influxdb": "influxdb", "neo4j": "neo4j"}.items():
    _engine_fixtures(_engine, _launcher)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and any(item.get_closest_marker(m) for m in ENGINE_MARKERS):
        report.outcome = "failed"
        report.longrepr = f"engine test skipped in CI (not allowed): {report.longrepr}"

