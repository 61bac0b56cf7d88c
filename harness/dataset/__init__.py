"""Deterministic data generation from a workload's dataset spec."""
