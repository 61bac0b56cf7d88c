"""Launcher sources are package data, found with importlib.resources and copied out to build."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import EngineUnavailable
from harness.provision.native.ferretdb.launcher import SOURCES as FERRETDB
from harness.provision.native.neo4j.launcher import SOURCES as NEO4J
from harness.provision.native.opensearch.launcher import _SOURCES as OPENSEARCH
from harness.provision.native.sources import Sources

PACKAGE = Path(__file__).resolve().parents[3] / "harness" / "provision" / "native"


def test_each_launcher_finds_exactly_its_sources() -> None:
    assert [name for name, _ in NEO4J.files()] == ["pom.xml", "src/main/java/dbarena/neo4j/Main.java"]
    assert [name for name, _ in OPENSEARCH.files()] == ["pom.xml", "src/main/java/dbarena/opensearch/Main.java"]
    assert [name for name, _ in FERRETDB.files()] == ["go.mod", "go.sum", "main.go"]


def test_copy_to_keeps_the_layout_and_the_bytes(tmp_path: Path) -> None:
    NEO4J.copy_to(tmp_path / "build")
    copied = sorted(p.relative_to(tmp_path / "build").as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert copied == ["pom.xml", "src/main/java/dbarena/neo4j/Main.java"]
    assert (tmp_path / "build" / "pom.xml").read_bytes() == (PACKAGE / "neo4j" / "pom.xml").read_bytes()


def test_the_fingerprint_covers_the_seed_and_the_sources() -> None:
    assert NEO4J.fingerprint(b"5.26.30") == NEO4J.fingerprint(b"5.26.30")
    assert NEO4J.fingerprint(b"5.26.30") != NEO4J.fingerprint(b"5.26.31")
    assert NEO4J.fingerprint() != OPENSEARCH.fingerprint()


def test_sources_missing_from_the_installed_package_are_named() -> None:
    with pytest.raises(EngineUnavailable, match=r"build\.gradle are missing from the installed package"):
        Sources("harness.provision.native.neo4j", ("pom.xml", "build.gradle")).files()
