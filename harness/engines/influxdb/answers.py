"""What an InfluxDB Flux query returns, row by row, for `dbarena verify` (never timed).

The Flux text comes from statements.py's `build`, the one the executor sends, run through the
same `query_stream`. Flux's bookkeeping columns (result, table, _start, _stop, _measurement,
_field) are dropped; a range row's `_time` is the entity's time field.

Time buckets: `aggregateWindow` stamps each bucket with its window's END (`_stop`, the time
source it defaults to), where the other engines name a bucket by its START. The answer names
it by the start of the `bucket_s` window that holds the instant just before that end, which
is the window's start for a full window and for the last window cut short at the range's
upper bound alike (windows are aligned to the Unix epoch, as the other engines' are). The
client parses times to microseconds, so the cut window ending 1 ns past a bound on the grid
reads as ending on it, like the full window before it: within a series (rows come in time
order) a bucket already named is followed by the next one.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

from influxdb_client import InfluxDBClient

from harness.engines.influxdb.statements import Flux, Layout, build
from harness.spec.models import AggregateOp, Operation, Workload

BOOKKEEPING = frozenset({"result", "table", "_start", "_stop", "_measurement", "_field"})


def bucket_start(end: datetime, bucket_s: float) -> datetime:
    """The start of the `bucket_s` window (aligned to the epoch) holding the instant 1 µs before `end`."""
    before = end.timestamp() - 1e-6
    return datetime.fromtimestamp(math.floor(before / bucket_s) * bucket_s, timezone.utc)


def answer(client: InfluxDBClient, bucket: str, org: str, op: Operation, workload: Workload,
           argument: Any) -> list[dict[str, Any]]:
    """The rows `op`'s Flux returns for `argument` (an aggregate: group tags, "bucket", "value")."""
    entity = workload.entity(op.entity)
    statement = build(op, workload, bucket)
    if not isinstance(statement, Flux):
        return []
    records = [record.values for record in client.query_api().query_stream(statement.text(argument), org=org)]
    if isinstance(op, AggregateOp):
        return _buckets(records, op)
    time_field = Layout.of(entity).time_field
    rows = []
    for values in records:
        row = {name: value for name, value in values.items() if name not in BOOKKEEPING and name != "_time"}
        if time_field is not None and "_time" in values:
            row[time_field] = values["_time"]
        rows.append(row)
    return rows


def _buckets(records: list[dict[str, Any]], op: AggregateOp) -> list[dict[str, Any]]:
    """One row per aggregate record: its series' tags, the bucket's start and the value."""
    rows: list[dict[str, Any]] = []
    last: dict[tuple[Any, ...], datetime] = {}
    for values in records:
        series = tuple(values.get(f) for f in op.group_by)
        start = bucket_start(values["_time"], op.bucket_s)
        if series in last and start <= last[series]:  # the cut window, read as ending on the grid
            start = last[series] + timedelta(seconds=op.bucket_s)
        last[series] = start
        rows.append({**dict(zip(op.group_by, series, strict=True)), "bucket": start, "value": values.get("_value")})
    return rows
