"""An in-memory engine for testing the runner, metrics and comparisons without a server.

Never evidence that a real adapter works. Its URL tunes a simulated service time so
that tests can create realistic noise or a known slowdown:
`fake://?latency_us=200&jitter=0.2&error_rate=0.01&stall_every=0&stall_ms=0`;
`telemetry_ms=N` makes collecting telemetry take N ms (announced on stderr), so tests can
interrupt a run in that phase; `load_ms=N` makes each bulk-load call take N ms (a load long
enough to report progress); `load_fail_after=N` makes a bulk-load call fail (ConnectionError) once its
process has loaded N records (a load cut short by the engine); `refuse_bind=1` makes binding an operation fail
(EngineUnavailable), as a worker's users meet an engine that went away after the load. The simulated wait uses
time.sleep, which gevent turns into a cooperative yield.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

from harness.engines.base import EngineAdapter, LockHolder
from harness.engines.calls import Change, Executor, Match, Record, Scan
from harness.errors import EngineUnavailable
from harness.spec.models import DEFAULT_OP_TIMEOUT_S, Entity, FindOp, Operation, OperationKind, Workload, timeout_of


class FakeServer:
    """State shared by every connection in one process (like a server would)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, Record]] = {}
        self.calls: Counter[str] = Counter()
        self.down = False
        self.locks: dict[str, tuple[str, float]] = {}  # dataset locks: entity -> (holder json, expiry, time.time())


_SERVERS: dict[str, FakeServer] = {}


def server_for(url: str) -> FakeServer:
    return _SERVERS.setdefault(urlparse(url).netloc or "default", FakeServer())


Table = dict[Any, Record]


