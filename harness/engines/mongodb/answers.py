"""What a MongoDB statement returns, document by document, for `dbarena verify` (never timed).

The filter, projection, sort and limit come from statements.py's `statement`, the one the
executor sends; the documents come back with `_id` renamed to the entity's key field.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from harness.engines.mongodb import statements
from harness.engines.mongodb.statements import ID, Document
from harness.spec.models import Operation, Workload


def answer(db: Database[Document], engine: str, op: Operation, workload: Workload,
           argument: Any) -> list[dict[str, Any]]:
    """The documents `op`'s statement returns for `argument`, the key under its field name."""
    st = statements.statement(op, workload, engine)
    collection, key_field = db[op.entity], workload.entity(op.entity).key
    found: list[Document]
    if isinstance(st, statements.Read):
        one = collection.find_one(st.filter(argument), st.projection)
        found = [one] if one is not None else []
    elif isinstance(st, statements.Scan):  # the argument is calls.Scan(key, length), or the key alone
        key, length = getattr(argument, "key", argument), getattr(argument, "length", getattr(st, "limit", 0))
        found = collection.find(st.filter(key), st.projection, sort=st.sort, limit=length).to_list()
    elif isinstance(st, statements.Find):
        found = collection.find(st.filter(argument), st.projection, sort=st.sort, limit=st.limit).to_list()
    elif isinstance(st, statements.Range):
        find = st.find
        found = collection.find(st.filter(argument), find.projection, sort=find.sort, limit=find.limit).to_list()
    else:
        return []
    return [{(key_field if name == ID else name): value for name, value in doc.items()} for doc in found]
