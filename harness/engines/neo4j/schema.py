"""The schema and bulk-load Cypher of the Neo4j adapter, built with no server (see statements.py).

A node entity's key is a uniqueness constraint on its label; its declared indexes are range
indexes (unique ones: uniqueness constraints). An edge entity's key constrains its
relationship type; its src/dst need no index (adjacency is the index). A search operation's
text fields get a full-text index. Loading is one `UNWIND $rows` statement per batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.engines.neo4j.statements import Shape, edge_create, edge_row, fulltext_index, ident, node_row, relationship_type
from harness.spec.models import SearchOp

DELETE_BATCH = 10_000  # records removed per transaction when clearing an entity (bounded memory)


def _target(shape: Shape) -> str:
    name = shape.entity.name
    return f"()-[n:{ident(relationship_type(name))}]-()" if shape.is_edge else f"(n:{ident(name)})"


def key_constraint(entity: str) -> str:
    """The name of the uniqueness constraint on an entity's key (a loading worker reads a node key from it)."""
    return f"dbarena_{entity}_key"


def constraints(shape: Shape) -> list[str]:
    """Key constraint plus declared indexes; an edge's src/dst need none (adjacency is the index)."""
    entity, target = shape.entity, _target(shape)
    name = entity.name
    statements = [f"CREATE CONSTRAINT {ident(key_constraint(name))} FOR {target} "
                  f"REQUIRE n.{ident(entity.key)} IS UNIQUE"]
    for number, index in enumerate(entity.indexes):
        if index.fields == (entity.key,) or set(index.fields) & set(shape.ref_fields):
            continue
        props = ", ".join(f"n.{ident(f)}" for f in index.fields)
        if index.unique:
            statements.append(f"CREATE CONSTRAINT {ident(f'dbarena_{name}_unique{number}')} FOR {target} "
                              f"REQUIRE ({props}) IS UNIQUE")
        else:
            statements.append(f"CREATE INDEX {ident(f'dbarena_{name}_idx{number}')} FOR {target} ON ({props})")
    return statements


def fulltext_schema(op: SearchOp) -> str:
    """The full-text index a search operation queries."""
    fields = ", ".join(f"n.{ident(f)}" for f in op.text_fields)
    return (f"CREATE FULLTEXT INDEX {ident(fulltext_index(op.entity, op.text_fields))} IF NOT EXISTS "
            f"FOR (n:{ident(op.entity)}) ON EACH [{fields}]")


def clear(shape: Shape) -> str:
    """Removes one batch of the entity's records and returns how many (run until 0)."""
    name = shape.entity.name
    match, delete = ((f"()-[n:{ident(relationship_type(name))}]->()", "DELETE n") if shape.is_edge
                     else (f"(n:{ident(name)})", "DETACH DELETE n"))
    return f"MATCH {match} WITH n LIMIT {DELETE_BATCH} {delete} RETURN count(*)"


def load(shape: Shape) -> str:
    """The bulk insert of one batch (`$rows`: `load_row` of each record), UNWIND in one transaction."""
    if shape.ends is None:
        return f"UNWIND $rows AS row CREATE (n:{ident(shape.entity.name)}) SET n = row"
    return f"UNWIND $rows AS row {edge_create(shape, shape.ends, 'row.')}"


def load_row(shape: Shape, record: Mapping[str, Any]) -> dict[str, Any]:
    return node_row(record) if shape.ends is None else edge_row(shape.ends, record)
