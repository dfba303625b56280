"""Long commands show a progress bar at a terminal and nothing extra in a pipe (logs, CI, scripts)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import yaml
from tests.test_cli_commands import ORCHESTRION, _env, cli

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _at_a_terminal(tmp_path: Path, *args: str) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as its stdin, stdout and stderr; its exit code and screen output."""
    leader, follower = pty.openpty()
    env = {**_env(tmp_path), "TERM": "xterm", "COLUMNS": "120"}
    command = subprocess.Popen([str(ORCHESTRION), *args], stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    shown = b""
    deadline = time.monotonic() + 120
    while True:
        ready, _, _ = select.select([leader], [], [], max(deadline - time.monotonic(), 0))
        if not ready:  # a hung command fails the test instead of hanging it
            command.kill()
            raise AssertionError(f"the command did not finish in 120 s; it showed {shown!r}")
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the command exited and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return command.wait(timeout=10), ANSI.sub("", shown.decode(errors="replace"))


def _big_catalogue(tmp_path: Path, n: int = 60) -> Path:
    blocks = {f"Block {i}": {"description": f"Block {i}", "resources": {f"field_{i}": "a field"}} for i in range(n)}
    products = {f"Product {i}": {"product_type": f"Type{i}", "product_blocks": [f"Block {i}"]} for i in range(n)}
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump({"product_blocks": blocks, "products": products}))
    return path


def test_db_upgrade_shows_the_revisions_it_applies_at_a_terminal(tmp_path: Path) -> None:
    code, shown = _at_a_terminal(tmp_path, "db", "upgrade")
    assert code == 0, shown
    # the bar redraws a few times a second: which revisions it shows depends on the pace; the last one it always does
    assert re.search(r"Migrating: upgrade \d* ?-> \d{4}", shown) and "Database upgraded to heads" in shown


def test_catalogue_load_counts_its_entries_at_a_terminal(tmp_path: Path) -> None:
    code, shown = _at_a_terminal(tmp_path, "catalogue", "load", str(_big_catalogue(tmp_path)))
    assert code == 0, shown
    assert "Loading catalogue" in shown and "120/120" in shown
    assert "Catalogue loaded." in shown


def test_in_a_pipe_there_is_no_bar(tmp_path: Path) -> None:
    upgraded = cli(tmp_path, "db", "upgrade")
    assert (upgraded.returncode, upgraded.stdout, upgraded.stderr) == (0, "Database upgraded to heads\n", "")
    loaded = cli(tmp_path, "catalogue", "load", str(_big_catalogue(tmp_path)))
    assert loaded.returncode == 0 and loaded.stderr == ""
    assert loaded.stdout.splitlines()[-1] == "Catalogue loaded."
    assert "Loading catalogue" not in loaded.stdout
