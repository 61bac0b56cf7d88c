"""free_port: nothing listens on what it returns, nor on the ports a launcher binds next to it."""

from __future__ import annotations

import socket

import pytest

from harness.errors import EngineUnavailable
from harness.provision.ports import free_port, port_open


def test_port_open_tells_a_listener_from_a_free_port() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])
        assert port_open(port)
    assert not port_open(free_port())


def test_free_port_checks_the_related_ports_and_avoids_the_given_ones() -> None:
    port = free_port(lambda p: (p, p + 2), avoid=(5432,))
    assert port != 5432
    assert not port_open(port) and not port_open(port + 2)


def test_free_port_never_returns_a_port_whose_partner_is_out_of_range() -> None:
    with pytest.raises(EngineUnavailable, match="no free loopback port"):
        free_port(lambda p: (p, p + 70000), attempts=3)
