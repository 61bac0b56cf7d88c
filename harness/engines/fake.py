"""An in-memory engine for testing the runner, metrics and comparisons without a server.

Never evidence that a real adapter works. Its URL tunes a simulated service time so
that tests can create realistic noise or a known slowdown:
`fake://?latency_us=200&jitter=0.2&error_rate=0.01&stall_every=0&stall_ms=0`.
The simulated wait uses time.sleep, which gevent turns into a cooperative yield.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

from harness.engines.base import EngineAdapter, Executor, Record
from harness.errors import EngineUnavailable
from harness.spec.models import Entity, Operation, OperationKind, Workload


class FakeServer:
    """State shared by every connection in one process (like a server would)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, Record]] = {}
        self.calls: Counter[str] = Counter()
        self.down = False


_SERVERS: dict[str, FakeServer] = {}


def server_for(url: str) -> FakeServer:
    return _SERVERS.setdefault(urlparse(url).netloc or "default", FakeServer())


class FakeAdapter(EngineAdapter):
    name = "fake"
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset(
        {OperationKind.INSERT, OperationKind.READ, OperationKind.UPDATE, OperationKind.DELETE,
         OperationKind.FIND, OperationKind.SCAN}
    )

    def __init__(self, url: str) -> None:
        super().__init__(url)
        query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        self.latency_s = float(query.get("latency_us", 0)) / 1e6
        self.jitter = float(query.get("jitter", 0))
        self.error_rate = float(query.get("error_rate", 0))
        self.stall_every = int(query.get("stall_every", 0))
        self.stall_s = float(query.get("stall_ms", 0)) / 1000
        self.server = server_for(url)
        self._rng = random.Random()
        self._ops = 0

    def connect(self) -> None:
        if self.server.down:
            raise EngineUnavailable("fake engine is down")

    def close(self) -> None:
        return None

    def prepare(self, workload: Workload) -> None:
        self.server.tables = {e.name: {} for e in workload.dataset.entities}

    def load(self, entity: Entity, records: Sequence[Record]) -> None:
        table = self.server.tables.setdefault(entity.name, {})
        for record in records:
            table[record[entity.key]] = record

    def _serve(self, kind: str) -> None:
        """Simulated service time, failures and stalls."""
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
        if delay > 0:
            time.sleep(delay)

    def bind(self, op: Operation, entity: Entity) -> Executor:
        table_name, kind = entity.name, op.kind

        def execute(key: Any, values: Mapping[str, Any] | None) -> int:
            self._serve(kind.value)
            table = self.server.tables.setdefault(table_name, {})
            if kind is OperationKind.INSERT:
                assert values is not None
                table[key] = dict(values)
                return 1
            if kind is OperationKind.READ:
                return 1 if key in table else 0
            if kind is OperationKind.UPDATE:
                if key in table and values:
                    table[key].update(values)
                    return 1
                return 0
            if kind is OperationKind.DELETE:
                return 1 if table.pop(key, None) is not None else 0
            if kind is OperationKind.FIND:
                wanted = {**op.filter, **(values or {})}
                hits = [r for r in table.values() if all(r.get(k) == v for k, v in wanted.items())]
                return len(hits[: op.limit] if op.limit else hits)
            return min(len(table), op.limit or 100)

        return execute

    def server_version(self) -> str:
        return "fake-1"

    def settings(self) -> dict[str, Any]:
        return {"latency_us": self.latency_s * 1e6, "jitter": self.jitter, "durability": "none (in memory)"}

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        return {"calls": dict(self.server.calls)}
