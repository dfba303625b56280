"""The registered domain models are compared with the catalogue, and every mismatch is named."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import yaml

import examples
from orchestrion.catalogue import ensure_catalogue, load_file
from orchestrion.db import Database
from orchestrion.domain import SUBSCRIPTION_MODEL_REGISTRY
from orchestrion.domain.catalogue_diff import catalogue_mismatches

ROOT = Path(__file__).resolve().parents[1]
# Other test modules register test products too; compare only the examples' models.
EXAMPLE_MODELS = {name: SUBSCRIPTION_MODEL_REGISTRY[name] for name in ("Node", "Port 10G", "Port 100G", "Circuit")}


def test_example_catalogue_matches_its_models(database: Database) -> None:
    ensure_catalogue(load_file(examples.CATALOGUE))
    with database.read() as session:
        assert catalogue_mismatches(session, EXAMPLE_MODELS) == []


def test_every_kind_of_mismatch_is_reported(database: Database) -> None:
    data = copy.deepcopy(load_file(examples.CATALOGUE))
    del data["product_blocks"]["Port"]["resources"]["mode"]
    data["product_blocks"]["Port"]["resources"]["colour"] = "not in the model"
    data["product_blocks"]["Circuit"]["depends_on_block_relations"] = []
    del data["products"]["Port 100G"]["fixed_inputs"]
    data["products"]["Circuit"]["product_blocks"] = []
    ensure_catalogue(data)
    with database.read() as session:
        mismatches = catalogue_mismatches(session, EXAMPLE_MODELS)
    assert set(mismatches) == {
        "product 'Port 100G': fixed input 'speed' is missing",
        "product 'Circuit': block 'Circuit' is not linked to the product",
        "product block 'Port': resource type 'mode' is missing",
        "product block 'Port': resource type 'colour' is not in the model",
        "product block 'Circuit': relation to block 'Port' is missing",
    }


def _check_with(tmp_path: Path, name: str, data: dict[str, object]) -> subprocess.CompletedProcess[str]:
    """Load ``data`` into a fresh database and run ``orchestrion catalogue check`` on it."""
    env = {**os.environ, "DATABASE_URI": f"sqlite:///{tmp_path / name}.db", "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "orchestrion.cli", "catalogue"]
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(data))
    subprocess.run([*cli, "load", str(tmp_path / f"{name}.yaml")], env=env, check=True, capture_output=True)
    return subprocess.run([*cli, "check", "-i", "examples"], env=env, capture_output=True, text=True, timeout=60)


def test_cli_check_exits_1_on_a_mismatch(tmp_path: Path) -> None:
    data = load_file(examples.CATALOGUE)
    ok = _check_with(tmp_path, "ok", data)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "matches" in ok.stdout
    del data["products"]["Port 10G"]["fixed_inputs"]
    bad = _check_with(tmp_path, "bad", data)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "product 'Port 10G': fixed input 'speed' is missing" in bad.stdout