class FakeAdapter(EngineAdapter[FakeServer]):
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset(
        {OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.DELETE,
         OperationKind.FIND, OperationKind.SCAN}
    )

    unreachable_errors: ClassVar[tuple[type[BaseException], ...]] = (ConnectionError,)
    url_schemes: ClassVar[tuple[str, ...]] = ("fake",)
    url_example: ClassVar[str] = "fake://name?latency_us=200"
    data_outlives_run: ClassVar[bool] = False  # records live in each worker process's FakeServer
    locks_datasets: ClassVar[bool] = True  # in the process's FakeServer (runs in one process exclude each other)

    def __init__(self, name: str, url: str, op_timeout_s: float = DEFAULT_OP_TIMEOUT_S) -> None:
        super().__init__(name, url, op_timeout_s)
        query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        try:
            self.latency_s = float(query.get("latency_us", 0)) / 1e6
            self.jitter = float(query.get("jitter", 0))
            self.error_rate = float(query.get("error_rate", 0))
            self.stall_every = int(query.get("stall_every", 0))
            self.stall_s = float(query.get("stall_ms", 0)) / 1000
            self.telemetry_s = float(query.get("telemetry_ms", 0)) / 1000
            self.load_s = float(query.get("load_ms", 0)) / 1000
            self.load_fail_after = int(query["load_fail_after"]) if "load_fail_after" in query else None
            self.refuse_bind = bool(int(query.get("refuse_bind", 0)))
        except ValueError as exc:
            raise EngineUnavailable(f"fake URL {url!r}: {exc}; its options are numbers, e.g. {self.url_example}") from None
        self.server = server_for(url)
        self._rng = random.Random()
        self._ops = 0

    def _open(self) -> FakeServer:
        if self.server.down:
            raise EngineUnavailable("fake engine is down")
        return self.server

    def _shutdown(self, client: FakeServer) -> None:
        return None

    def prepare(self, workload: Workload) -> None:
        self.server.tables = {e.name: {} for e in workload.dataset.entities}

    def load(self, workload: Workload, entity: Entity, records: Sequence[Record]) -> None:
        table = self.server.tables.setdefault(entity.name, {})
        if self.load_fail_after is not None and sum(map(len, self.server.tables.values())) >= self.load_fail_after:
            raise ConnectionError(f"fake engine failed after loading {self.load_fail_after:,} records")
        for record in records:
            table[record[entity.key]] = record
        if self.load_s:
            time.sleep(self.load_s)

    def _serve(self, kind: str, timeout_s: float = float("inf")) -> None:
        """Simulated service time, failures and stalls; a call longer than `timeout_s` waits that long, then
        raises TimeoutError (as a driver's timeout would)."""
        if self.server.down:
            raise ConnectionError("fake engine is down")
        self.server.calls[kind] += 1
        self._ops += 1
        if self.error_rate and self._rng.random() < self.error_rate:
            raise RuntimeError("simulated engine error")
        delay = self.latency_s
        if self.jitter:
            delay *= max(0.0, self._rng.gauss(1.0, self.jitter))
        if self.stall_every and self._ops % self.stall_every == 0:
            delay += self.stall_s
        if delay > timeout_s:
            time.sleep(timeout_s)
            raise TimeoutError(f"simulated: {kind} outlasted its {timeout_s:g} s timeout")
        if delay > 0:
            time.sleep(delay)

    def bind(self, op: Operation, workload: Workload) -> Executor:
        if self.refuse_bind:
            raise EngineUnavailable("fake engine refused the connection's statements (refuse_bind)")
        name = op.entity
        serve, timeout_s = self._serve, timeout_of(op, self.op_timeout_s)
        act = self._action(op, workload.entity(op.entity).key)

        def execute(argument: Any) -> int:
            serve(op.kind.value, timeout_s)
            return act(self.server.tables.setdefault(name, {}), argument)

        return execute

    @staticmethod
    def _action(op: Operation, key_field: str) -> Callable[[Table, Any], int]:
        """What one call does to the in-memory table, by kind; returns records touched."""
        if op.kind is OperationKind.INSERT:
            return lambda table, record: _insert(table, record, key_field)
        if op.kind is OperationKind.READ:
            return lambda table, key: 1 if key in table else 0
        if op.kind is OperationKind.UPDATE:
            return _update
        if op.kind is OperationKind.DELETE:
            return lambda table, key: 1 if table.pop(key, None) is not None else 0
        if isinstance(op, FindOp):
            fixed, limit = dict(op.filter), op.limit
            return lambda table, match: _find(table, {**fixed, **match}, limit)
        return _scan

    def _lock_acquire(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        held = self.server.locks.get(name)
        if held is not None and held[1] > time.time() and held[0] != holder.model_dump_json():
            return LockHolder.model_validate_json(held[0])
        self.server.locks[name] = (holder.model_dump_json(), time.time() + ttl_s)
        return None

    def _lock_renew(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        return self._lock_acquire(name, holder, ttl_s)

    def _lock_release(self, name: str, holder: LockHolder) -> None:
        if self.server.locks.get(name, ("", 0.0))[0] == holder.model_dump_json():
            del self.server.locks[name]

    def server_version(self) -> str:
        return "fake-1"

    def settings(self) -> dict[str, Any]:
        return {"latency_us": self.latency_s * 1e6, "jitter": self.jitter, "durability": "none (in memory)"}

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        if self.telemetry_s:
            print("fake: collecting telemetry", file=sys.stderr, flush=True)
            time.sleep(self.telemetry_s)
        return {"calls": dict(self.server.calls)}


def _insert(table: Table, record: Record, key_field: str) -> int:
    table[record[key_field]] = dict(record)
    return 1


def _scan(table: Table, call: Scan) -> int:
    """As many records as the call asks for, at most the table's (the fake engine keeps no key order)."""
    return min(len(table), call.length)


def _update(table: Table, change: Change) -> int:
    record = table.get(change.key)
    if record is None:
        return 0
    record.update(change.values)
    return 1


def _find(table: Table, wanted: Match, limit: int | None) -> int:
    hits = [r for r in table.values() if all(r.get(k) == v for k, v in wanted.items())]
    return len(hits[:limit] if limit else hits)
