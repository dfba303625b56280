"""The browser the UI tests drive: Debian's Chromium through Playwright, or a loud reason why they do not run.

Without them the browser tests are skipped with the reason in the run's summary (``-rs``) and a
section of its own at the end of the run (``pytest_terminal_summary``); with
``ORCHESTRION_BROWSER_REQUIRED`` set (``.ci/run`` sets it) they fail instead, so CI never passes
without having run them.
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")


SKIPPED = "browser tests not run: "


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """A section of its own at the end of the run for browser tests that did not run: easy to miss otherwise.

    A hook: tests/conftest.py imports it, so pytest finds it there (from the workers' reports too, under xdist).
    """
    reasons = set()
    for report in terminalreporter.stats.get("skipped", []):
        message = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if SKIPPED in message:
            reasons.add(message[message.index(SKIPPED) + len(SKIPPED) :])
    if reasons:
        terminalreporter.section("the browser tests did not run", sep="!", yellow=True, bold=True)
        for reason in sorted(reasons):
            terminalreporter.write_line(f"because {reason}", yellow=True, bold=True)
        terminalreporter.write_line("With ORCHESTRION_BROWSER_REQUIRED=1 (as in CI) this fails the run instead.")


def unavailable(reason: str) -> None:
    """Skip the calling test module saying why, or fail it under ORCHESTRION_BROWSER_REQUIRED."""
    if os.environ.get("ORCHESTRION_BROWSER_REQUIRED"):
        pytest.fail(f"ORCHESTRION_BROWSER_REQUIRED is set, but {reason}", pytrace=False)
    pytest.skip(f"{SKIPPED}{reason}", allow_module_level=True)


def playwright_sync_api() -> ModuleType:
    """Playwright's sync API, with Chromium present; at a test module's top level, skips or fails it otherwise."""
    if not CHROMIUM.exists():
        unavailable(f"Debian's Chromium ({CHROMIUM}) is not installed: apt-get install chromium")
    try:
        return importlib.import_module("playwright.sync_api")
    except ImportError:
        unavailable("the playwright package is not installed: pip install -e '.[dev]'")
        raise


def start(api: httpx.Client, workflow: str, pages: list[dict[str, Any]]) -> str:
    """Start ``workflow`` through the REST API of the server under test; its process id."""
    response = api.post(f"/processes/{workflow}", json=pages)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def wait_for(api: httpx.Client, process_id: str, status: str, timeout: float = 60) -> dict[str, Any]:
    """The process's detail once it has ``status`` (polled: the server runs it in another process)."""
    deadline = time.monotonic() + timeout
    while True:
        detail: dict[str, Any] = api.get(f"/processes/{process_id}").json()
        if detail["last_status"] == status:
            return detail
        assert time.monotonic() < deadline, detail
        time.sleep(0.05)
