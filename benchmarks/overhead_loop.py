"""The plain loop benchmarks/overhead.py sets against the harness: the same client library, the same call,
the same concurrency model (gevent greenlets in one monkey-patched process), no harness in between.

    .venv/bin/python benchmarks/overhead_loop.py ENGINE URL WORKLOAD.yaml OP USERS WARMUP DURATION

Each of USERS greenlets opens its own client (as each harness user opens its own adapter); the process
prints "ready", reads the start time START (epoch seconds) from its stdin, and from START each greenlet
calls the operation on uniformly drawn keys of the workload's entity in a tight loop and counts the calls
that end inside [START + WARMUP, START + WARMUP + DURATION]. Prints one JSON line:
{"calls": N, "seconds": DURATION, "cpu_s": this process's CPU over that window}.

The call of each engine is the one its adapter's executor makes for a `read` (harness/engines/*/adapter.py),
built with the adapter's own pure statement builders so the request text and parameters are identical.
"""

from gevent import monkey

monkey.patch_all()  # before any driver is imported, as the harness's workers (Locust) do

import json
import random
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent

from harness.spec.loader import load_workload
from harness.spec.models import Entity, IntField, ReadOp, Workload

Call = Callable[[Any], Any]
TIMEOUT_S = 10.0  # the adapters' default operation timeout (harness.spec.models.DEFAULT_OP_TIMEOUT_S)


def postgres_call(url: str, op: ReadOp, workload: Workload) -> Call:
    """psycopg's libpq wrapper (`pq`): PQsendQueryPrepared of the adapter's read statement, then wait for the
    socket to be readable and consume input until the reply is whole (the libpq calls psycopg's own
    generators make), on one connection per greenlet (harness/engines/postgres/wire.py, without the harness).
    """
    import psycopg
    from gevent.hub import get_hub
    from psycopg import pq

    from harness.engines.postgres.statements import build, positional

    conn = psycopg.connect(url, autocommit=True, prepare_threshold=0, connect_timeout=10)
    pgconn = conn.pgconn
    statement = positional(build(op, workload).query.as_string(conn)).encode()
    if pgconn.prepare(b"plain", statement).status != pq.ExecStatus.COMMAND_OK:
        raise SystemExit(f"overhead_loop: cannot prepare {statement!r}: {pgconn.error_message!r}")
    hub = get_hub()
    readable, either = hub.loop.io(pgconn.socket, 1), hub.loop.io(pgconn.socket, 3)
    rows_ok = int(pq.ExecStatus.TUPLES_OK)

    def call(key: int) -> int:
        pgconn.send_query_prepared(b"plain", [b"%d" % key])
        while pgconn.flush():
            hub.wait(either)
            pgconn.consume_input()
        while pgconn.is_busy():
            hub.wait(readable)
            pgconn.consume_input()
        result = pgconn.get_result()
        while pgconn.get_result() is not None:
            pass
        if result is None or result.status != rows_ok:
            raise SystemExit(f"overhead_loop: the read failed: {pgconn.error_message!r}")
        return result.ntuples
    call.connection = conn  # type: ignore[attr-defined]  # kept open as long as the call
    return call


def mongodb_call(url: str, op: ReadOp, workload: Workload) -> Call:
    """pymongo `find_one({"_id": key}, projection)` (harness/engines/mongodb/adapter.py `_read`)."""
    from pymongo import MongoClient

    client: Any = MongoClient(url, directConnection=True, serverSelectionTimeoutMS=10_000, connectTimeoutMS=10_000)
    collection = client.get_default_database("dbarena")[op.entity]
    projection = {f: 1 for f in op.project} or None
    return lambda key: collection.find_one({"_id": key}, projection)


