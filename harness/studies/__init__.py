"""Studies built from runs: bench (a suite), capacity under an SLO, scale sweeps, engine selection.

`runs.py` holds what they share (planning, requests, executing one run into a saved record),
so no study imports another's orchestration; none of them prints (the CLI does).
"""
