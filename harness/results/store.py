"""Where run records live: written atomically and exclusively, read back with one-line reasons.

A crash never leaves half a file (the text goes to a temporary file, then is linked into place)
and a save never overwrites another run: the file is created exclusively, and if its run id is
taken already (two runs of one engine and workload in the same second drawing the same 4-hex
suffix) the record gets a fresh suffix, so a record's `run_id` is always its file name.

Reading never prints: an unreadable file raises `Unreadable` (path and why, one line), and the
listings (`all_runs`) skip it and hand it to the caller's `on_skip`, which the CLI prints.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness import paths
from harness.errors import UserError
from harness.redact import redact_text
from harness.results.migrate import migrate
from harness.results.record import RunRecord

__all__ = ["OnSkip", "Unreadable", "all_runs", "find_run", "ignore", "load", "read_object", "results_dir", "runs_dir", "save",
           "save_unique", "write_atomic", "write_new"]

ID_ATTEMPTS = 16  # fresh suffixes tried when a run id is taken (each collides with odds 1 in 65,536)
_SUFFIX = re.compile(r"-[0-9a-f]{4}$")


class Unreadable(UserError):
    """A stored file that is not a readable record: the path and why, in one line."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = " ".join(reason.split())  # one line, whatever the parser said
        super().__init__(f"{path}: {self.reason}")


OnSkip = Callable[[Unreadable], None]


def ignore(_problem: Unreadable) -> None:
    """An `on_skip` for callers that report nothing (the CLI passes one that prints)."""


def results_dir() -> Path:
    """The results folder (`harness.paths.results_dir`: `$DBARENA_RESULTS`, else `<project root>/results`)."""
    return paths.results_dir()


def runs_dir() -> Path:
    """`results_dir()/runs`, created; UserError (one line) when the results folder cannot hold it."""
    path = results_dir() / "runs"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"results folder {results_dir()}: cannot use it ({exc.strerror or exc}); "
                        f"set ${paths.RESULTS_ENV} (or --home) to a writable folder") from None
    return path


def _temporary(path: Path, text: str) -> str:
    """`text` in a synced temporary file beside `path` (mode 0644); returns its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(redact_text(text))  # nothing written under results/ carries a secret
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are meant to be shared
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(path: Path, text: str) -> None:
    """Write `path` whole or not at all, replacing what was there (baselines, studies)."""
    tmp = _temporary(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_new(path: Path, text: str) -> None:
    """Write `path` whole or not at all, only if nothing has that name: FileExistsError otherwise.

    The temporary file is hard-linked to `path` (atomic and exclusive). Where the file system has
    no hard links, `path` is first claimed with O_EXCL, then the temporary file replaces the claim.
    """
    tmp = _temporary(path, text)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                raise
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _fresh(run_id: str) -> str:
    """`run_id` with a new 4-hex suffix (appended if it has none)."""
    return f"{_SUFFIX.sub('', run_id)}-{secrets.token_hex(2)}"


def save_unique(record: RunRecord, directory: Path | None = None) -> tuple[Path, RunRecord]:
    """Save `record` as `<run_id>.json` without ever overwriting; returns the path and the record as saved.

    If the id is taken, the record is saved under a fresh suffix and the returned record carries it.
    """
    folder = directory or results_dir() / "runs"  # created by the write; its OSError lets the caller fall back
    for _ in range(ID_ATTEMPTS):
        path = folder / f"{record.run_id}.json"
        try:
            write_new(path, record.model_dump_json(indent=1))
            return path, record
        except FileExistsError:
            record = record.model_copy(update={"run_id": _fresh(record.run_id)})
    raise UserError(f"{folder}: {ID_ATTEMPTS} run ids in a row were taken; is something copying records there?")


def save(record: RunRecord, directory: Path | None = None) -> Path:
    """Save `record` (see `save_unique`); the file name is the run id the record was saved with."""
    return save_unique(record, directory)[0]


def _json_kind(data: object) -> str:
    kinds = {list: "a JSON array", str: "a JSON string", bool: f"JSON {str(data).lower()}", type(None): "JSON null"}
    return kinds.get(type(data), "a JSON number")


def _text(path: Path) -> str:
    if path.is_dir():
        raise Unreadable(path, "a directory, not a file")
    if not path.exists():
        raise Unreadable(path, "no such file")
    if not path.is_file():
        raise Unreadable(path, "not a regular file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise Unreadable(path, f"cannot read it ({exc.strerror or exc})") from None
    if not raw.strip():
        raise Unreadable(path, "empty file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(path, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at {exc.start})") from None


def read_object(path: Path) -> dict[str, Any]:
    """The JSON object stored at `path`, or `Unreadable` saying why not (directory, binary, truncated, ...)."""
    text = _text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        cut = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated")
        where = f"{exc.msg.removesuffix(' at')} at line {exc.lineno} column {exc.colno}"
        raise Unreadable(path, f"truncated JSON ({where})" if cut else f"not JSON ({where})") from None
    except RecursionError:
        raise Unreadable(path, "not JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer too long to convert
        raise Unreadable(path, f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise Unreadable(path, f"{_json_kind(data)}, not a JSON object (not a dbarena record)")
    return data


def _validation_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    more = f", and {exc.error_count() - 1} more problems" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more} (not a dbarena run record?)"


def load(path: Path) -> RunRecord:
    """The run record at `path`, migrated to the current schema; `Unreadable` (one line) if it is not one."""
    data = read_object(path)
    try:
        return RunRecord.model_validate(migrate(data))
    except ValidationError as exc:
        raise Unreadable(path, _validation_reason(exc)) from None
    except UserError as exc:
        raise Unreadable(path, str(exc)) from None


def all_runs(directory: Path | None = None, on_skip: OnSkip = ignore) -> list[tuple[Path, RunRecord]]:
    """Every readable run, oldest first; each unreadable file is skipped and passed to `on_skip`."""
    out = []
    for path in sorted((directory or runs_dir()).glob("*.json")):
        try:
            out.append((path, load(path)))
        except Unreadable as problem:
            on_skip(problem)
    out.sort(key=lambda item: item[1].started_at)
    return out


def find_run(run_id: str, directory: Path | None = None) -> RunRecord:
    """A run by id, id prefix, or path to a .json run record; an exact id wins over longer ids it is a prefix of.

    UserError (one line) for a path that is not a .json file, e.g. `../../etc/passwd`.
    """
    path = Path(run_id)
    if "/" in run_id or os.sep in run_id or (path.suffix == ".json" and path.exists()):
        if path.suffix != ".json":  # a missing or unreadable .json is `load`'s line
            raise UserError(f"{run_id!r} is neither a run id nor a .json run record; `dbarena runs` lists the runs")
        return load(path)
    run_id = run_id.removesuffix(".json")  # a file name given without its folder: look in the runs folder
    folder = directory or runs_dir()
    names = sorted(p.name for p in folder.iterdir() if p.suffix == ".json")
    if f"{run_id}.json" in names:
        return load(folder / f"{run_id}.json")
    matches = [name for name in names if name.startswith(run_id)]
    if not matches:
        raise UserError(f"no run {run_id!r} in {folder}; `dbarena runs` lists them")
    if len(matches) > 1:
        raise UserError(f"run id {run_id!r} is ambiguous ({len(matches)} runs); give more of it")
    return load(folder / matches[0])
