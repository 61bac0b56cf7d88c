"""The adapter contract: connect, prepare, bulk-load, execute one operation, telemetry, close.

An adapter never times and never sleeps: the runner owns the one timer. Each bound
executor forces the full round trip (drains cursors, reads the reply) and returns how
many records it touched, so a contract test can check the server really did the work.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from harness.spec.models import Entity, Operation, OperationKind, Workload

Record = dict[str, Any]
# key (or None), values (record, new values or match values, or None) -> records touched
Executor = Callable[[Any, Mapping[str, Any] | None], int]


class EngineAdapter(ABC):
    """One connection to one engine; a Locust user owns one."""

    name: ClassVar[str]
    # Kinds this adapter maps to its engine; others are refused up front with `unsupported_reason`.
    supported_kinds: ClassVar[frozenset[OperationKind]]
    client_library: ClassVar[str] = ""  # distribution name, for the manifest
    supports_ttl: ClassVar[bool] = False  # can expire records (`ttl_s` on inserts and updates)
    supports_nested_set: ClassVar[bool] = False  # can update one key inside a json field ("attributes.k1")

    def __init__(self, url: str) -> None:
        self.url = url

    @abstractmethod
    def connect(self) -> None:
        """Open the connection; raise EngineUnavailable with a clear line if unreachable."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def prepare(self, workload: Workload) -> None:
        """Drop what a previous run left and create schema and indexes."""

    @abstractmethod
    def load(self, entity: Entity, records: Sequence[Record]) -> None:
        """Bulk-load one batch through the engine's native bulk path."""

    def finish_load(self, workload: Workload) -> None:
        """Make loaded data visible and stable before measuring (ANALYZE, refresh, ...)."""

    @abstractmethod
    def bind(self, op: Operation, entity: Entity) -> Executor:
        """The executor of one operation of the mix, prepared once per connection."""

    def unsupported_reason(self, op: Operation) -> str | None:
        """Why this engine cannot express `op`, or None when it can."""
        if op.kind not in self.supported_kinds:
            return f"{self.name} has no mapping for '{op.kind.value}' operations"
        if op.kind is OperationKind.NATIVE and self.name not in op.statements:
            return f"operation {op.name!r} has no native statement for {self.name}"
        if op.ttl_s is not None and not self.supports_ttl:
            return f"{self.name} adapter does not expire records (ttl_s)"
        if any("." in path for path in op.set) and not self.supports_nested_set:
            return f"{self.name} adapter does not update nested keys of json fields"
        return None

    def is_disconnect(self, error: BaseException) -> bool:
        """Whether `error` means the connection is gone (the runner then reconnects)."""
        return isinstance(error, (ConnectionError, OSError))

    def server_version(self) -> str:
        return "unknown"

    def settings(self) -> dict[str, Any]:
        """Durability and other settings that fairness depends on, for the manifest."""
        return {}

    def explain(self, op: Operation, entity: Entity, key: Any, values: Mapping[str, Any] | None) -> str | None:
        """The engine's execution plan for one operation with these arguments, if it has plans.

        Called once per operation per run (PostgreSQL: EXPLAIN (ANALYZE, BUFFERS)), so a
        plan that degrades with scale shows up next to the numbers.
        """
        return None

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        """Server-side statistics after the run (cache hits, statements, memory...)."""
        return {}
