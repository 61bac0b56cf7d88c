"""Per-operation timeouts through each driver's own mechanism, against the six real engines.

For each engine an operation is forced past its own `timeout` (a server-side sleep, a blocking
command, a heavy query under a tiny limit); the call must raise an error the adapter's
`is_timeout` recognises, within the limit plus the mechanism's slack, and the next call on the
same adapter (reconnecting when `is_disconnect` says so, as the runner does) must succeed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from harness.engines.base import EngineAdapter
from harness.engines.registry import create_adapter
from harness.runner.driver import OperationMix
from harness.spec.models import NativeOp, Operation, OperationKind, Workload, timeout_of
from tests.engines.helpers import load_all, workload

SLACK_S = 1.0  # a timeout surfaces within its limit + 1 s
NEO4J_SLACK_S = 2.5  # Neo4j checks transaction timeouts every db.transaction.monitor.check.interval (2 s)


@dataclass
class Case:
    """A slow call under a small limit, then a quick operation under the default limit."""

    adapter: EngineAdapter[Any]
    spec: Workload
    slow: Operation
    slow_argument: Any
    quick: Operation
    quick_argument: Any
    slack_s: float = SLACK_S


def native(name: str, engine: str, statement: str, entity: str, timeout_s: float | None = None) -> NativeOp:
    spec: dict[str, Any] = {"name": name, "kind": "native", "entity": entity, "weight": 1,
                            "statements": {engine: statement}}
    if timeout_s is not None:
        spec["timeout"] = timeout_s
    return NativeOp.model_validate(spec)


def limited(op: Operation, timeout_s: float) -> Operation:
    return op.model_copy(update={"timeout_s": timeout_s})


def op_named(spec: Workload, name: str) -> Operation:
    return next(op for op in spec.operations if op.name == name)


def postgres_case(url: str) -> Case:
    spec = workload("kv-cache", 50)
    return Case(create_adapter("postgres", url), spec, native("sleep", "postgres", "SELECT pg_sleep(5)", "usertable", 1.0),
                {}, native("one", "postgres", "SELECT 1", "usertable"), {})


def redis_case(url: str) -> Case:
    spec = workload("kv-cache", 50)
    # BLPOP on a key nobody pushes to blocks this connection for 5 s; the socket timeout ends the wait
    block = native("block", "redis", "BLPOP dbarena:timeout-test:nothing 5", "usertable", 1.0)
    return Case(create_adapter("redis", url), spec, block, {}, native("ping", "redis", "PING", "usertable"), {})


def mongodb_case(url: str) -> Case:
    spec = workload("kv-cache", 20000)
    adapter = create_adapter("mongodb", url)
    adapter.connect()
    load_all(adapter, spec)
    # FerretDB has no $where or $function: a regular expression over the whole collection (FerretDB scans it)
    # under a 50 ms limit (pymongo's CSOT: maxTimeMS on the server and the socket's timeout)
    whole = '{"find": "usertable", "filter": {"field0": {"$regex": "zzz"}}, "batchSize": 100000}'
    return Case(adapter, spec, native("whole", "mongodb", whole, "usertable", 0.05), {}, op_named(spec, "read"), "user1")


def argument(spec: Workload, op: Operation) -> Any:
    """An argument the runner would generate for `op` (a fresh key for an insert)."""
    mix = OperationMix(spec, user_slot=0, total_users=1, seed=spec.dataset.seed)
    return mix.drivers[list(spec.operations).index(op)].arguments()


def timeseries_case(engine: str, url: str, count: int, limit_s: float) -> Case:
    """An aggregate under a limit of a few ms (a Flux query costs InfluxDB 1.8 ~10 ms of CPU; a composite
    aggregation over thousands of documents takes OpenSearch more), then an insert."""
    spec = workload("metrics-timeseries", count)
    adapter = create_adapter(engine, url)
    adapter.connect()
    load_all(adapter, spec)
    adapter.close()
    aggregate = next(op for op in spec.operations if op.kind is OperationKind.AGGREGATE)
    window = argument(spec, aggregate)
    every_point = window._replace(low=window.high - timedelta(days=3650))
    ingest = op_named(spec, "ingest")
    return Case(adapter, spec, limited(aggregate, limit_s), every_point, ingest, argument(spec, ingest))


def opensearch_case(url: str) -> Case:
    return timeseries_case("opensearch", url, 5000, 0.001)


def influxdb_case(url: str) -> Case:
    return timeseries_case("influxdb", url, 2000, 0.003)


def neo4j_case(url: str) -> Case:
    spec = workload("social-graph", 50)
    # a long UNWIND: the server ends the transaction at its timeout (checked every 2 s by default)
    busy = native("busy", "neo4j", "UNWIND range(1, 2000000000) AS x WITH x WHERE x < 0 RETURN count(x)", "person",
                  1.0)
    return Case(create_adapter("neo4j", url), spec, busy, {}, native("one", "neo4j", "RETURN 1", "person"), {},
                slack_s=NEO4J_SLACK_S)


def case_for(engine: str, request: pytest.FixtureRequest) -> Case:
    url = request.getfixturevalue(f"{engine}_url")
    return CASES[engine](url)


CASES: dict[str, Callable[[str], Case]] = {
    "postgres": postgres_case, "redis": redis_case, "mongodb": mongodb_case, "opensearch": opensearch_case,
    "influxdb": influxdb_case, "neo4j": neo4j_case,
}


@pytest.mark.parametrize("engine", [pytest.param(name, marks=getattr(pytest.mark, name)) for name in CASES])
def test_a_call_past_its_timeout_raises_a_timeout_and_the_adapter_goes_on(engine: str,
                                                                          request: pytest.FixtureRequest) -> None:
    case = case_for(engine, request)
    adapter, limit_s = case.adapter, timeout_of(case.slow)
    adapter.connect()
    try:
        slow = adapter.bind(case.slow, case.spec)
        began = time.monotonic()
        with pytest.raises(Exception) as raised:
            slow(case.slow_argument)
        took = time.monotonic() - began
        print(f"{engine}: {type(raised.value).__name__}: {raised.value} after {took:.3f} s")
        assert adapter.is_timeout(raised.value), f"{type(raised.value).__name__}: {raised.value}"
        assert took < limit_s + case.slack_s, f"the timeout surfaced after {took:.2f} s (limit {limit_s} s)"
        if adapter.is_disconnect(raised.value):
            adapter.connect()  # what the runner does when the driver dropped the connection
        quick = adapter.bind(case.quick, case.spec)
        began = time.monotonic()
        assert quick(case.quick_argument) >= 0
        assert time.monotonic() - began < 2.0
    finally:
        adapter.close()


def test_a_refused_connection_is_an_error_not_a_timeout() -> None:
    """urllib3's NewConnectionError derives from ConnectTimeoutError and pymongo's ServerSelectionTimeoutError
    has `timeout` set: both mean the engine is unreachable (an error and a disconnect), not a call past its limit."""
    import urllib3
    from pymongo.errors import NetworkTimeout, ServerSelectionTimeoutError

    influx = create_adapter("influxdb", "http://127.0.0.1:1?org=-&bucket=b/autogen&token=u:p")
    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    assert not influx.is_timeout(refused) and influx.is_disconnect(refused)
    assert not influx.is_timeout(urllib3.exceptions.MaxRetryError(None, "/", refused))  # type: ignore[arg-type]
    assert influx.is_timeout(urllib3.exceptions.ReadTimeoutError(None, "/", "Read timed out"))  # type: ignore[arg-type]
    mongo = create_adapter("mongodb", "mongodb://127.0.0.1:1/dbarena")
    unreachable = ServerSelectionTimeoutError("127.0.0.1:1: [Errno 111] Connection refused")
    assert not mongo.is_timeout(unreachable) and mongo.is_disconnect(unreachable)
    assert mongo.is_timeout(NetworkTimeout("timed out"))