def opensearch_call(url: str, op: ReadOp, workload: Workload) -> Call:
    """opensearch-py `get(index, id)` (harness/engines/search/client.py `SearchClient.get`)."""
    import opensearchpy

    from harness.engines.search.statements import index_name

    raw = opensearchpy.OpenSearch(hosts=[url], timeout=TIMEOUT_S, max_retries=0, retry_on_timeout=False)
    index, source = index_name(op.entity), list(op.project) or None
    return lambda key: raw.get(index=index, id=str(key), _source_includes=source)


def neo4j_call(url: str, op: ReadOp, workload: Workload) -> Call:
    """neo4j `session.run(cypher, parameters)` drained (harness/engines/neo4j/adapter.py `_rows`)."""
    from neo4j import GraphDatabase, Query

    from harness.engines.neo4j.statements import build

    statement = build(op, workload)
    driver = GraphDatabase.driver(url, auth=None, connection_timeout=10.0)
    session = driver.session()
    cypher, parameters = Query(statement.cypher, timeout=TIMEOUT_S), statement.parameters  # type: ignore[arg-type]
    return lambda key: list(session.run(cypher, parameters(key)))


def influxdb_call(url: str, op: ReadOp, workload: Workload) -> Call:
    """influxdb-client `query_stream(flux, org)` drained (harness/engines/influxdb/adapter.py `bind`)."""
    from influxdb_client import InfluxDBClient

    from harness.engines.influxdb.statements import read

    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    client = InfluxDBClient(url=base, token=query.get("token", ""), org=query.get("org", "-"),
                            timeout=int(TIMEOUT_S * 1000))
    reader, org = client.query_api(), query.get("org", "-")
    text = read(op, workload.entity(op.entity), query["bucket"]).text
    return lambda key: sum(1 for _ in reader.query_stream(text(key), org=org))


CALLS: dict[str, Callable[[str, ReadOp, Workload], Call]] = {
    "postgres": postgres_call, "mongodb": mongodb_call, "opensearch": opensearch_call, "neo4j": neo4j_call, "influxdb": influxdb_call,
}


def keys_of(entity: Entity) -> range:
    """The record keys of an entity whose key is an int sequence (the overhead workloads' shape)."""
    spec = entity.fields[entity.key]
    if not (isinstance(spec, IntField) and spec.sequence):
        raise SystemExit(f"overhead_loop: {entity.name}.{entity.key} must be an int sequence key")
    return range(spec.min, spec.min + entity.count)


def user(call: Call, keys: range, seed: int, measure_from: float, until: float) -> int:
    """One greenlet: call on uniform keys until `until`; the calls that ended inside the window."""
    draw = random.Random(seed).choice
    clock = time.time
    counted = 0
    while True:
        call(draw(keys))
        now = clock()
        if now >= until:
            return counted
        if now >= measure_from:
            counted += 1


def main(argv: list[str]) -> None:
    engine, url, workload_path, op_name, users, warmup, duration = argv
    workload = load_workload(Path(workload_path))
    op = next(o for o in workload.operations if o.name == op_name)
    if not isinstance(op, ReadOp):
        raise SystemExit(f"overhead_loop: {op_name} is not a read")
    keys = keys_of(workload.entity(op.entity))
    calls = [CALLS[engine](url, op, workload) for _ in range(int(users))]
    for call in calls:  # connect now, not inside the window
        call(keys[0])
    print("ready", flush=True)
    start = sys.stdin.readline()
    measure_from = float(start) + float(warmup)
    until = measure_from + float(duration)
    gevent.sleep(max(0.0, float(start) - time.time()))
    greenlets = [gevent.spawn(user, call, keys, i, measure_from, until) for i, call in enumerate(calls)]
    gevent.sleep(max(0.0, measure_from - time.time()))
    cpu_from = time.process_time()
    gevent.joinall(greenlets, raise_error=True)
    cpu_s = time.process_time() - cpu_from
    print(json.dumps({"calls": sum(g.value for g in greenlets), "seconds": float(duration), "cpu_s": cpu_s}))


if __name__ == "__main__":
    main(sys.argv[1:])
