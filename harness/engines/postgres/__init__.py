"""The PostgreSQL adapter (psycopg 3): SQL built apart in statements.py, libpq fast path in wire.py."""
