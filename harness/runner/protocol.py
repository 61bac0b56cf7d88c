"""The run's protocol: frozen message models used by both ends of every wire.

Three kinds of process take part in a run (see docs/architecture.md):

    parent   the `dbarena` command: provisions, prepares the schema, merges, writes the record
    master   `python -m harness.runner.master`: a Locust MasterRunner (ZeroMQ, heartbeats)
    worker   `python -m harness.runner.worker --master HOST:PORT` (local or on another host):
             a Locust WorkerRunner whose users drive the engine

parent <-> master: one JSON object per line on the master's stdin/stdout.

    parent -> master   RunPlan, then Measure (after finish_load) or Stop
    master -> parent   Progress, Loaded, a Tick per second, RunResults; Failed if it cannot run

master <-> worker: Locust custom messages named "dbarena:<type>", data = the model as JSON.

    master -> worker   WorkerConfig, LoadRange (per entity), Ping, Spawn, Go, Stop
    worker -> master   Hello, LoadProgress, LoadDone, Pong, Ready | Failed, Tick, WorkerResult

Every message has a literal `type`; `decode` parses it into the right model (anything else
raises `ValidationError`). Worker results carry encoded HDR histograms (µs), merged exactly
by the parent (`harness.runner.merge`); Locust's own statistics are never used.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from harness.models import Frozen
from harness.spec.models import Workload
from harness.spec.suite import LoadProfile


class RunPlan(Frozen):
    """What the parent asks of the master: one run, its workers and where to listen."""

    type: Literal["plan"] = "plan"
    engine: str
    url: str
    workload: Workload  # preset and scale applied, zero-weight operations removed
    load: LoadProfile
    seed: int
    insert_offset: int = 0  # where this run's inserts start past the loaded records (see KeySpace)
    load_data: bool = True  # workers bulk-load the dataset (the parent prepared the schema)
    local_workers: int = 1  # worker processes the master starts on its own host
    expect_workers: int = 0  # workers started elsewhere (`dbarena worker --master HOST:PORT`)
    bind_host: str = "127.0.0.1"
    bind_port: int = 0  # 0: a free port
    connect_timeout_s: float = 120.0  # how long to wait for every worker to connect
    web: str | None = None  # HOST:PORT of the live page (port 0: a free one); None: no page
    run_label: str = ""  # shown on the live page


class WorkerConfig(Frozen):
    """Everything one worker needs: its index, its users' slots, the run."""

    type: Literal["config"] = "config"
    engine: str
    url: str
    workload: Workload
    load: LoadProfile
    process_index: int  # the worker's index in the run (0-based, in connection order)
    first_user_slot: int  # this worker's users are slots first_user_slot .. + users - 1
    users: int  # users in this worker (0 is allowed: it only loads)
    total_users: int  # users of the whole run (all workers)
    seed: int
    insert_offset: int = 0


class Hello(Frozen):
    """A worker's answer to its config: who and where it is."""

    type: Literal["hello"] = "hello"
    host: str
    pid: int


class LoadRange(Frozen):
    """Load records [start, stop) of one entity through the adapter's bulk path."""

    type: Literal["load_range"] = "load_range"
    entity: str
    start: int
    stop: int


class LoadProgress(Frozen):
    """Records of the current range loaded so far: about twice a second, and once more, with the final count,
    just before a worker's Failed while loading."""

    type: Literal["load_progress"] = "load_progress"
    entity: str
    done: int


class LoadDone(Frozen):
    """The range is loaded, or (`complete` False) the worker stopped loading it on a Stop after `records`."""

    type: Literal["load_done"] = "load_done"
    entity: str
    records: int
    seconds: float
    complete: bool = True


class Ping(Frozen):
    """Clock probe: the master's wall clock when sent (Unix seconds)."""

    type: Literal["ping"] = "ping"
    master_time: float


class Pong(Frozen):
    """The worker's wall clock when it answered a Ping."""

    type: Literal["pong"] = "pong"
    master_time: float
    worker_time: float


class Spawn(Frozen):
    """Start this worker's users: connect, bind, then wait for Go."""

    type: Literal["spawn"] = "spawn"


class Measure(Frozen):
    """The parent finished the load (ANALYZE, refresh...): start the users and measure."""

    type: Literal["measure"] = "measure"


class Progress(Frozen):
    """A line for the parent's progress display."""

    type: Literal["progress"] = "progress"
    text: str
    final: bool = False  # a line to keep (not overwritten by the next)


class Loaded(Frozen):
    """Every worker loaded its ranges: records and seconds of the whole load phase. `complete` False: the load
    was cut short (a Stop, a failed or lost worker) and `records` is what the workers reported loaded by then
    (each one's last count; a Failed follows)."""

    type: Literal["loaded"] = "loaded"
    records: int
    seconds: float
    complete: bool = True


class WorkerInfo(Frozen):
    """One worker of the run, as the master saw it."""

    index: int
    host: str
    pid: int
    users: int
    first_user_slot: int
    clock_offset_s: float  # worker clock - master clock (NTP-style, from the best of several pings)
    rtt_s: float  # round trip of that ping


