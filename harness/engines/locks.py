"""One run per dataset at a time: the engine-side lock a run holds from prepare to its end.

A run's prepare drops what a previous run left; a second run of the same workload on the same
engine would wipe the data the first is measuring (its reads become misses while it reports
no error). So the parent takes a lock *on the engine* before prepare and keeps it until the
run ends: one lock per entity of the dataset (the unit prepare drops), named by the entity,
so two workloads that share an entity name exclude each other too. Each adapter stores it
with its engine's own primitive (advisory lock, SET NX, a document or node with a unique
id, a marker point) on a connection of its own, renewed in a background thread; a holder
that dies stops renewing and its lock expires after `ttl_s`, so a crashed run blocks the
next one for at most that long. A holder of this host known to have ended is replaced at
once (`is_stale`): each holder keeps an flock on a file named by its run in the temporary
directory while it holds locks, so a crashed process, or a run whose release failed because
the engine was down at its end, leaves a file nobody locks.
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
import tempfile
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from harness.errors import UserError
from harness.models import Frozen

LOCK_TTL_S = 30.0  # s: a lock whose holder stopped renewing it (crashed, lost its network) expires after this


class LockHolder(Frozen):
    """Who holds a dataset lock: the run, where it runs, since when (ISO 8601, UTC)."""

    run_id: str
    workload: str
    host: str
    pid: int
    started_at: str

    @classmethod
    def here(cls, run_id: str, workload: str, started_at: datetime | None = None) -> LockHolder:
        """This process as the holder of `run_id`'s locks."""
        started = (started_at or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        return cls(run_id=run_id, workload=workload, host=socket.gethostname(), pid=os.getpid(), started_at=started)

    def describe(self) -> str:
        """'run <id> (host h, pid p, workload w) since <started>'."""
        return f"run {self.run_id} (host {self.host}, pid {self.pid}, workload {self.workload}) since {self.started_at}"


def _run_file(run_id: str) -> Path:
    return Path(tempfile.gettempdir()) / "dbarena-runs" / (re.sub(r"[^A-Za-z0-9_.-]", "_", run_id) + ".lock")


def mark_running(run_id: str) -> IO[str] | None:
    """An flock on the run's file, taken before its first lock and held until `unmark` (None where the
    directory is not ours or the run id holds one already)."""
    path = _run_file(run_id)
    try:
        path.parent.mkdir(exist_ok=True)
        mark = path.open("a")
    except OSError:
        return None
    try:
        fcntl.flock(mark, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        mark.close()  # the same run id locked twice: the first mark stands
        return None
    return mark


def unmark(mark: IO[str] | None) -> None:
    if mark is not None:
        try:
            Path(mark.name).unlink(missing_ok=True)
        finally:
            mark.close()  # closing drops the flock


def is_stale(holder: LockHolder) -> bool:
    """Whether `holder` is known to have ended: it ran on this host and its run's file is missing or unlocked.

    A holder on another host (or whose file this user cannot read) ends only by its expiry.
    """
    if holder.host != socket.gethostname():
        return False
    path = _run_file(holder.run_id)
    try:
        probe = path.open("r")
    except FileNotFoundError:
        return True
    except OSError:
        return False
    with probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # its holder still runs
        fcntl.flock(probe, fcntl.LOCK_UN)
        return True


class DatasetInUse(UserError):
    """Another run holds the lock on a dataset this run would prepare (one line: engine, dataset, holder)."""


def refusal(engine: str, workload: str, entity: str, holder: LockHolder | None, ttl_s: float) -> DatasetInUse:
    """The one line a second run gets; `holder` None when the engine could not say who holds it."""
    who = holder.describe() if holder is not None else "another run (its holder record is unreadable)"
    return DatasetInUse(f"dataset {workload} on {engine} (entity {entity}) is in use by {who}; wait for it to end "
                        f"(a crashed run's lock expires within {ttl_s:.0f} s) or use another database")


class LockLost(Exception):
    """A renewal found the lock held by another run: this run's data may have been dropped under it."""


def lost(engine: str, name: str, other: LockHolder | None) -> LockLost:
    """The line a run's record carries when its lock on entity `name` was taken by `other` (None: unknown)."""
    who = other.describe() if other is not None else "another run (its holder record is unreadable)"
    return LockLost(f"the dataset lock on {engine} (entity {name}) was lost during the run and {who} holds it now: "
                    "that run may have dropped or changed the data this one measured")


OVERLAP_TTL_S = 300.0  # s: how long a run that lost its lock stays on record as having run beside its new holder


def overlap_name(name: str, run_id: str) -> str:
    """The lock name a run that lost lock `name` takes to tell `run_id`, which holds it now, that it still ran."""
    return f"{name}.overlap.{run_id}"


def overlapped(engine: str, name: str, other: LockHolder) -> LockLost:
    """The line a run's record carries when `other`, which had lost lock `name` to it, still ran on the dataset."""
    return LockLost(f"{other.describe()} still ran on dataset entity {name} on {engine} during this run (its lock had "
                    "expired and this run took it): its calls may have changed the data and the load this run measured")


class DatasetLock:
    """Locks held on `names`; `renew(name)` runs every `ttl_s / 3` s in a daemon thread until `release()`,
    which also drops the run's `mark` (mark_running).

    `renew` and `release` come from the adapter that owns the lock's connection. `renew` raises
    LockLost when another run holds the lock now (ours expired in an outage, or its session
    ended), or when a run that lost it to us still ran (it left an `overlap_name` lock for us):
    either way the runs overlapped on the data. The first such line is kept in `lost` and
    returned by `release()`, which renews once more first, so an overlap since the last renewal
    is not missed at the run's end. Other
    failures (an engine restarting) are ignored: the next renewal tries again, and a lock that
    could not be released expires.
    """

    def __init__(self, mark: IO[str] | None, names: Sequence[str], ttl_s: float, renew: Callable[[str], None],
                 release: Callable[[str], None], close: Callable[[], None]) -> None:
        self.names, self.ttl_s = tuple(names), ttl_s
        self.lost: str | None = None
        self._mark = mark
        self._renew, self._release, self._close = renew, release, close
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="dbarena-dataset-lock", daemon=True)
        self._thread.start()

    def _keep(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            self._renew_all()

    def _renew_all(self) -> None:
        for name in self.names:
            try:
                self._renew(name)
            except LockLost as exc:
                self.lost = self.lost or str(exc)
            except Exception:
                pass  # the engine is away for now: the lock lasts ttl_s, the next round tries again

    def release(self) -> str | None:
        """Stop renewing, check the locks once more, delete them, close their connection; never raises.

        Returns the line saying a lock was lost to another run during the run (LockLost), or None.
        """
        self._stop.set()
        self._thread.join(timeout=self.ttl_s)
        self._renew_all()  # the last check: a lock taken since the last renewal counts too
        for name in self.names:
            try:
                self._release(name)
            except Exception:
                pass  # gone with the engine, or it expires
        try:
            self._close()
        except Exception:
            pass
        unmark(self._mark)
        return self.lost
