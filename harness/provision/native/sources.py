"""Launcher sources shipped inside the package: a Java runner's pom and src/, a Go module, a config template.

They are found with importlib.resources, never relative to a checkout, so a launcher
installed from a wheel builds and starts its engine from any directory. Build tools need
a real, writable directory while an installed package may be read-only (or zipped), so
`copy_to` first puts the sources into the launcher's build directory under the artifact
cache (harness/provision/paths.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from harness.errors import EngineUnavailable

# Never sources: bytecode caches, and a Maven build left in a developer's checkout.
_SKIPPED = frozenset({"__pycache__", "target"})


@dataclass(frozen=True)
class Sources:
    """The package-data files of one launcher package that match `patterns` (relative, `*` spans folders)."""

    package: str  # e.g. "harness.provision.native.neo4j"
    patterns: tuple[str, ...]  # e.g. ("pom.xml", "src/*")

    def files(self) -> list[tuple[str, Traversable]]:
        """(relative posix path, file) of every matching file, in path order.

        Raises EngineUnavailable when a pattern matches nothing: the installed package lacks
        its data (a wheel built without package-data), which no build step can repair.
        """
        found = sorted(
            ((parts, node) for parts, node in _walk(files(self.package), ()) if self._wanted("/".join(parts))),
            key=lambda item: item[0],
        )
        chosen = [("/".join(parts), node) for parts, node in found]
        missing = [p for p in self.patterns if not any(fnmatchcase(name, p) for name, _ in chosen)]
        if missing:
            raise EngineUnavailable(
                f"{self.package}: launcher sources {', '.join(missing)} are missing from the installed package; "
                "reinstall dbarena from a complete wheel or checkout"
            )
        return chosen

    def read_text(self, name: str) -> str:
        """The text of one source file, e.g. a config template."""
        return files(self.package).joinpath(name).read_text(encoding="utf-8")

    def fingerprint(self, seed: bytes = b"") -> str:
        """sha256 over `seed`, then each file's relative path and bytes: an edited source rebuilds."""
        digest = hashlib.sha256(seed)
        for name, node in self.files():
            digest.update(name.encode())
            digest.update(node.read_bytes())
        return digest.hexdigest()

    def copy_to(self, dest: Path) -> None:
        """Write the sources under `dest` (a build directory in the cache), keeping their layout."""
        for name, node in self.files():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(node.read_bytes())

    def _wanted(self, name: str) -> bool:
        return any(fnmatchcase(name, pattern) for pattern in self.patterns)


def _walk(node: Traversable, prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Traversable]]:
    for child in node.iterdir():
        if child.name in _SKIPPED:
            continue
        parts = (*prefix, child.name)
        if child.is_dir():
            yield from _walk(child, parts)
        elif child.is_file():
            yield parts, child
