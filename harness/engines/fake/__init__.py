"""The in-memory fake engine (tests of the runner and everything above it; never evidence for an adapter)."""
