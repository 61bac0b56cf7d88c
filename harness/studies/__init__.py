"""Capacity under an SLO, and ranking engines for a use case."""
