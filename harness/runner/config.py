"""What the parent tells each worker process, and what a worker reports back."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from harness.spec.suite import LoadProfile


class WorkerConfig(BaseModel):
    """Everything one worker process needs; sent as one JSON line on its stdin."""

    model_config = ConfigDict(frozen=True)

    engine: str
    url: str
    workload: dict[str, Any]  # the (scaled, preset-applied) workload, as JSON
    load: LoadProfile
    process_index: int
    first_user_slot: int
    users: int  # users in this process
    total_users: int
    seed: int
    insert_offset: int = 0  # where this run's inserts start past the loaded records (see KeySpace)
