"""Neo4j launcher and its Java runner (pom.xml, src/) shipped as package data."""
