"""The Elasticsearch/OpenSearch adapter: query DSL built apart in statements.py, client shim in client.py."""
