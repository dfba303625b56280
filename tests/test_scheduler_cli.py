"""``orchestrion scheduler ...`` as an operator runs it: real subprocesses on a temporary SQLite database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrion.db import Database
from orchestrion.scheduler.leader import current_leader
from orchestrion.scheduler.schedules import list_schedules

ROOT = Path(__file__).resolve().parents[1]
ORCHESTRION = [sys.executable, "-m", "orchestrion.cli"]


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URI": f"sqlite:///{tmp_path / 'cli.db'}",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ORCHESTRION, "scheduler", *args], env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def test_help_lists_the_commands(tmp_path: Path) -> None:
    shown = cli(tmp_path, "--help")
    assert shown.returncode == 0
    for command in ("run", "list", "force", "add", "remove"):
        assert command in shown.stdout
    assert "exactly one of --cron and --every" in cli(tmp_path, "add", "--help").stdout


def test_add_list_force_and_remove(tmp_path: Path) -> None:
    listed = cli(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    for built_in in ("resume-workflows", "validate-awaiting-callbacks", "clean-up-tasks", "validate-products"):
        assert built_in in listed.stdout  # the initial schedule exists from the first start
    assert "cron 30 2 * * *" in listed.stdout and "Leader: none" in listed.stdout

    refused = cli(tmp_path, "add", "nightly", "task_validate_products", "--cron", "0 25 * * *")
    assert refused.returncode == 2 and "not valid" in refused.stderr
    both = cli(tmp_path, "add", "nightly", "task_validate_products", "--cron", "0 1 * * *", "--every", "5")
    assert both.returncode != 0 and "exactly one of --cron and --every" in both.stderr
    added = cli(tmp_path, "add", "nightly", "task_validate_products", "--cron", "0 1 * * *", "--misfire", "skip")
    assert added.returncode == 0, added.stderr
    assert "nightly" in cli(tmp_path, "list").stdout

    forced = cli(tmp_path, "force", "nightly")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.split()[-1] == "completed"
    idle = cli(tmp_path, "force", "resume-workflows")
    assert idle.returncode == 1 and "Nothing to do" in idle.stderr
    database = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    [nightly] = [s for s in list_schedules(database) if s.name == "nightly"]
    database.dispose()
    assert str(nightly.last_process_id) == forced.stdout.split()[0]

    assert cli(tmp_path, "remove", "nightly").returncode == 0
    assert "nightly" not in cli(tmp_path, "list").stdout
    missing = cli(tmp_path, "remove", "nightly")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_run_leads_plans_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    assert cli(tmp_path, "list").returncode == 0  # creates the database
    database = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    runner = subprocess.Popen(
        [*ORCHESTRION, "scheduler", "run"], env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while current_leader(database) is None or any(s.next_run_at is None for s in list_schedules(database)):
            assert runner.poll() is None, "the scheduler exited"
            assert time.monotonic() < deadline, "the scheduler never led"
            time.sleep(0.05)
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=60) == 0
    finally:
        if runner.poll() is None:
            runner.kill()
    assert current_leader(database) is None  # the lease was given back
    assert runner.stdout is not None and "Ctrl+C stops it" in runner.stdout.read()
    database.dispose()
