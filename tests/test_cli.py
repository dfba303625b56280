"""The command line as a user runs it: real subprocesses on a temporary SQLite database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect as ws_connect

ROOT = Path(__file__).resolve().parents[1]
ORCHESTRION = [sys.executable, "-m", "orchestrion.cli"]
NODE_PRODUCT = "0b6e8e2a-1c2d-4e8f-8a1b-2c3d4e5f6a01"  # the example catalogue's Node


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URI": f"sqlite:///{tmp_path / 'cli.db'}",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_process_start_and_show(tmp_path: Path) -> None:
    env = _env(tmp_path)
    loaded = subprocess.run(
        [*ORCHESTRION, "catalogue", "load", str(ROOT / "examples/catalogue.yaml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.returncode == 0, loaded.stderr
    page = json.dumps({"product": NODE_PRODUCT, "user_input": "from the cli"})
    started = subprocess.run(
        [
            *ORCHESTRION,
            "process",
            "start",
            "create_product_subscription",
            "--input",
            page,
            "-i",
            "examples",
            "--user",
            "ann",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 0, started.stderr
    process_id, status = started.stdout.split()[-2:]
    assert status == "completed"
    shown = subprocess.run(
        [*ORCHESTRION, "process", "show", process_id], env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["current_state"]["subscription"]["description"] == "from the cli"
    assert detail["current_state"]["subscription"]["product"]["product_id"] == NODE_PRODUCT
    assert {(s["created_by"], s["action"]) for s in detail["steps"]} == {("ann", "start")}  # who, per step


def test_process_start_with_bad_input_says_why(tmp_path: Path) -> None:
    failed = subprocess.run(
        [*ORCHESTRION, "process", "start", "create_product_subscription", "--input", "{}", "-i", "examples"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 2
    assert "Invalid input" in failed.stderr and "product" in failed.stderr


def test_run_serves_the_examples(tmp_path: Path) -> None:
    """The README's first command: the server starts on a fresh directory and runs the example over HTTP."""
    port = _free_port()
    server = subprocess.Popen(
        [
            *ORCHESTRION,
            "run",
            "--import",
            "examples",
            "--catalogue",
            str(ROOT / "examples/catalogue.yaml"),
            "--port",
            str(port),
        ],
        env=_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health/").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "server did not become healthy"
            time.sleep(0.2)
        page = {"product": NODE_PRODUCT, "user_input": "over http"}
        created = httpx.post(f"{base}/processes/create_product_subscription", json=[page])
        assert created.status_code == 201, created.text
        process_id = created.json()["id"]
        for _ in range(100):
            detail = httpx.get(f"{base}/processes/{process_id}").json()
            if detail["last_status"] == "completed":
                break
            time.sleep(0.05)
        assert detail["last_status"] == "completed"
        assert (tmp_path / "cli.db").exists()
        # Live updates over a WebSocket, as orchestrator-ui opens it; the server stops with it open.
        live = ws_connect(f"ws://127.0.0.1:{port}/api/ws/events", open_timeout=10)
        live.send("__ping__")
        assert live.recv(timeout=10) == "__pong__"
    finally:
        server.terminate()
        server.wait(timeout=30)
    printed = server.stdout.read() if server.stdout else ""
    assert (
        f"web UI at http://127.0.0.1:{port}/\n" in printed
        and f"API docs at http://127.0.0.1:{port}/api/docs" in printed
    )
