"""Loading the catalogue: idempotent, updates descriptions, keeps given ids, reports (never does) removals."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from orchestrion.catalogue import CatalogueError, ensure_catalogue
from orchestrion.db import Database
from orchestrion.db.domain_models import ProductBlockTable, ProductTable, ResourceTypeTable, products_workflows
from orchestrion.db.models import WorkflowTable
from orchestrion.scheduler.tasks import BUILT_IN_TASKS

PORT_ID = "6c1f4a8e-2b1d-4a5e-9f3c-0d2e8b7a6c51"

CATALOGUE: dict[str, Any] = {
    "product_blocks": {
        "Port": {
            "description": "A physical port",
            "tag": "PORT",
            "resources": {"port_name": "Name on the node", "speed": "Speed in Gbit/s"},
        },
        "Circuit": {
            "description": "A point-to-point circuit",
            "tag": "CIRCUIT",
            "resources": {"circuit_id": "Circuit id"},
            "depends_on_block_relations": ["Port"],
        },
    },
    "products": {
        "Port 10G": {
            "product_id": PORT_ID,
            "product_type": "Port",
            "description": "10 Gbit/s port",
            "tag": "PORT",
            "product_blocks": ["Port"],
            "fixed_inputs": {"speed": "10"},
        },
        "Circuit": {
            "product_type": "Circuit",
            "description": "Point-to-point circuit",
            "tag": "CIRCUIT",
            "product_blocks": ["Circuit"],
        },
    },
    "workflows": {
        "create_port": {
            "name": "create_port",
            "target": "CREATE",
            "description": "Create a port",
            "product_type": "Port",
        },
        "task_check": {"name": "task_check", "target": "SYSTEM", "description": "Check", "is_task": True},
    },
}


def _counts(database: Database) -> dict[str, int]:
    """Rows per catalogue table; the workflows leave out orchestrion's built-ins (migrations 0006, 0008)."""
    with database.read() as session:
        counts = {
            table.__name__: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (ProductTable, ProductBlockTable, ResourceTypeTable)
        }
        own = select(func.count()).where(WorkflowTable.name.not_in(["modify_note", *BUILT_IN_TASKS]))
        return {**counts, "WorkflowTable": session.execute(own).scalar_one()}


def test_load_is_idempotent_and_keeps_ids(database: Database) -> None:
    first = ensure_catalogue(CATALOGUE)
    assert "product Port 10G" in first.created and "workflow create_port" in first.created
    counts = _counts(database)
    # create_port and task_check
    assert counts == {"ProductTable": 2, "ProductBlockTable": 2, "ResourceTypeTable": 3, "WorkflowTable": 2}
    second = ensure_catalogue(copy.deepcopy(CATALOGUE))
    assert not second.changed, second.lines()
    assert _counts(database) == counts
    with database.read() as session:
        port = session.execute(select(ProductTable).where(ProductTable.name == "Port 10G")).scalar_one()
        assert port.product_id == uuid.UUID(PORT_ID)
        assert {f.name: f.value for f in port.fixed_inputs} == {"speed": "10"}
        assert [b.name for b in port.product_blocks] == ["Port"]
        links = session.execute(
            select(ProductTable.name, WorkflowTable.name)
            .select_from(products_workflows)
            .join(ProductTable, ProductTable.product_id == products_workflows.c.product_id)
            .join(WorkflowTable, WorkflowTable.workflow_id == products_workflows.c.workflow_id)
        ).all()
    # create_port by its product_type; modify_note (DEFAULT_PRODUCT_WORKFLOWS) to every product
    assert sorted(links) == [("Circuit", "modify_note"), ("Port 10G", "create_port"), ("Port 10G", "modify_note")]


def test_changed_description_is_updated_and_removals_reported(database: Database) -> None:
    ensure_catalogue(CATALOGUE)
    changed = copy.deepcopy(CATALOGUE)
    changed["products"]["Port 10G"]["description"] = "Ten gigabit port"
    del changed["products"]["Circuit"]
    report = ensure_catalogue(changed)
    assert report.updated == ["product Port 10G (description)"]
    assert "product Circuit" in report.not_in_data
    with database.read() as session:
        names = set(session.execute(select(ProductTable.name)).scalars())
        description = session.execute(
            select(ProductTable.description).where(ProductTable.name == "Port 10G")
        ).scalar_one()
    assert names == {"Port 10G", "Circuit"}
    assert description == "Ten gigabit port"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["products"]["Circuit"]["product_blocks"].append("Ghost"), "Ghost"),
        (lambda c: c["workflows"]["create_port"].update(target="LAUNCH"), "target"),
        (lambda c: c.update(colours={}), "unknown catalogue sections"),
        (lambda c: c["products"]["Port 10G"].update(product_id="not-a-uuid"), "not a UUID"),
    ],
)
def test_bad_data_is_refused_and_writes_nothing(database: Database, change: Any, message: str) -> None:
    bad = copy.deepcopy(CATALOGUE)
    change(bad)
    before = _counts(database)
    assert before == {"ProductTable": 0, "ProductBlockTable": 0, "ResourceTypeTable": 0, "WorkflowTable": 0}
    with pytest.raises(CatalogueError, match=message):
        ensure_catalogue(bad)
    assert _counts(database) == before


def test_cli_loads_yaml_twice(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(CATALOGUE))
    env = {**os.environ, "DATABASE_URI": f"sqlite:///{tmp_path / 'cat.db'}", "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "orchestrion.cli", "catalogue", "load", str(path)]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "created product Port 10G" in first.stdout
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().endswith("Catalogue already up to date.")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"products": {"X": {"product_blocks": []}}}))
    refused = subprocess.run([*command[:-1], str(broken)], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "needs a product_type" in refused.stderr
