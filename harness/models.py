"""The one frozen base model of dbarena: specs, run records, study results and worker messages.

Immutable (a record or a spec never changes after validation) and strict (an unknown key is
an error, never silently dropped), as pyperf's `Run` is validated once at construction.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Base of every dbarena model: immutable; unknown keys are errors; fields by name or alias."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
