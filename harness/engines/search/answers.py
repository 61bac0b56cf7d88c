"""What an Elasticsearch / OpenSearch request returns, hit by hit, for `dbarena verify` (never timed).

The request bodies come from statements.py's `build`, the ones the executor sends. A hit is
its `_source` with the key field from `_id` when the source leaves it out; an aggregate row is
one composite bucket of every page: its `group_by` terms, "bucket" (a date histogram's key,
epoch milliseconds, as a UTC datetime) and "value".
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from harness.engines.search.client import SearchClient
from harness.engines.search.statements import AGG_PAGE, Aggregate, Get, Search, build, next_page
from harness.spec.models import AggregateOp, Operation, TimestampField, Workload


def answer(client: SearchClient, op: Operation, workload: Workload, argument: Any) -> list[dict[str, Any]]:
    """The documents (or aggregate rows) `op`'s request returns for `argument`."""
    entity = workload.entity(op.entity)
    statement = build(op, entity)
    if isinstance(statement, Get):
        found = client.get(statement.index, statement.doc_id(argument), statement.source)
        if found is None or not found.get("found"):
            return []
        return [{entity.key: found["_id"], **found.get("_source", {})}]
    if isinstance(statement, Search):
        hits = client.search(statement.index, statement.body(argument))["hits"]["hits"]
        return [{entity.key: hit["_id"], **hit.get("_source", {})} for hit in hits]
    if isinstance(statement, Aggregate) and isinstance(op, AggregateOp):
        dated = isinstance(entity.fields.get(op.range_field), TimestampField)
        return _aggregate_rows(client, statement, argument, op.group_by, dated)
    return []


def _aggregate_rows(client: SearchClient, statement: Aggregate, argument: Any, group_by: tuple[str, ...],
                    dated: bool) -> list[dict[str, Any]]:
    request, rows = statement.body(argument), []
    while True:
        page = client.search(statement.index, request)["aggregations"]["rows"]
        for bucket in page["buckets"]:
            start = bucket["key"]["@bucket"]
            rows.append({**{f: bucket["key"][f] for f in group_by},
                         "bucket": datetime.fromtimestamp(start / 1000, timezone.utc) if dated else start,
                         "value": bucket["value"]["value"]})
        if len(page["buckets"]) < AGG_PAGE or "after_key" not in page:
            return rows
        request = next_page(request, page["after_key"])
