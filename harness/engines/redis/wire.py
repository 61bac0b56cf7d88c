"""The timed path for Redis's one-command operations: pre-encoded RESP out, hiredis in.

redis-py's `execute_command` spends most of a GET's client time outside the round trip:
argument encoding, the retry wrapper, the connection's health and timeout handling, the
reply's parser shim and response callbacks. For the commands a read sends (HGETALL,
HMGET, and native commands from `FAST_COMMANDS`) the executor here writes the command
as RESP2 bytes (the constant words encoded once per bind, only the key or templated
words per call) on the connection's own socket and parses the reply with a hiredis
Reader: one `sendall`, then `recv_into` until the reply is complete. The round trip is
the same: one request, the whole reply read before the call returns.

The socket is redis-py's (cooperative under gevent, with the connection's socket
timeout), so timeouts, per-operation socket timeouts and reconnects behave as on
redis-py's path. Any failure closes the connection (redis-py connects again on next
use; the runner rebinds), since a reply may be left half-read. Errors map to redis-py's
types: an error reply raises redis-py's class for its code (`redis.ResponseError` by default), a closed socket
`redis.ConnectionError`, a socket timeout `redis.TimeoutError`.

RESP2: https://redis.io/docs/latest/develop/reference/protocol-spec/
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import hiredis
import redis
from redis._parsers.base import BaseParser

from harness.engines.redis.index import record_key

BUFFER_BYTES = 65_536

# native commands whose reply redis-py hands over unconverted, or converted without changing what
# NativeCommand.count makes of it (scalars, bulk strings, plain arrays, sets); others keep redis-py's path
FAST_COMMANDS = frozenset({
    "GET", "MGET", "SET", "SETEX", "GETEX", "INCR", "INCRBY", "DECR", "DECRBY", "EXISTS", "STRLEN", "APPEND",
    "HGET", "HMGET", "HSET", "HEXISTS", "HLEN", "HINCRBY", "LRANGE", "LPUSH", "RPUSH", "LPOP", "RPOP", "LLEN",
    "SADD", "SREM", "SISMEMBER", "SMEMBERS", "SCARD", "ZADD", "ZCARD", "ZSCORE", "ZRANK", "DEL", "UNLINK",
    "EXPIRE", "PEXPIRE", "TTL", "PTTL", "PING",
})
# commands redis-py turns from a flat [field, value, ...] array into a mapping: count the pairs
PAIR_COMMANDS = frozenset({"HGETALL"})


def bulk(word: bytes) -> bytes:
    """One RESP2 bulk string."""
    return b"$%d\r\n%b\r\n" % (len(word), word)


def header(words: int) -> bytes:
    """The RESP2 array header of a command of `words` words."""
    return b"*%d\r\n" % words


class Wire:
    """One redis-py connection driven directly: `call(request_bytes)` returns the parsed reply."""

    def __init__(self, client: Any) -> None:
        self.connection = client.connection  # single_connection_client: the one connection
        self.reader = hiredis.Reader()
        self.buffer = bytearray(BUFFER_BYTES)

    def call(self, request: bytes) -> Any:
        """Send one pre-encoded command and return its reply (bytes, int, list or None)."""
        sock = socket_of(self.connection)
        try:
            _send(sock, request)
            reply = read_reply(sock, self.reader, self.buffer)
        except BaseException as exc:  # a reply may be half-read: start afresh on the next call
            self._reset()
            error = as_redis_error(exc)
            if error is exc:
                raise
            raise error from exc
        if isinstance(reply, hiredis.ReplyError):
            raise BaseParser.parse_error(str(reply))  # redis-py's class for the error code (LOADING, NOSCRIPT...)
        return reply

    def _reset(self) -> None:
        self.reader = hiredis.Reader()
        self.connection.disconnect()


def socket_of(connection: Any) -> Any:
    """The connection's socket, connected again as redis-py's own path would if a failure dropped it."""
    if connection._sock is None:
        connection.connect()
    return connection._sock


def read_reply(sock: Any, reader: hiredis.Reader, buffer: bytearray) -> Any:
    """The next whole reply: read into `buffer` until `reader` has one; redis.ConnectionError when the server closes.

    On gevent's socket the wait comes first: right after a request the reply is all but never there
    yet, and gevent's `recv_into` would try recv(2) first, fail with EAGAIN, then wait. Waiting for
    readability under the socket's timeout (gevent's own `_wait`, which raises socket.timeout as
    `recv_into` would) and then reading the real socket saves that syscall and its exception: about
    2 µs of client CPU per call on the overhead benchmark. Other sockets use `recv_into` as is.
    """
    reply = reader.gets()
    if reply is not False:
        return reply
    raw: Any = getattr(sock, "_sock", None)  # gevent's socket wraps the real one
    wait: Any = getattr(sock, "_wait", None)
    readable = sock._read_event if raw is not None and wait is not None else None
    while reply is False:
        if readable is None:
            n = sock.recv_into(buffer)
        else:
            wait(readable)
            try:
                n = raw.recv_into(buffer)
            except BlockingIOError:  # readiness without data (spurious): wait again
                continue
        if not n:
            raise redis.ConnectionError("Connection closed by server.")
        reader.feed(buffer, 0, n)  # type: ignore[arg-type]  # any buffer: no copy
        reply = reader.gets()
    return reply


def as_redis_error(exc: BaseException) -> BaseException:
    """A socket failure as redis-py raises it (TimeoutError / ConnectionError); anything else unchanged."""
    if isinstance(exc, TimeoutError):
        return redis.TimeoutError(f"Timeout reading from socket: {exc}")
    if isinstance(exc, OSError):
        return redis.ConnectionError(f"Error while reading from socket: {exc}")
    return exc


def _send(sock: Any, request: bytes) -> None:
    """Write `request` whole: one send(2) on the socket underneath gevent's, which is non-blocking.

    A command fits the socket buffer all but always; gevent's `sendall` would add a getsockopt(2)
    and its timeout bookkeeping to every call. Whatever the kernel did not take goes through
    gevent's `sendall` (cooperative, under the socket's timeout).
    """
    raw = getattr(sock, "_sock", None)  # gevent's socket wraps the real one; a plain socket has none
    if raw is None:
        sock.sendall(request)
        return
    try:
        sent = raw.send(request)
    except BlockingIOError:
        sent = 0
    if sent < len(request):
        sock.sendall(memoryview(request)[sent:])


def read_executor(wire: Wire, entity: str, fields: Sequence[str]) -> Callable[[Any], int]:
    """HGETALL (or HMGET of `fields`) of the record `key` of `entity` (index.record_key); 1 when it exists."""
    if fields:
        head = header(2 + len(fields)) + bulk(b"HMGET")
        tail = b"".join(bulk(f.encode()) for f in fields)

        def hmget(record: Any) -> int:
            key = record_key(entity, record).encode()
            reply = wire.call(b"%b$%d\r\n%b\r\n%b" % (head, len(key), key, tail))
            return int(any(v is not None for v in reply))
        return hmget
    head = header(2) + bulk(b"HGETALL")

    def hgetall(record: Any) -> int:
        key = record_key(entity, record).encode()
        return int(bool(wire.call(b"%b$%d\r\n%b\r\n" % (head, len(key), key))))
    return hgetall


def native_executor(wire: Wire, words: Sequence[str], templated: Sequence[int]) -> Callable[[Any], int] | None:
    """A native command of `words` (those at `templated` formatted per call), or None if redis-py should send it.

    The count is NativeCommand.count's: elements of an array reply (pairs for PAIR_COMMANDS), else 1
    unless the reply is nil.
    """
    name = words[0].upper() if words else ""
    if name not in FAST_COMMANDS and name not in PAIR_COMMANDS:
        return None
    pairs = name in PAIR_COMMANDS
    parts: list[bytes | None] = [None if i in templated else bulk(w.encode()) for i, w in enumerate(words)]
    head = header(len(words))
    if not templated:
        request = head + b"".join(p for p in parts if p is not None)
        return lambda _params: _count(wire.call(request), pairs)
    if len(templated) == 1:  # the usual shape (GET key:{key}): constant bytes around one word
        at = templated[0]
        before = head + b"".join(p for p in parts[:at] if p is not None)
        after = b"".join(p for p in parts[at + 1:] if p is not None)
        template = words[at]

        def run_one(params: Any) -> int:
            word = template.format_map(params).encode()
            return _count(wire.call(b"%b$%d\r\n%b\r\n%b" % (before, len(word), word, after)), pairs)
        return run_one
    slots = [(i, words[i]) for i in templated]

    def run(params: Any) -> int:
        out = list(parts)
        for i, word in slots:
            out[i] = bulk(word.format_map(params).encode())
        return _count(wire.call(head + b"".join(out)), pairs)  # type: ignore[arg-type]
    return run


def _count(reply: Any, pairs: bool) -> int:
    if isinstance(reply, list):
        return len(reply) // 2 if pairs else len(reply)
    return int(reply is not None)
