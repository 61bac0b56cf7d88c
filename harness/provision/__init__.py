"""Make an engine reachable: external URL, Docker Compose, or native processes."""
