"""The worker <-> parent protocol: frozen message models used by both ends of the wire.

One JSON object per line (pyperf's and Locust's rule: one envelope, typed messages).

    parent -> worker (stdin)    WorkerConfig, then Go(start_epoch) or Stop
    worker -> parent (stdout)   Ready | Failed(error), a Tick per second, finally WorkerResult
    parent-side only            Exited(code): the worker process ended

Every message has a literal `type`; `decode_worker` / `decode_parent` parse a line into the
right model (a line that is not a message raises `ValidationError`). The per-process result
carries encoded HDR histograms (µs), merged exactly by the parent (`harness.runner.merge`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from harness.models import Frozen
from harness.spec.models import Workload
from harness.spec.suite import LoadProfile


class WorkerConfig(Frozen):
    """Everything one worker process needs; the first line on its stdin."""

    type: Literal["config"] = "config"
    engine: str
    url: str
    workload: Workload  # preset and scale applied, zero-weight operations removed
    load: LoadProfile
    process_index: int
    first_user_slot: int  # this process's users are slots first_user_slot .. + users - 1
    users: int  # users in this process
    total_users: int  # users of the whole run (all processes)
    seed: int
    insert_offset: int = 0  # where this run's inserts start past the loaded records (see KeySpace)


class Go(Frozen):
    """Start: the warm-up begins at `start_epoch` (Unix seconds, the parent's clock)."""

    type: Literal["go"] = "go"
    start_epoch: float


class Stop(Frozen):
    """Stop now and send what was measured (Ctrl-C in the parent)."""

    type: Literal["stop"] = "stop"


class Ready(Frozen):
    """Every user of the worker is connected and bound."""

    type: Literal["ready"] = "ready"


class Failed(Frozen):
    """The worker could not get ready (a user could not connect or bind)."""

    type: Literal["failed"] = "failed"
    error: str


class Tick(Frozen):
    """The last complete second, for the live progress line."""

    type: Literal["tick"] = "tick"
    t: float  # seconds since the start of warm-up
    ops: int
    errors: int
    p99_us: int | None


class OperationPart(Frozen):
    """One operation as measured by one process (histograms encoded, µs)."""

    count: int
    errors: int
    errors_sample: tuple[str, ...] = ()
    histogram: str  # measured latency (response time in open loop, service time in closed)
    service_histogram: str = ""  # open loop only
    warmup_histogram: str = ""
    started: int = 0  # open-loop operations started in the window
    lagging: int = 0  # of which more than a second after their intended start


class SecondRow(Frozen):
    """One operation in one second, as measured by one process."""

    t: int  # second since the start of warm-up
    op: str
    phase: Literal["warmup", "measure"]
    count: int
    errors: int
    histogram: str  # encoded HDR (µs), "" when no operation succeeded


class WorkerResult(Frozen):
    """Everything one process measured; its last message."""

    type: Literal["result"] = "result"
    process: int
    complete: bool
    measured_s: float
    cpu_fraction: float | None  # process CPU / wall time over the measurement window
    operations: dict[str, OperationPart]
    timeseries: tuple[SecondRow, ...]


class Exited(Frozen):
    """The worker process ended with `code` (made by the parent, never sent)."""

    type: Literal["exit"] = "exit"
    code: int


WorkerMessage = Annotated[Ready | Failed | Tick | WorkerResult | Exited, Field(discriminator="type")]
ParentMessage = Annotated[Go | Stop, Field(discriminator="type")]
_WORKER: TypeAdapter[WorkerMessage] = TypeAdapter(WorkerMessage)
_PARENT: TypeAdapter[ParentMessage] = TypeAdapter(ParentMessage)


def encode(message: Frozen) -> str:
    """One line of JSON (no newline)."""
    return message.model_dump_json()


def decode_worker(line: str) -> WorkerMessage:
    """A worker's line as its message model; raises pydantic.ValidationError if it is none."""
    return _WORKER.validate_json(line)


def decode_parent(line: str) -> ParentMessage:
    """A parent's command line (after the config) as its model."""
    return _PARENT.validate_json(line)
