"""Shared fixtures: live engines started through dbarena's own native launchers.

Markers and fixtures come from the engine table (harness.engines.registry.TEST_MARKERS):
each marker `<m>` gets the session fixtures `<m>_server` and `<m>_url`, and every test
carrying an engine marker also gets the marker `engine` (`make test-unit` deselects those).
Each fixture uses `DBARENA_<M>_URL` when set, else starts the server on a free loopback port
for the session and stops it by PID afterwards. Outside CI a missing engine skips its tests;
in CI (CI=true) a skip of an engine test is turned into a failure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from harness.engines.registry import TEST_MARKERS
from harness.errors import EngineUnavailable
from harness.provision.native import base
from harness.provision.native.registry import get_launcher


@pytest.fixture(autouse=True)
def _gevent_clock_now() -> None:
    """Bring gevent's loop clock to now before each test, when an earlier test made a hub in this process.

    libev caches "now" and updates it only while the loop runs, and gevent starts timers from it:
    after other tests ran for longer than a test's timeout without the loop, that test's
    gevent.sleep and Timeout would start from a stale clock and fire at once.
    """
    hub_local = sys.modules.get("gevent._hub_local")
    hub = hub_local.get_hub_if_exists() if hub_local is not None else None  # type: ignore[attr-defined]
    if hub is not None:
        hub.loop.update_now()

ENGINE_MARKERS = tuple(TEST_MARKERS)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_configure(config: pytest.Config) -> None:
    for marker, native in TEST_MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: needs a live {native.name} server")
    config.addinivalue_line("markers", "engine: needs a live engine (added to every engine-marked test)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(m) for m in ENGINE_MARKERS):
            item.add_marker(pytest.mark.engine)


def live_engine(launcher_name: str, env_var: str) -> Iterator[base.NativeServer | str]:
    url = os.environ.get(env_var)
    if url:
        yield url
        return
    launcher = get_launcher(launcher_name)
    try:
        server = base.start(launcher, port=base.free_port_for(launcher))
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


for _marker, _native in TEST_MARKERS.items():
    _engine_fixtures(_marker, _native.name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and any(item.get_closest_marker(m) for m in ENGINE_MARKERS):
        report.outcome = "failed"
        report.longrepr = f"engine test skipped in CI (not allowed): {report.longrepr}"

