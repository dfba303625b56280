"""``orchestrion subscription history`` as a user types it, on both databases: the versions as a table or JSON
lines, one version by number or time, a diff, and one-line answers to an unknown version or conflicting options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.example_support import create, modify_port

import examples
from examples.products.port import PortMode
from orchestrion.catalogue import ensure_catalogue, load_file
from orchestrion.db import Database
from orchestrion.db.domain_models import ProductTable

ORCHESTRION = Path(sys.executable).with_name("orchestrion")


def cli(database: Database, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(DATABASE_URI=database.uri, LOG_LEVEL="WARNING")
    return subprocess.run([str(ORCHESTRION), *args], env=env, capture_output=True, text=True, timeout=120)


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def port(database: Database) -> tuple[str, str]:
    """A port of the example network, changed once: its id and the changing process's."""
    ensure_catalogue(load_file(examples.CATALOGUE))
    with database.read() as session:
        products = {p.name: str(p.product_id) for p in session.execute(select(ProductTable)).scalars()}
    node, _ = create("create_node", [{"product": products["Node"]}, {"node_name": "rt1", "location": "Amsterdam"}])
    port, _ = create("create_port", [{"product": products["Port 10G"]}, {"node": node, "port_name": "xe-0/0/1"}])
    return port, str(modify_port(port, PortMode.UNTAGGED).process_id)


def test_the_versions_as_a_table_and_as_json_lines(database: Database, port: tuple[str, str]) -> None:
    subscription, modify = port
    listed = _ok(cli(database, "subscription", "history", subscription, "--json"))
    exported = [json.loads(line) for line in listed.splitlines()]
    numbers = [v["version"] for v in exported]
    assert numbers == list(range(len(exported), 0, -1))
    (change,) = (v for v in exported if v["step_name"] == "Change port mode")
    assert change["process_id"] == modify and change["summary"] == "1 value(s) changed"
    assert change["changes"]["blocks"]["changed"][0]["values"]["mode"] == {"old": ["tagged"], "new": ["untagged"]}

    table = _ok(cli(database, "subscription", "history", subscription, "--limit", "2")).splitlines()
    assert table[0].split() == ["VERSION", "TIME", "PROCESS", "STEP", "CHANGES"]
    assert table[1].split()[0] == str(numbers[0]) and modify in table[1] and "Unlock subscription" in table[1]
    assert table[-1] == f"2 of {len(exported)} versions (--limit shows more)"


def test_one_version_by_number_or_time_and_a_diff(database: Database, port: tuple[str, str]) -> None:
    subscription, _ = port

    def shown(*options: str) -> Any:
        return json.loads(_ok(cli(database, "subscription", "history", subscription, *options)))

    first = shown("--version", "1")
    assert (first["version"], first["step_name"]) == (1, "Construct port")
    assert first["subscription"]["status"] == "initial"
    assert shown("--at", first["created_at"]) == first
    newest = shown("--at", "2999-01-01T00:00:00")
    mode = next(b for b in shown("--diff", "1", str(newest["version"]))["blocks"]["changed"] if b["name"] == "Port")
    assert mode["values"]["mode"] == {"old": ["tagged"], "new": ["untagged"]}

    unknown = cli(database, "subscription", "history", subscription, "--version", "999")
    assert unknown.returncode == 2 and unknown.stderr.startswith("Error: ") and "no version 999" in unknown.stderr
    assert "orchestrion subscription history ID" in unknown.stderr
    both = cli(database, "subscription", "history", subscription, "--version", "1", "--diff", "1", "2")
    assert both.returncode == 2 and "give one of --version, --at and --diff" in both.stderr
