"""Where built launchers, downloaded artifacts and running-engine state live.

Everything is outside the repository (a fresh clone must not carry binaries) and keyed by
version so a second `engines up` reuses what the first one built.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_root() -> Path:
    """`$DBARENA_CACHE`, else `~/.cache/dbarena`."""
    configured = os.environ.get("DBARENA_CACHE")
    root = Path(configured) if configured else Path.home() / ".cache" / "dbarena"
    root.mkdir(parents=True, exist_ok=True)
    return root


def artifact_dir(engine: str, version: str) -> Path:
    """Directory holding the built or fetched artifacts of one engine version."""
    path = cache_root() / "artifacts" / f"{engine}-{version}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_root() -> Path:
    """`$DBARENA_DATA`, else `<temp>/dbarena-<uid>`: where native engines keep their data (maybe not created yet).

    Under the system temp dir, not the cache: a server that must run as another user
    (PostgreSQL refuses root) cannot traverse root's home directory.
    """
    return Path(os.environ.get("DBARENA_DATA", Path(tempfile.gettempdir()) / f"dbarena-{os.getuid()}"))


def data_dir(engine: str) -> Path:
    """Scratch data directory of a native engine (wiped on each start), under `data_root()`."""
    top = data_root()
    path = top / engine
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(top, 0o755)
    return path
