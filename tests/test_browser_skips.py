"""Browser tests that cannot run say why in the summary, and fail where they must run (CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"
PLUGIN = ("-p", "tests.browser")  # its summary hook, which tests/conftest.py gives the suite


def _pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "test_needs_a_browser.py"
    module.write_text(
        "from tests.browser import unavailable\n\nunavailable('no browser here')\n\n\ndef test_page():\n    pass\n"
    )
    base = {k: v for k, v in os.environ.items() if k != "ORCHESTRION_BROWSER_REQUIRED"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(CONFIG), "--rootdir", str(ROOT), *PLUGIN, str(module)],
        env={**base, "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_skip_says_why_in_the_summary(tmp_path: Path) -> None:
    skipped = _pytest(tmp_path)
    assert skipped.returncode == 5, skipped.stdout  # pytest's "no tests ran": nothing failed
    assert "SKIPPED [1]" in skipped.stdout and "browser tests not run: no browser here" in skipped.stdout
    section = skipped.stdout[skipped.stdout.index("the browser tests did not run") :]
    assert "because no browser here" in section and "ORCHESTRION_BROWSER_REQUIRED=1" in section


def test_required_browser_tests_fail_instead(tmp_path: Path) -> None:
    failed = _pytest(tmp_path, ORCHESTRION_BROWSER_REQUIRED="1")
    assert failed.returncode != 0
    assert "ORCHESTRION_BROWSER_REQUIRED is set, but no browser here" in failed.stdout
