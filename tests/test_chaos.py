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
# Targets the current code misses, each tolerated (the test xfails) until its fix lands; then delete the flag.
# A database connection terminated in the middle of a step fails the process (transient errors are not retried).
KNOWN_INFRASTRUCTURE_FAILURES = True
# With a backlog, a killed worker's processes can wait for a free thread longer than twice the lease.
KNOWN_SLOW_TAKEOVER = True


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

    misses = []  # (tolerated, what)
    for r in results:
        where = f"{r['executor']}:\n{run.stdout}"
        assert r["processes"] >= 45, where  # nearly every start was made
        assert r["started_but_missing"] == 0, where
        assert r["stuck"] == 0, where
        assert r["lost_effects"] == 0, where
        assert r["duplicated_effects"] == 0, where
        assert r["effects_without_checkpoint"] == 0, where
        assert r["statuses"].get("failed", 0) == r["failed_by_infrastructure"], where  # no other failures
        if r["failed_by_infrastructure"]:
            misses.append((KNOWN_INFRASTRUCTURE_FAILURES, f"{r['executor']}: {r['failed_by_infrastructure']} failed"))
        if (p99 := r["takeover_p99"]) is not None and p99 > 2 * LEASE:
            misses.append((KNOWN_SLOW_TAKEOVER, f"{r['executor']}: takeover p99 {p99:.1f} s > {2 * LEASE:g} s"))
    assert all(tolerated for tolerated, _ in misses), run.stdout
    assert (run.returncode != 0) == bool(misses), run.stdout
    if misses:
        pytest.xfail(f"known misses: {'; '.join(what for _, what in misses)}")
