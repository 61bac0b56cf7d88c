"""The headless Chromium the page tests open their pages in (the live view, the HTML report).

`chromium` is a module-scoped fixture (import `chromium_fixture` into the test module to use
it): Debian's chromium, skipped when it is missing outside CI and failed in CI (CI=true).
`browser` runs it once with a throwaway profile and nothing to fetch but 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # only the page: a file or a local server
         "--enable-logging=stderr", "--v=0")


@pytest.fixture(scope="module", name="chromium")
def chromium_fixture() -> str:
    """The path of Debian's chromium."""
    found = shutil.which("chromium")
    if found is None:
        if IN_CI:
            pytest.fail("chromium is not installed (apt-get install -y chromium); CI must run the browser test")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    return found


def browser(chromium: str, profile: Path, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    """Run headless `chromium` with the profile folder `profile` and `args` (--dump-dom, --screenshot=, the URL)."""
    command = [chromium, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
