"""Neo4j: node entities as labels, edge entities as relationships, every operation one Cypher statement."""
