"""Loopback ports: whether one answers, and a free one to start a server on.

Written once for the native launchers, the test fixtures and the benchmarks. A free port
is only free when asked: another process may take it before the server binds it, so
`native.base.start` checks again and says which port is busy.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Collection, Iterable

from harness.errors import EngineUnavailable

HOST = "127.0.0.1"
MAX_PORT = 65535


def port_open(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _ephemeral_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def free_port(
    related: Callable[[int], Iterable[int]] | None = None,
    *,
    avoid: Collection[int] = (),
    attempts: int = 50,
) -> int:
    """A loopback port nothing listens on now.

    `related(port)` lists every port a server on `port` binds (a launcher's `ports`, e.g.
    OpenSearch's transport port at +100): all of them must be free and valid. Ports in
    `avoid` (say a launcher's default port, which a developer's own server may hold) are
    never returned.
    """
    for _ in range(attempts):
        port = _ephemeral_port()
        wanted = tuple(related(port)) if related else (port,)
        if port in avoid or any(p > MAX_PORT for p in wanted):
            continue
        if not any(port_open(p) for p in wanted if p != port):
            return port
    raise EngineUnavailable(f"no free loopback port found in {attempts} attempts")
