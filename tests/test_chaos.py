"""The chaos suite's short seeded run (bench/chaos.py; docs/runtime.md): both executors, on PostgreSQL and Redis.

The harness runs as a subprocess with its own servers and workers on a database of its own; it
kills them, terminates database connections, disconnects broker clients and pauses the engine,
then reports its invariants as JSON, which this test asserts one by one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parent.parent
LEASE = 2.0


def test_short_seeded_chaos_run_loses_and_doubles_nothing(
    postgres_server: str, redis_server: str, tmp_path: Path
) -> None:
    out = tmp_path / "chaos.json"
    command = [sys.executable, str(ROOT / "bench" / "chaos.py"), "--n", "50", "--seed", "16", "--duration", "15"]
    command += ["--lease", str(LEASE), "--postgres-uri", postgres_server, "--broker", f"{redis_server}/13"]
    run = subprocess.run([*command, "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert out.exists(), f"the harness ended ({run.returncode}) without results:\n{run.stdout}\n{run.stderr}"
    print(run.stdout)  # the table, shown with -s or on failure
    results = json.loads(out.read_text())
    assert [r["executor"] for r in results] == ["celery", "threadpool"]

    for r in results:
        where = f"{r['executor']}:\n{run.stdout}"
        assert r["processes"] >= 45, where  # nearly every start was made
        assert r["started_but_missing"] == 0, where
        assert r["stuck"] == 0, where
        assert r["lost_effects"] == 0, where
        assert r["duplicated_effects"] == 0, where
        assert r["effects_without_checkpoint"] == 0, where
        assert r["statuses"].get("failed", 0) == 0, where  # none failed, by infrastructure or otherwise
        assert r["takeover_p99"] is None or r["takeover_p99"] <= 2 * LEASE, where
    assert run.returncode == 0, run.stdout
