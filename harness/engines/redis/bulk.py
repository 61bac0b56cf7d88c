"""The bulk load's pipeline: every command of a batch packed by hiredis, one `sendall`, the replies read by hiredis.

redis-py's pipeline (`pipeline(transaction=False)` + `execute_command` per command) spent half the client's
time of a load in its own bookkeeping (argument packing in Python, a response callback per reply). Here
the batch goes out as `redis-cli --pipe` sends it: the RESP2 of every command (`hiredis.pack_command`) in
one write, then exactly as many replies read back with a hiredis Reader on the connection's own socket
(cooperative under gevent, with its socket timeout). Every reply is read before an error is raised, so
the connection stays in step; a failure of the socket disconnects it (redis-py connects again on next use).

RESP2: https://redis.io/docs/latest/develop/reference/protocol-spec/
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import hiredis
from redis._parsers.base import BaseParser

from harness.engines.redis.index import PREFIX, Command
from harness.engines.redis.statements import Write
from harness.engines.redis.wire import as_redis_error, read_reply, socket_of

BUFFER_BYTES = 1 << 20
PLAIN = frozenset({str, int, float})  # values a record hash stores as they are (encode_value passes them through)


def load_commands(write: Write, records: Sequence[Mapping[str, Any]]) -> list[Command]:
    """`write.commands` of every record, in order: the same commands, the common record (every value a str,
    int or float, no expiry) built by C loops (`chain`, `map`) instead of a value-by-value encoding."""
    prefix, add, key_field = f"{PREFIX}:{write.entity}:", write.layout.add, write.key_field
    layout = write.layout
    indexed = bool(layout.unique or layout.equality or layout.ordered or layout.edge)  # else `add` gives []
    out: list[Command] = []
    for record in records:
        if write.expiry_ms or not PLAIN.issuperset(map(type, record.values())):
            out += write.commands(record)
            continue
        key = record[key_field]
        out.append(("HSET", prefix + str(key), *chain.from_iterable(record.items())))
        if indexed:
            out += add(key, record)
    return out


def pipe(client: Any, commands: Sequence[Command]) -> int:
    """Send `commands` (words: str, bytes, int or float) in one write on `client`'s one connection
    (`single_connection_client`) and read every reply; returns how many were read.

    Raises the first error reply as redis-py's class for its code (after all replies were read),
    redis.ConnectionError when the socket closes or fails, redis.TimeoutError on the socket timeout.
    """
    if not commands:
        return 0
    connection = client.connection
    sock, reader, buffer = socket_of(connection), hiredis.Reader(), bytearray(BUFFER_BYTES)
    first_error: hiredis.ReplyError | None = None
    try:
        sock.sendall(b"".join(map(hiredis.pack_command, commands)))
        for _ in range(len(commands)):
            reply = read_reply(sock, reader, buffer)
            if isinstance(reply, hiredis.ReplyError) and first_error is None:
                first_error = reply
    except BaseException as exc:  # replies may be left unread: start afresh on the next use
        connection.disconnect()
        error = as_redis_error(exc)
        if error is exc:
            raise
        raise error from exc
    if first_error is not None:
        raise BaseParser.parse_error(str(first_error))
    return len(commands)
