"""The adapter contract: connect, prepare, bulk-load, execute one operation, telemetry, close.

An adapter never times and never sleeps: the runner owns the one timer. Each bound
executor forces the full round trip (drains cursors, reads the reply) and returns how
many records it touched, so a contract test can check the server really did the work, and
the runner can tell a miss from a hit.

The connection lifecycle is written once, here: `connect()` opens the adapter's client
through `_open()` (its driver's errors that mean "cannot reach the server" become one
`EngineUnavailable` line, with the URL's secrets masked), `close()` hands it to
`_shutdown()`, and `client` is the open client or a `HarnessBug` ("connect() first").
What an operation sends lives in the engine's `statements.py`, built with no server.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import urlsplit

from harness.dataset.generate import RecordBatch
from harness.engines.calls import Executor, Record
from harness.engines.limits import LOAD_BATCH
from harness.engines.locks import (
    LOCK_TTL_S,
    OVERLAP_TTL_S,
    DatasetInUse,
    DatasetLock,
    LockHolder,
    is_stale,
    lost,
    mark_running,
    overlap_name,
    overlapped,
    refusal,
    unmark,
)
from harness.errors import EngineUnavailable, HarnessBug
from harness.redact import redact_text, redact_url
from harness.spec.models import DEFAULT_OP_TIMEOUT_S, Entity, NativeOp, Operation, OperationKind, Workload, nested_paths, ttl_of

ClientT = TypeVar("ClientT")

__all__ = ["DatasetInUse", "EngineAdapter", "Executor", "LockHolder", "Record"]


class EngineAdapter(ABC, Generic[ClientT]):
    """One connection to one engine; a Locust user owns one.

    `name` is the engine name it serves (one adapter class may serve several: mongodb and
    ferretdb, elasticsearch and opensearch), fixed at construction from the engine table.
    """

    client_library: str = ""  # distribution name of the driver, for the manifest (an instance may set its own)
    # Kinds this adapter maps to its engine; others are refused up front with `unsupported_reason`.
    supported_kinds: ClassVar[frozenset[OperationKind]] = frozenset()
    supports_ttl: ClassVar[bool] = False  # can expire records (`ttl_s` on inserts and updates)
    supports_nested_set: ClassVar[bool] = False  # can update one key inside a json field ("attributes.k1")
    native_transactions: ClassVar[bool] = False  # runs a native operation's list of statements as one transaction
    # Errors of `_open` that mean the server cannot be reached (-> EngineUnavailable).
    unreachable_errors: ClassVar[tuple[type[BaseException], ...]] = (OSError,)
    # Errors of an executor that mean the connection is gone (the runner reconnects and rebinds).
    disconnect_errors: ClassVar[tuple[type[BaseException], ...]] = (ConnectionError, OSError)
    # Errors of an executor that mean the call outlasted its timeout (`timeout_of(op, op_timeout_s)`); the
    # runner counts them as timeouts. A driver may also drop the connection then (is_disconnect says so).
    timeout_errors: ClassVar[tuple[type[BaseException], ...]] = (TimeoutError,)
    # Whether, after a timeout that dropped the connection, the next call connects again by itself, inside
    # its own timer (redis-py). Then the runner does not reconnect between them: a reconnect the engine
    # holds up (a paused or stalled server) would be time in no call, and the stall's timeouts undercounted.
    reconnects_in_call: ClassVar[bool] = False
    # Whether loaded data is still there for the next run (a capacity step, a select round skip the load);
    # False for the fake engine, whose data lives in each worker process and goes with it.
    data_outlives_run: ClassVar[bool] = True
    # Whether `lock_dataset` takes an engine-side lock (the `_lock_*` hooks are implemented).
    locks_datasets: ClassVar[bool] = False
    # URL schemes the driver accepts (checked at construction, so a wrong URL is one line, not a driver
    # error); () accepts any. `url_example` is shown with the refusal.
    url_schemes: ClassVar[tuple[str, ...]] = ()
    url_example: ClassVar[str] = ""
    # Records per `load` call the load workers send (one COPY, insert_many, _bulk, pipeline, UNWIND or write);
    # an engine whose bulk call pays a fixed cost per call (a commit) takes larger batches.
    load_batch: ClassVar[int] = LOAD_BATCH

    def __init__(self, name: str, url: str, op_timeout_s: float = DEFAULT_OP_TIMEOUT_S) -> None:
        self.name = name
        self.url = url
        # the longest one call may take (s): each adapter enforces it through its driver's own mechanism
        # (statement_timeout, socket timeouts, maxTimeMS, request timeouts); the runner guards it last
        self.op_timeout_s = op_timeout_s
        self._client: ClientT | None = None
        self._dataset_lock: DatasetLock | None = None
        self._check_url()

    def _check_url(self) -> None:
        """EngineUnavailable (one line, no secret) unless `url` parses and has one of `url_schemes`."""
        if not self.url_schemes:
            return
        shown = redact_url(self.url)
        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018 - parsing the port raises for one out of range or not a number
        except ValueError:  # the parser's own message quotes the part it failed on: maybe a piece of the password
            raise EngineUnavailable(f"{self.name} URL {shown!r} cannot be parsed: {_unparsable(self.url)}; "
                                    f"give one like {self.url_example}") from None
        if any(ch.isspace() or ord(ch) < 32 for ch in self.url):  # RFC 3986: no spaces or controls in a URL
            raise EngineUnavailable(f"{self.name} URL {shown!r} is malformed: it holds a space or control character "
                                    f"(percent-encode a space as %20); give one like {self.url_example}")
        if parts.scheme.lower() not in self.url_schemes:
            schemes = " or ".join(f"{scheme}://" for scheme in self.url_schemes)
            raise EngineUnavailable(f"{self.name} URL {shown!r} is not one {self.name} reads: give one starting with "
                                    f"{schemes}, e.g. {self.url_example}")

    # ---- lifecycle (written once) ---------------------------------------------------

    @classmethod
    def patch_process(cls) -> None:
        """Called once in each worker process (gevent already patched) before any connection.

        The PostgreSQL adapter installs psycopg's gevent wait function here.
        """

    def connect(self) -> None:
        """Open the connection; raises EngineUnavailable (one line, no secret) if unreachable."""
        self.close()
        try:
            self._client = self._open()
        except self.unreachable_errors as exc:
            detail = redact_text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__).rstrip(".")
            if self.refused(exc):
                raise EngineUnavailable(f"{self.name} at {redact_url(self.url)} answered but refused the connection: "
                                        f"{detail}; check the URL's user, password and database (--url or "
                                        f"DBARENA_{self.name.upper()}_URL)") from exc
            raise EngineUnavailable(f"{self.name} at {redact_url(self.url)} is not reachable: {detail}; check that "
                                    f"it runs and answers there (--url or DBARENA_{self.name.upper()}_URL)") from exc

    def refused(self, error: BaseException) -> bool:
        """Whether a failed connect means the server answered and refused (credentials, an unknown database),
        not that nothing answered; the message then points at the URL's user, password and database."""
        return False

    def close(self) -> None:
        """Close the connection if open; never raises."""
        client, self._client = self._client, None
        if client is not None:
            try:
                self._shutdown(client)
            except Exception:
                pass

    @property
    def client(self) -> ClientT:
        """The open client; a HarnessBug when used before `connect()`."""
        if self._client is None:
            raise HarnessBug(f"{self.name} adapter used before connect() (or after close())")
        return self._client

    @abstractmethod
    def _open(self) -> ClientT:
        """Open one connection (driver client, session) and check the server answers."""

    def _shutdown(self, client: ClientT) -> None:
        client.close()  # type: ignore[attr-defined]

    def is_disconnect(self, error: BaseException) -> bool:
        """Whether `error` means the connection is gone (the runner then reconnects and rebinds)."""
        return isinstance(error, self.disconnect_errors)

    def is_timeout(self, error: BaseException) -> bool:
        """Whether `error` means the call outlasted its operation timeout (the driver's own mechanism fired).

        The connection is usable afterwards, or `is_disconnect(error)` is true and the runner reconnects.
        """
        return isinstance(error, self.timeout_errors)

    @property
    def queries_see_writes_at_once(self) -> bool:
        """Whether a query (find, range, aggregate, search) sees an acknowledged write at once.

        False for near-real-time engines (Elasticsearch/OpenSearch with refresh=false: a write is
        searchable after the next refresh, 1 s by default); a query matching a just-inserted record may
        then rightly find nothing, so it is not must-hit (harness.runner.outcomes). Reads by key are
        real-time everywhere.
        """
        return True

    # ---- one run per dataset --------------------------------------------------------

    def lock_dataset(self, workload: Workload, holder: LockHolder, ttl_s: float = LOCK_TTL_S) -> None:
        """Lock `workload`'s entities on the engine for `holder` until `unlock_dataset()` (harness.engines.locks).

        Taken on a connection of its own (this adapter may reconnect meanwhile), renewed every
        `ttl_s / 3` s; a holder that dies leaves a lock that expires after `ttl_s`. Raises
        DatasetInUse (one line: engine, dataset, holder) when another run holds one of them,
        EngineUnavailable when the engine cannot be reached. A no-op for engines without locks.
        """
        if not self.locks_datasets or self._dataset_lock is not None:
            return
        keeper = type(self)(self.name, self.url, self.op_timeout_s)
        keeper.connect()
        mark = mark_running(holder.run_id)  # before the first lock: this host sees the run alive from then on
        taken: list[str] = []
        try:
            for entity in sorted({e.name for e in workload.dataset.entities}):
                other = keeper._lock_acquire(entity, holder, ttl_s)
                if isinstance(other, LockHolder) and is_stale(other):  # its holder is known dead: replace it now
                    keeper._lock_release(entity, other)
                    other = keeper._lock_acquire(entity, holder, ttl_s)
                if other is not None:
                    raise refusal(self.name, workload.name, entity, other if isinstance(other, LockHolder) else None,
                                  ttl_s)
                taken.append(entity)
        except BaseException:
            for entity in taken:
                try:
                    keeper._lock_release(entity, holder)
                except Exception:
                    pass
            keeper.close()
            unmark(mark)
            raise
        self._dataset_lock = DatasetLock(mark, taken, ttl_s, lambda name: keeper._renew_lock(name, holder, ttl_s),
                                         lambda name: keeper._lock_release(name, holder), keeper.close)

    def unlock_dataset(self) -> str | None:
        """Release the dataset lock this adapter took, if any; never raises (an unreleased lock expires).

        Returns the line saying another run took one of the locks during the run (the run is then
        invalid: its data may have been dropped under it), else None.
        """
        lock, self._dataset_lock = self._dataset_lock, None
        return lock.release() if lock is not None else None

    def _renew_lock(self, name: str, holder: LockHolder, ttl_s: float) -> None:
        """One renewal of lock `name` (the keeper's, in DatasetLock's thread); LockLost when runs overlapped.

        Another run holds it now: that run is told this one still runs (an `overlap_name` lock taken
        for it), and LockLost says who holds it. Still ours: a run that had lost it to us and still
        ran may have left such a lock for us; LockLost names it.
        """
        other = self._lock_renew(name, holder, ttl_s)
        if isinstance(other, LockHolder):
            self._lock_acquire(overlap_name(name, other.run_id), holder, OVERLAP_TTL_S)
        if other is not None:
            raise lost(self.name, name, other if isinstance(other, LockHolder) else None)
        probe = overlap_name(name, holder.run_id)
        witness = self._lock_acquire(probe, holder, OVERLAP_TTL_S)
        if witness is None:
            self._lock_release(probe, holder)  # nobody left one: the probe took the name, give it back
        elif isinstance(witness, LockHolder) and witness.run_id != holder.run_id:
            raise overlapped(self.name, name, witness)

    def _lock_acquire(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """Take lock `name` for `holder` (replacing an expired one): None when taken, else its live holder
        (True when the engine cannot say who)."""
        raise HarnessBug(f"{self.name} adapter sets locks_datasets but has no _lock_acquire")

    def _lock_renew(self, name: str, holder: LockHolder, ttl_s: float) -> LockHolder | bool | None:
        """Push lock `name`'s expiry `ttl_s` s ahead (taking it again if it vanished, e.g. an engine restart).

        None when `holder` still holds it; else the run that holds it now, as `_lock_acquire` (the lock
        was lost: ours expired during an outage, or its session ended, and another run took it).
        """
        return None

    def _lock_release(self, name: str, holder: LockHolder) -> None:
        """Delete lock `name` if `holder` holds it (this adapter's own, or a dead holder's being replaced)."""

    # ---- schema and data ------------------------------------------------------------

    @abstractmethod
    def prepare(self, workload: Workload) -> None:
        """Drop what a previous run left and create schema and indexes."""

    @abstractmethod
    def load(self, workload: Workload, entity: Entity, records: Sequence[Record]) -> None:
        """Bulk-load one batch of `workload`'s `entity` through the engine's native bulk path.

        Called by the load workers, whose adapters never ran `prepare`: whatever the mapping
        needs (an edge's end-node key, the layout of indexes) comes from `workload`.
        """

    def load_columns(self, workload: Workload, entity: Entity, batch: RecordBatch) -> None:
        """`load` of a batch generated as columns (the load workers' call): engines whose bulk path takes
        rows or columns as they are override it; by default, the batch's records go to `load`."""
        self.load(workload, entity, batch.records())

    def finish_load(self, workload: Workload) -> None:
        """Make loaded data visible and stable before measuring (ANALYZE, refresh, ...)."""

    def before_measure(self, workload: Workload) -> None:
        """Called in the parent just before the measurement, on every run: after `finish_load`, or at
        once when the load is skipped. E.g. a snapshot of the server's cumulative counters for telemetry."""

    # ---- operations -----------------------------------------------------------------

    @abstractmethod
    def bind(self, op: Operation, workload: Workload) -> Executor:
        """The executor of one operation of `workload`'s mix, prepared once per connection.

        Called again after a reconnect, so everything prepared on the server (statements,
        scripts, sessions) is prepared again. Raises UnsupportedOperation when the engine
        cannot express `op` (see `unsupported_reason`).
        """

    def unsupported_reason(self, op: Operation, workload: Workload) -> str | None:
        """Why this engine cannot express `op` of `workload` (its entities, declared indexes), or None.

        Asked before anything is loaded, so a refusal never comes after the run started.
        """
        if op.kind not in self.supported_kinds:
            return f"{self.name} has no mapping for '{op.kind.value}' operations"
        if isinstance(op, NativeOp) and self.name not in op.statements:
            return f"operation {op.name!r} has no native statement for {self.name}"
        if isinstance(op, NativeOp) and op.is_transaction(self.name) and not self.native_transactions:
            return (f"operation {op.name!r} lists several statements for {self.name} (one transaction); the "
                    f"{self.name} adapter runs one native statement per call, not a transaction")
        if ttl_of(op) is not None and not self.supports_ttl:
            return f"{self.name} adapter does not expire records (ttl_s)"
        if nested_paths(op) and not self.supports_nested_set:
            return f"{self.name} adapter does not update nested keys of json fields"
        return None

    def explain(self, op: Operation, workload: Workload, argument: Any) -> str | None:
        """The engine's execution plan for one operation called with `argument`, if it has plans.

        Called once per operation per run (PostgreSQL: EXPLAIN (ANALYZE, BUFFERS)), so a
        plan that degrades with scale shows up next to the numbers. Writes must leave no trace.
        """
        return None

    # ---- manifest and telemetry -----------------------------------------------------

    def server_version(self) -> str:
        return "unknown"

    def settings(self) -> dict[str, Any]:
        """Durability and other settings that fairness depends on, for the manifest."""
        return {}

    def telemetry(self, workload: Workload) -> dict[str, Any]:
        """Server-side statistics after the run (cache hits, statements, memory...)."""
        return {}

    # ---- answers (dbarena verify) -----------------------------------------------------

    def answer(self, op: Operation, workload: Workload, argument: Any) -> list[dict[str, Any]] | None:
        """What one call of a reading operation returns, for `dbarena verify`; None: this adapter gives none.

        Sent from the same statement the executor sends (statements.py), on this connection, and
        never timed. One dict per row returned, in the engine's order, values as the driver gives
        them (verify normalises bytes, dates, numbers):
            read, scan, find, range, search   field -> value, the key under its field name
            aggregate                         the `group_by` fields, "bucket" (the bucket's start:
                                              a datetime or a number) and "value"
            traverse k-hop, mutual            {"node": key of a node reached}
            traverse shortest-path            [{"hops": path length}] (0: no path)
        Writes have no answer here: verify counts what their executor touched.
        """
        return None


def _unparsable(url: str) -> str:
    """Why urlsplit refused `url`, said without quoting any of it (the part it failed on may be a password's).

    A password holding `/`, `?`, `#` or `@` ends the URL's authority early (RFC 3986 §3.2), so what
    follows the user name's `:` is read as a port; percent-encoding those characters fixes it.
    """
    authority = url.partition("//")[2]
    if "@" in authority and authority.rfind("@") > min((i for i in map(authority.find, "/?#") if i >= 0),
                                                         default=len(authority)):
        return ("its password (or user) holds '/', '?', '#' or '@', which end the host part early: "
                "percent-encode them as %2F, %3F, %23 and %40")
    return ("the part after the host's ':' is not a port number from 0 to 65535 (a password with '/', '?', '#' "
            "or '@' must be percent-encoded as %2F, %3F, %23 and %40)")

