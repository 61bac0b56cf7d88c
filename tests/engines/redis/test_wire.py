"""The pre-encoded read path against a real Redis: same counts as redis-py's path, same errors, same recovery."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from harness.engines.redis.statements import NativeCommand
from harness.engines.redis.wire import FAST_COMMANDS, Wire, native_executor, read_executor

pytestmark = pytest.mark.redis


@pytest.fixture
def client(redis_url: str) -> Any:
    client = redis.Redis.from_url(redis_url, single_connection_client=True, socket_timeout=5)
    client.delete("dbarena:wire:1", "dbarena:wire:s", "dbarena:wire:l", "dbarena:wire:n", "dbarena:wire:str")
    client.hset("dbarena:wire:1", mapping={"a": "1", "b": "2"})
    client.sadd("dbarena:wire:s", "x", "y", "z")
    client.rpush("dbarena:wire:l", "p", "q")
    client.set("dbarena:wire:str", "v")
    yield client
    client.close()


COMMANDS = [
    "GET dbarena:wire:str", "GET dbarena:wire:{k}", "MGET dbarena:wire:str dbarena:wire:nope", "SMEMBERS dbarena:wire:s",
    "HGETALL dbarena:wire:1", "HGETALL dbarena:wire:{k}", "HMGET dbarena:wire:1 a nope", "LRANGE dbarena:wire:l 0 -1",
    "INCR dbarena:wire:n", "SET dbarena:wire:other {k}", "EXISTS dbarena:wire:1", "HGET dbarena:wire:1 b",
    "HGET dbarena:wire:{k} a", "MGET dbarena:wire:{k} dbarena:wire:str dbarena:wire:{k}",
]


@pytest.mark.parametrize("text", COMMANDS)
def test_native_counts_equal_redis_py_path(client: Any, text: str) -> None:
    native = NativeCommand.parse(text)
    fast = native_executor(Wire(client), native.words, native.templated)
    assert fast is not None
    params = {"k": "missing"}
    expected = native.count(client.execute_command(*native.command(params)))
    assert fast(params) == expected


def test_commands_outside_the_list_keep_redis_py(client: Any) -> None:
    assert "BLPOP" not in FAST_COMMANDS
    assert native_executor(Wire(client), ("ZRANGE", "k", "0", "-1", "WITHSCORES"), ()) is None


def test_read_hits_misses_and_projection(client: Any) -> None:
    wire = Wire(client)
    before = client.info("commandstats")
    assert read_executor(wire, "wire", ())(1) == 1
    assert read_executor(wire, "wire", ())(2) == 0
    assert read_executor(wire, "wire", ("a",))(1) == 1
    assert read_executor(wire, "wire", ("nope",))(1) == 0
    after = client.info("commandstats")
    assert after["cmdstat_hgetall"]["calls"] - before.get("cmdstat_hgetall", {"calls": 0})["calls"] == 2
    assert after["cmdstat_hmget"]["calls"] - before.get("cmdstat_hmget", {"calls": 0})["calls"] == 2


def test_error_reply_raises_redis_py_class_and_the_connection_goes_on(client: Any) -> None:
    wire = Wire(client)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        read_executor(wire, "wire", ())("s")  # dbarena:wire:s is a set
    assert read_executor(wire, "wire", ())(1) == 1


def test_killed_connection_is_a_connection_error_then_reconnects(client: Any, redis_url: str) -> None:
    wire = Wire(client)
    assert read_executor(wire, "wire", ())(1) == 1
    my_id = client.client_id()
    killer = redis.Redis.from_url(redis_url)
    assert killer.client_kill_filter(_id=my_id) == 1
    with pytest.raises(redis.ConnectionError):
        read_executor(wire, "wire", ())(1)
    assert read_executor(wire, "wire", ())(1) == 1  # connected again, like redis-py's own path
    killer.close()


def test_socket_timeout_is_a_redis_timeout(client: Any, redis_url: str) -> None:
    wire = Wire(client)
    client.connection._sock.settimeout(0.2)
    pauser = redis.Redis.from_url(redis_url)
    pauser.execute_command("CLIENT", "PAUSE", "1000", "ALL")
    began = time.perf_counter()
    try:
        with pytest.raises(redis.TimeoutError):
            read_executor(wire, "wire", ())(1)
        elapsed = time.perf_counter() - began
    finally:
        pauser.execute_command("CLIENT", "UNPAUSE")
        pauser.close()
    assert 0.19 < elapsed < 0.9


def test_send_on_a_gevent_socket_writes_everything_even_past_the_socket_buffer() -> None:
    """The raw send under gevent's socket: a small request in one send(2), a large one finished cooperatively."""
    import gevent
    import gevent.socket

    from harness.engines.redis.wire import _send

    left, right = gevent.socket.socketpair()
    try:
        assert getattr(left, "_sock", None) is not None  # the path the workers take
        _send(left, b"*1\r\n$4\r\nPING\r\n")
        assert right.recv(64) == b"*1\r\n$4\r\nPING\r\n"
        big = bytes(range(256)) * 40_000  # ~10 MB: more than the kernel takes at once
        received = bytearray()

        def drain() -> None:
            while len(received) < len(big):
                received.extend(right.recv(1 << 20))
        reader = gevent.spawn(drain)
        _send(left, big)
        reader.join(timeout=30)
        assert bytes(received) == big
    finally:
        left.close()
        right.close()


def test_read_on_a_gevent_socket_waits_first_and_keeps_the_socket_timeout() -> None:
    """The workers' read: wait for readability (under the socket's timeout), then recv on the real socket.

    A reply split over several arrivals and reads is returned whole; a reply already buffered is
    returned without waiting; a silent server is socket.timeout (redis.TimeoutError once mapped) at
    the socket's timeout; a closed one is redis.ConnectionError.
    """
    import gevent
    import gevent.socket
    import hiredis

    from harness.engines.redis.wire import as_redis_error, read_reply

    left, right = gevent.socket.socketpair()
    assert getattr(left, "_sock", None) is not None and getattr(left, "_wait", None) is not None  # the fast path
    reader, buffer = hiredis.Reader(), bytearray(16)  # smaller than the reply: several reads

    def answer() -> None:
        gevent.sleep(0.05)
        right.sendall(b"$20\r\n0123456789")
        gevent.sleep(0.05)
        right.sendall(b"abcdefghij\r\n:7\r\n")
    try:
        writer = gevent.spawn(answer)
        assert read_reply(left, reader, buffer) == b"0123456789abcdefghij"
        assert read_reply(left, reader, buffer) == 7
        writer.join(timeout=5)
        left.settimeout(0.2)
        began = time.perf_counter()
        with pytest.raises(TimeoutError) as raised:
            read_reply(left, reader, buffer)
        assert 0.19 < time.perf_counter() - began < 0.9
        assert isinstance(as_redis_error(raised.value), redis.TimeoutError)
        right.close()
        with pytest.raises(redis.ConnectionError):
            read_reply(left, reader, buffer)
    finally:
        left.close()
        right.close()
