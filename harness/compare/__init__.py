"""Compare runs: two runs, a run and its baseline, with statistics and a minimum effect."""