class RunResults(Frozen):
    """Everything the workers measured, and who took part (the master's last message)."""

    type: Literal["results"] = "results"
    results: tuple[WorkerResult, ...]
    workers: tuple[WorkerInfo, ...]
    lost: tuple[str, ...] = ()  # one line per worker lost during the run, with why and when
    interrupted: bool = False


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
    """The worker could not get ready (a user could not connect or bind) or load, or the master could not go on.

    `cause`: engine when the engine's client raised (connect, bind, a load batch), workers otherwise
    (the harness's own processes: a lost worker, a port in use); the record's invalid cause.
    """

    type: Literal["failed"] = "failed"
    error: str
    cause: Literal["engine", "workers"] = "workers"


class TickOperation(Frozen):
    """One operation in the last complete second of one worker (merged exactly by the master)."""

    count: int
    errors: int  # failed calls: errors and timeouts
    histogram: str  # encoded HDR (µs), "" when nothing succeeded


class Tick(Frozen):
    """The last complete second, for the live progress line and the live page."""

    type: Literal["tick"] = "tick"
    t: float  # the covered second's end, seconds since the start of warm-up (it covers [t - 1, t))
    ops: int
    errors: int  # failed calls: errors and timeouts
    p99_us: int | None
    operations: dict[str, TickOperation] = Field(default_factory=dict)  # worker -> master only


class StagePart(Frozen):
    """One operation within one stage of a load shape, as measured by one process."""

    count: int
    errors: int
    timeouts: int = 0
    histogram: str  # encoded HDR (µs) of the successes and timeouts


class OperationPart(Frozen):
    """One operation as measured by one process (histograms encoded, µs)."""

    count: int  # calls that succeeded (not_found among them)
    errors: int
    timeouts: int = 0  # calls given up after their timeout, or never issued before the drain ended
    not_found: int = 0  # successful calls of a must-hit operation that found nothing
    clamped: int = 0  # latencies above the histogram's ceiling, recorded as the ceiling
    must_hit: bool = False  # 0 rows from this operation is a miss (harness.runner.outcomes)
    errors_sample: tuple[str, ...] = ()
    histogram: str  # measured latency of successes and timeouts (response time in open loop, service time in closed)
    service_histogram: str = ""  # open loop only
    lag_histogram: str = ""  # open loop only: actual − intended start (µs)
    warmup_histogram: str = ""
    started: int = 0  # open-loop operations started in the window
    lagging: int = 0  # of which more than a second after their intended start
    stages: tuple[StagePart, ...] = ()  # per stage of the load shape, in order


class SecondRow(Frozen):
    """One operation in one second, as measured by one process."""

    t: int  # second since the start of warm-up
    op: str
    phase: Literal["warmup", "measure"]
    count: int
    errors: int
    timeouts: int = 0
    histogram: str  # encoded HDR (µs) of successes and timeouts, "" when there were none


class WorkerResult(Frozen):
    """Everything one process measured; its last message."""

    type: Literal["result"] = "result"
    process: int
    complete: bool
    measured_s: float
    cpu_fraction: float | None  # process CPU / wall time over the measurement window
    quota_reached: bool = False  # every user ran its share of load.operation_count before the duration
    # over the calls that started more than 1 s late: time in those calls, and time users spent outside
    # calls just before them (the harness's own work); which is larger tells engine-bound from client-bound
    late_service_s: float = 0.0
    late_gap_s: float = 0.0
    # calls that ended once the window opened (any anchor): successes under 1 s and their service time, time
    # in calls of 1 s or more or timed out once issued; measured intended starts never issued; measured errors
    # that meant the connection was gone (harness.runner.recorder)
    quick: int = 0
    quick_s: float = 0.0
    stalled_s: float = 0.0
    unissued: int = 0
    disconnects: int = 0
    operations: dict[str, OperationPart]
    timeseries: tuple[SecondRow, ...]


class Exited(Frozen):
    """The worker process ended with `code` (made by the parent, never sent)."""

    type: Literal["exit"] = "exit"
    code: int


Message = Annotated[
    RunPlan | WorkerConfig | Hello | LoadRange | LoadProgress | LoadDone | Ping | Pong | Spawn | Measure | Progress
    | Loaded | RunResults | Go | Stop | Ready | Failed | Tick | WorkerResult | Exited,
    Field(discriminator="type"),
]
_MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)
MESSAGE_TYPES: tuple[str, ...] = tuple(
    model.model_fields["type"].default
    for model in (RunPlan, WorkerConfig, Hello, LoadRange, LoadProgress, LoadDone, Ping, Pong, Spawn, Measure,
                  Progress, Loaded, RunResults, Go, Stop, Ready, Failed, Tick, WorkerResult, Exited)
)
CUSTOM_PREFIX = "dbarena:"  # Locust custom message names: "dbarena:<type>"


def encode(message: Frozen) -> str:
    """One line of JSON (no newline)."""
    return message.model_dump_json()


def decode(line: str | bytes) -> Message:
    """A line as its message model; raises pydantic.ValidationError if it is none."""
    return _MESSAGE.validate_json(line)


def from_data(data: object) -> Message:
    """A Locust custom message's data (the model as JSON-compatible Python) as its model."""
    return _MESSAGE.validate_python(data)


def to_data(message: Frozen) -> dict[str, object]:
    """A model as Locust custom-message data (msgpack-able)."""
    return message.model_dump(mode="json")
