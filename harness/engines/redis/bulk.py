"""The bulk load's pipeline: every command of a batch packed at once, one `sendall`, the replies read by hiredis.

redis-py's pipeline (`pipeline(transaction=False)` + `execute_command` per command) spent half the client's
time of a load in its own bookkeeping (argument packing in Python, a response callback per reply). Here
the batch goes out as `redis-cli --pipe` sends it: the RESP2 of every command (`hiredis.pack_command`) in
one write, then exactly as many replies read back with a hiredis Reader on the connection's own socket
(cooperative under gevent, with its socket timeout). Every reply is read before an error is raised, so
the connection stays in step; a failure of the socket disconnects it (redis-py connects again on next use).

The common batch — records of one shape, plain values, no expiry, no index entries — is packed a column at
a time as one str (`packed_columns`): the same bytes as hiredis packs (test), at about half the client's CPU
per record (hiredis converts and frames each of the ~14 words of an HSET on its own).

RESP2: https://redis.io/docs/latest/develop/reference/protocol-spec/
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain, repeat
from typing import Any

import hiredis
from redis._parsers.base import BaseParser

from harness.dataset.generate import RecordBatch
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


def packed_columns(write: Write, names: Sequence[str], columns: Sequence[Sequence[Any]]) -> bytes | None:
    """The RESP2 of `write.commands` of every record (field `names[i]` of each in `columns[i]`) when each is
    one HSET (no expiry, no index entries) of plain values (str, int, float; bool excluded); else None.

    Bytes equal to hiredis.pack_command of each command (tests): a value is written as str() writes it
    (redis-py and hiredis alike), its length in UTF-8 bytes.
    """
    layout = write.layout
    if (not columns or not columns[0] or write.expiry_ms
            or layout.unique or layout.equality or layout.ordered or layout.edge):  # else `add` gives []
        return None
    if write.key_field not in names or any(not PLAIN.issuperset(map(type, column)) for column in columns):
        return None
    prefix = f"{PREFIX}:{write.entity}:"
    keys = columns[names.index(write.key_field)]
    streams: list[Any] = [repeat(f"*{2 + 2 * len(names)}\r\n$4\r\nHSET\r\n"),
                          _bulk_strings([prefix + str(key) for key in keys])]
    for name, column in zip(names, columns):
        streams += [repeat(f"${len(name.encode())}\r\n{name}\r\n"), _bulk_strings(column)]
    return "".join(chain.from_iterable(zip(*streams))).encode()


def _bulk_strings(values: Sequence[Any]) -> list[str]:
    """Each value as a RESP bulk string ("$<bytes>\\r\\n<value>\\r\\n"), as str before its UTF-8 encoding."""
    texts = list(map(str, values))
    if all(map(str.isascii, texts)):  # one character, one byte
        return [f"${len(text)}\r\n{text}\r\n" for text in texts]
    return [f"${len(text.encode())}\r\n{text}\r\n" for text in texts]


def load(client: Any, write: Write, records: Sequence[Mapping[str, Any]]) -> int:
    """Write `records` as `write.commands` would, pipelined on `client`; returns the replies read."""
    batch = RecordBatch.of(records)
    return pipe(client, load_commands(write, records)) if batch is None else load_columns(client, write, batch)


def load_columns(client: Any, write: Write, batch: RecordBatch) -> int:
    """`load` of a batch generated as columns: packed from them as they are when it can be (`packed_columns`)."""
    payload = packed_columns(write, batch.names, batch.columns)
    if payload is None:
        return pipe(client, load_commands(write, batch.records()))
    return send_and_read(client, payload, len(batch))


def pipe(client: Any, commands: Sequence[Command]) -> int:
    """Send `commands` (words: str, bytes, int or float) in one write on `client`'s one connection
    (`single_connection_client`) and read every reply; returns how many were read (`send_and_read`)."""
    if not commands:
        return 0
    return send_and_read(client, b"".join(map(hiredis.pack_command, commands)), len(commands))


def send_and_read(client: Any, payload: bytes, replies: int) -> int:
    """Send `payload` (RESP2 commands) in one write on `client`'s one connection and read `replies` replies.

    Raises the first error reply as redis-py's class for its code (after all replies were read),
    redis.ConnectionError when the socket closes or fails, redis.TimeoutError on the socket timeout.
    """
    connection = client.connection
    sock, reader, buffer = socket_of(connection), hiredis.Reader(), bytearray(BUFFER_BYTES)
    first_error: hiredis.ReplyError | None = None
    try:
        sock.sendall(payload)
        for _ in range(replies):
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
    return replies
