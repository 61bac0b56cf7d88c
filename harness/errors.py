"""The one exception tree of dbarena.

    DbarenaError            base; carries an optional cause
    ├── UserError           the user can fix it: printed as one line, exit 2, no traceback
    │   ├── SpecError       a workload or suite file is wrong (path + field + what to do)
    │   ├── EngineUnavailable   an engine could not be reached, started or built
    │   ├── InvalidRunRefused   a stored run is invalid, so it is not promoted or compared (exit 5)
    │   └── UnsupportedOperation  an engine cannot express an operation kind
    └── HarnessBug          a defect in dbarena itself: shown with its traceback

Every user error reaches the terminal as `error_line(message)`: one line, `dbarena: ` first, then
where (the file and field, or the flag), what is wrong and what to do, e.g.
`dbarena: --rate: 'fast' is not a number; give a rate in ops/s` or
`dbarena: workloads/x.yaml: operations[0].weight: ...`. A SpecError gives one such line per problem.
"""

from __future__ import annotations

ERROR_PREFIX = "dbarena: "


def error_line(message: str) -> str:
    """`message` as the one line a user error prints on stderr: `dbarena: ` and the message, its line
    breaks folded into "; " (a message never spills onto a second line)."""
    return ERROR_PREFIX + "; ".join(part.strip() for part in message.splitlines() if part.strip())


class DbarenaError(Exception):
    """Base of every error dbarena raises on purpose."""

    def __init__(self, message: str, *, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        if cause is not None:
            self.__cause__ = cause

    def __str__(self) -> str:
        return self.message


class UserError(DbarenaError):
    """Something the user can fix; the CLI prints it as one line."""


class SpecError(UserError):
    """A workload or suite file is invalid; may carry several problems, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


class EngineUnavailable(UserError):
    """An engine could not be reached, started or built."""


class InvalidRunRefused(UserError):
    """A run is invalid (its `invalid_reasons` say why): not promoted, compared or checked without --force."""


class UnsupportedOperation(UserError):
    """An engine cannot express an operation kind; comparisons show n/a."""


class HarnessBug(DbarenaError):
    """A defect in dbarena, not in the user's input."""
