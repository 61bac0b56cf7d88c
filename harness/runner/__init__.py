"""Drive an engine with Locust: pacing, the one timer, users, phases and processes."""
