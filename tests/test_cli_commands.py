"""The ``orchestrion`` console script as a user types it: from a checkout, without PYTHONPATH, on a fresh SQLite file.

Operating processes (list, resume, retry, abort, delete) and subscriptions (list, show), and the
one-line answers to common mistakes.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ORCHESTRION = Path(sys.executable).with_name("orchestrion")  # the installed console script, as the README runs it


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "DATABASE_URI": f"sqlite:///{tmp_path / 'cli.db'}", "LOG_LEVEL": "WARNING", **extra}


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ORCHESTRION), *args], env=_env(tmp_path, **env), cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def _started(done: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    process_id, status = _ok(done).split()[-2:]
    return process_id, status


def _one_line_error(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    for word in words:
        assert word in lines[0]


def test_the_readme_command_imports_examples_from_the_working_directory(tmp_path: Path) -> None:
    _ok(cli(tmp_path, "catalogue", "load", "examples/catalogue.yaml"))
    page = {"product": "0b6e8e2a-1c2d-4e8f-8a1b-2c3d4e5f6a01", "user_input": "hi"}  # the catalogue's Node
    started = cli(
        tmp_path, "process", "start", "create_product_subscription", "-i", "examples", "--input", json.dumps(page)
    )
    assert _started(started)[1] == "completed"


def test_version() -> None:
    shown = subprocess.run([str(ORCHESTRION), "--version"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and shown.stdout.split() == ["orchestrion", "0.1.0"]


def test_common_mistakes_are_one_line_with_what_to_do(tmp_path: Path) -> None:
    _one_line_error(cli(tmp_path, "process", "start", "nosuch_wf"), 2, "'nosuch_wf' does not exist", "--import")
    unknown = "3f1e0b8c-5d6a-4b7e-9c2d-1a0f8e7d6c5b"
    _one_line_error(cli(tmp_path, "process", "show", unknown), 2, f"{unknown} not found", "orchestrion process list")
    _one_line_error(cli(tmp_path, "subscription", "show", unknown), 2, unknown, "orchestrion subscription list")
    _one_line_error(
        cli(tmp_path, "process", "start", "create_product_subscription", "-i", "examples", "--input", "{}"),
        2,
        "Invalid input",
        "product",
    )
    with socket.socket() as s:  # a port nothing listens on once it is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    unreachable = f"postgresql://postgres@127.0.0.1:{port}/nothing"
    _one_line_error(cli(tmp_path, "db", "upgrade", DATABASE_URI=unreachable), 1, "Cannot reach the database", str(port))


def test_retry_resume_abort_delete_and_list(tmp_path: Path) -> None:
    marker = tmp_path / "flaky-answered"
    flaky = cli(
        tmp_path,
        "process",
        "start",
        "cli_flaky",
        "-i",
        "tests.cli_workflows",
        "--input",
        json.dumps({"marker": str(marker)}),
    )
    flaky_id, status = _started(flaky)
    assert status == "failed"
    assert cli(tmp_path, "process", "list", "--status", "failed").stdout.count(flaky_id) == 1
    assert _started(cli(tmp_path, "process", "retry", flaky_id, "-i", "tests.cli_workflows")) == (flaky_id, "completed")

    approval, status = _started(
        cli(tmp_path, "process", "start", "ui_approval", "-i", "tests.cli_workflows", "--input", '{"ticket": "T-1"}')
    )
    assert status == "suspended"
    form = json.loads(_ok(cli(tmp_path, "process", "show", approval, "-i", "tests.cli_workflows")))["form"]
    assert "priority" in form["properties"]
    refused = cli(
        tmp_path, "process", "resume", approval, "-i", "tests.cli_workflows", "--input", '{"window_hours": 99}'
    )
    _one_line_error(refused, 2, "Invalid input", "window_hours")
    answer = json.dumps({"priority": "high", "approved": True, "window_hours": 2})
    assert _started(cli(tmp_path, "process", "resume", approval, "-i", "tests.cli_workflows", "--input", answer)) == (
        approval,
        "completed",
    )
    state = json.loads(_ok(cli(tmp_path, "process", "show", approval)))["current_state"]
    assert (state["carried_out"], state["window"]) == (True, 2)

    doomed, _ = _started(
        cli(tmp_path, "process", "start", "ui_approval", "-i", "tests.cli_workflows", "--input", '{"ticket": "T-2"}')
    )
    assert _ok(cli(tmp_path, "process", "abort", doomed, "-i", "tests.cli_workflows")).split() == [doomed, "aborted"]
    _one_line_error(
        cli(tmp_path, "process", "retry", doomed, "-i", "tests.cli_workflows"), 2, "aborted", "cannot be resumed"
    )

    listed = _ok(cli(tmp_path, "process", "list", "--workflow", "ui_appr"))
    assert listed.index(doomed) < listed.index(approval)  # newest first
    assert flaky_id not in listed and listed.rstrip().endswith("2 processes")
    assert "1 of 2 processes (--limit shows more)" in _ok(
        cli(tmp_path, "process", "list", "--workflow", "ui_appr", "--limit", "1")
    )
    assert [
        line.split()[2]
        for line in _ok(cli(tmp_path, "process", "list", "--status", "aborted", "--status", "failed")).splitlines()[1:2]
    ] == ["aborted"]

    assert _ok(cli(tmp_path, "process", "delete", doomed)).strip() == f"Deleted {doomed}"
    _one_line_error(cli(tmp_path, "process", "show", doomed), 2, "not found")
    assert doomed not in _ok(cli(tmp_path, "process", "list"))


@pytest.fixture
def node(tmp_path: Path) -> str:
    """A real Node subscription of the example catalogue, created through the CLI."""
    _ok(cli(tmp_path, "catalogue", "load", "examples/catalogue.yaml"))
    product = yaml.safe_load((ROOT / "examples/catalogue.yaml").read_text())["products"]["Node"]["product_id"]
    pages = [{"product": product}, {"customer_id": "ACME-7", "node_name": "rt1", "location": "Amsterdam"}]
    process_id, status = _started(
        cli(tmp_path, "process", "start", "create_node", "-i", "examples", "--input", json.dumps(pages))
    )
    assert status == "completed"
    [linked] = json.loads(_ok(cli(tmp_path, "process", "show", process_id)))["subscriptions"]
    return str(linked["subscription_id"])


def test_subscription_list_and_show(tmp_path: Path, node: str) -> None:
    listed = _ok(cli(tmp_path, "subscription", "list"))
    [header, row] = listed.splitlines()[:2]
    assert header.split()[:3] == ["SUBSCRIPTION", "DESCRIPTION", "PRODUCT"] and row.startswith(node)
    assert "Node rt1 (Amsterdam)" in row and "ACME-7" in row
    assert listed.rstrip().endswith("\n1 subscription")
    for matching in (["Amsterdam"], ["--product", "Node"], ["--customer", "ACME-7"], ["--status", "active"]):
        assert node in _ok(cli(tmp_path, "subscription", "list", *matching)), matching
    for other in (["Rotterdam"], ["--product", "Circuit"], ["--customer", "ACME-8"], ["--status", "terminated"]):
        assert node not in _ok(cli(tmp_path, "subscription", "list", *other)), other

    model = json.loads(_ok(cli(tmp_path, "subscription", "show", node, "-i", "examples")))
    assert model["node"]["node_name"] == "rt1" and model["in_use_by_ids"] == []
    row_only = cli(tmp_path, "subscription", "show", node)  # without the domain models: the row, and why
    assert json.loads(row_only.stdout)["product"]["name"] == "Node" and "-i" in row_only.stderr
    assert (
        json.loads(_ok(cli(tmp_path, "subscription", "show", node, "--row", "-i", "examples")))["customer_id"]
        == "ACME-7"
    )


def test_help_names_values_instead_of_python_types(tmp_path: Path) -> None:
    commands = [
        [],
        *(["process", c] for c in ("start", "list", "show", "resume", "retry", "abort", "delete")),
        *(["subscription", c] for c in ("list", "show")),
        *(["db", c] for c in ("upgrade", "downgrade")),
        ["run"],
        ["worker"],
        ["catalogue", "load"],
        ["scheduler", "add"],
    ]
    for command in commands:
        shown = _ok(cli(tmp_path, *command, "--help"))
        assert not re.search(r"<[a-z]", shown) and "Usage: orchestrion" in shown, shown
    assert "--import  -i      MODULE" in _ok(cli(tmp_path, "process", "start", "--help"))
