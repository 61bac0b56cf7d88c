"""Where run records live, written atomically so a crash never leaves half a file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from harness import paths
from harness.errors import UserError
from harness.results.migrate import migrate
from harness.results.record import RunRecord


def results_dir() -> Path:
    """The results folder (`harness.paths.results_dir`: `$DBARENA_RESULTS`, else `<project root>/results`)."""
    return paths.results_dir()


def runs_dir() -> Path:
    path = results_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(record: RunRecord, directory: Path | None = None) -> Path:
    path = (directory or runs_dir()) / f"{record.run_id}.json"
    write_atomic(path, record.model_dump_json(indent=1))
    return path


def load(path: Path) -> RunRecord:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a readable run record ({exc})") from exc
    try:
        return RunRecord.model_validate(migrate(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(f"{path}: {where}: {first['msg']} (not a dbarena run record?)") from None


def all_runs(directory: Path | None = None) -> list[tuple[Path, RunRecord]]:
    """Every readable run, oldest first; unreadable files are skipped, not fatal."""
    out = []
    for path in sorted((directory or runs_dir()).glob("*.json")):
        try:
            out.append((path, load(path)))
        except UserError:
            continue
    out.sort(key=lambda item: item[1].started_at)
    return out


def find_run(run_id: str, directory: Path | None = None) -> RunRecord:
    """A run by id, id prefix, or path."""
    path = Path(run_id)
    if path.suffix == ".json" and path.exists():
        return load(path)
    matches = sorted((directory or runs_dir()).glob(f"{run_id}*.json"))
    if not matches:
        raise UserError(f"no run {run_id!r} in {directory or runs_dir()}; `dbarena runs` lists them")
    if len(matches) > 1:
        raise UserError(f"run id {run_id!r} is ambiguous ({len(matches)} runs); give more of it")
    return load(matches[0])
