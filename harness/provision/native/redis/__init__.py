"""Redis launcher: Debian redis-server."""
