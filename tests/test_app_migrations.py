"""An orchestrator-core application's own Alembic migrations, run on orchestrion.

The application lives in ``tests/app_migrations/``: an ``alembic.ini``, an ``env.py`` written the
way orchestrator-core applications write theirs (its own engine, ``BaseModel.metadata``), and a
``data`` branch that depends on orchestrator-core's schema revision ``da5c9f4cce1c`` and builds a
small fibre catalogue with the migration helpers and with plain SQL. ``extra/`` holds revisions
single tests add on top (the application's own table; a misspelt catalogue key).

The first half drives ``orchestrion db ...`` as a user does, in a copy of that directory, on a
fresh database (a new SQLite file; a throwaway PostgreSQL database). The second half calls the
helpers (``orchestrion.migrations.helpers``) directly on the migrated ``database`` fixture.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy import Connection, create_engine, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from tests.conftest import POSTGRES_URI

from orchestrion.catalogue import CatalogueError
from orchestrion.db import Database, open_database
from orchestrion.db.domain_models import (
    FixedInputTable,
    ProductBlockTable,
    ProductTable,
    SubscriptionInstanceTable,
    SubscriptionTable,
    product_product_blocks,
    products_workflows,
)
from orchestrion.db.migrate import alembic_config, application_config
from orchestrion.db.models import WorkflowTable
from orchestrion.db.revision import HEAD
from orchestrion.migrations import helpers
from orchestrion.scheduler import tasks
from orchestrion.settings import app_settings, normalise_uri
from orchestrion.targets import Target
from orchestrion.testing import assert_complete, run_workflow
from orchestrion.workflow import Workflow, done, init

# The application keeps orchestrator-core's alembic.ini layout, which Alembic now calls legacy.
pytestmark = pytest.mark.filterwarnings("ignore:No path_separator found:DeprecationWarning")

ROOT = Path(__file__).resolve().parents[1]
APP = Path(__file__).with_name("app_migrations")
ORCHESTRION = [sys.executable, "-m", "orchestrion.cli"]

APP_HEAD = "e58b1d7f4a33"  # the newest revision of the application's data branch
SITES_REVISION = "f2c6a9e0b844"  # extra/: the application's own table
ORCHESTRION_HEAD = HEAD
# orchestrion's built-in tasks' rows (migration 0008): (target, is_task, description)
BUILT_IN_TASK_ROWS = {name: ("SYSTEM", True, getattr(tasks, name).description) for name in tasks.BUILT_IN_TASKS}

# Ids the application's migration gives (a product id, a (text, id) resource type, a (value, id) fixed input).
FIBRE_10G_ID = uuid.UUID("6f1d2c3b-0a4e-4b5f-8c7d-111111111111")
FIBRE_100G_ID = uuid.UUID("6f1d2c3b-0a4e-4b5f-8c7d-222222222222")
SPEED_TYPE_ID = uuid.UUID("6f1d2c3b-0a4e-4b5f-8c7d-333333333333")
COLOUR_INPUT_ID = uuid.UUID("6f1d2c3b-0a4e-4b5f-8c7d-444444444444")

# Every table the catalogue (and so the application's data branch) writes to.
CATALOGUE_TABLES = (
    "products",
    "product_blocks",
    "resource_types",
    "fixed_inputs",
    "product_product_blocks",
    "product_block_resource_types",
    "product_block_relations",
    "products_workflows",
    "workflows",
)


# --- the application, its database and the command line ----------------------------------------


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A copy of the application's migrations directory (without the extra revisions)."""
    target = tmp_path / "app"
    target.mkdir()
    shutil.copy(APP / "alembic.ini", target / "alembic.ini")
    shutil.copytree(APP / "migrations", target / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    return target


def add_revision(app_dir: Path, revision: str) -> None:
    """Put one of the revisions in ``extra/`` into the application's versions."""
    (source,) = (APP / "extra").glob(f"*_{revision}_*.py")
    shutil.copy(source, app_dir / "migrations" / "versions" / "schema" / source.name)


@pytest.fixture
def fresh_postgres_uri() -> Iterator[str]:
    """A new, empty PostgreSQL database of this test's own, dropped afterwards."""
    name = f"orch_app_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_URI, autocommit=True, connect_timeout=2)
    except psycopg.Error:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URI}")
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield make_url(POSTGRES_URI).set(database=name, query={}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(POSTGRES_URI, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database nothing has been migrated in yet: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return str(request.getfixturevalue("fresh_postgres_uri"))


def orchestrion(cwd: Path, uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``orchestrion ARGS`` in ``cwd`` on the database ``uri``, as a user does."""
    env = {
        **os.environ,
        "DATABASE_URI": uri,
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "TYPER_STANDARD_TRACEBACK": "1",  # plain tracebacks: error messages are not wrapped into boxes
    }
    return subprocess.run([*ORCHESTRION, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def upgrade_heads(app_dir: Path, uri: str) -> None:
    result = orchestrion(app_dir, uri, "db", "upgrade", "heads")
    assert result.returncode == 0, result.stderr
    assert "Database upgraded to heads" in result.stdout


def in_process(app_dir: Path, uri: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The configuration ``orchestrion db`` uses in ``app_dir`` (for Alembic commands without a new Python).

    ``DATABASE_URI`` is what the application's env.py reads.
    """
    monkeypatch.setattr(app_settings, "DATABASE_URI", SecretStr(normalise_uri(uri)))
    return application_config(app_dir / "alembic.ini")


def upgrade_in_process(app_dir: Path, uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    command.upgrade(in_process(app_dir, uri, monkeypatch), "heads")


@pytest.fixture
def upgraded(app_dir: Path, fresh_uri: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """The application's directory and its database after ``db upgrade heads`` (the state tests start from)."""
    upgrade_in_process(app_dir, fresh_uri, monkeypatch)
    assert versions(fresh_uri) == {ORCHESTRION_HEAD, APP_HEAD}
    return app_dir, fresh_uri


@contextmanager
def connect(uri: str) -> Iterator[Connection]:
    """A plain connection of the test's own (no orchestrion engine), committed at the end."""
    engine = create_engine(normalise_uri(uri), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def drop_columns_since_0009(conn: Connection) -> None:
    """Undo 0009, 0010, 0012 and 0014 to 0020 (columns, indexes, and 0010's table): a database from before
    them (they run again)."""
    for index in (
        "ix_processes_parent_group",
        *LIST_INDEXES,
        *SCALE_INDEXES,
        *TRIGRAM_INDEXES,
        *SUBSCRIPTION_LIST_INDEXES,
        *CREATOR_INDEXES,
        *OUT_OF_SYNC_INDEXES,
    ):
        conn.execute(text(f"DROP INDEX IF EXISTS {index}"))
    for index, column in SINGLE_COLUMN_INDEXES:
        conn.execute(text(f"CREATE INDEX {index} ON processes ({column})"))
    chain = (("process_steps", "prev_hash"), ("process_steps", "row_hash"))
    for table, column in (*STEP_ACTOR_COLUMNS, *chain, *CHILD_COLUMNS):
        conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    conn.execute(text("DROP TABLE audit_log"))


LIST_INDEXES = ("ix_processes_newest_first", "ix_processes_task_status")
SCALE_INDEXES = (
    "ix_processes_workflow_newest_first",
    "ix_processes_workflow_status",
    "ix_processes_subscriptions_subscription_process",
    "ix_processes_children",
)
SUBSCRIPTION_LIST_INDEXES = ("ix_subscriptions_newest_first",)
CREATOR_INDEXES = ("ix_processes_creator_newest_first",)  # 0019
OUT_OF_SYNC_INDEXES = ("ix_subscriptions_insync_newest_first",)  # 0020, SQLite only
TRIGRAM_INDEXES = (  # PostgreSQL only (with pg_trgm)
    "ix_subscriptions_description_trgm",
    "ix_subscriptions_customer_id_trgm",
    "ix_subscription_instance_values_value_trgm",
    "ix_subscriptions_note_trgm",  # 0018
)
# 0015 and 0016 dropped them: each is the leading column of one of LIST_INDEXES or SCALE_INDEXES
SINGLE_COLUMN_INDEXES = (
    ("ix_processes_started_at", "started_at"),
    ("ix_processes_is_task", "is_task"),
    ("ix_processes_workflow_id", "workflow_id"),
)
STEP_ACTOR_COLUMNS = (
    ("process_steps", "action"),
    ("processes", "run_by"),
    ("processes", "run_action"),
    ("processes", "abort_requested_by"),
)
CHILD_COLUMNS = (
    ("processes", "parent_process_id"),
    ("processes", "child_group"),
    ("processes", "branch"),
    ("processes", "awaiting_children"),
)


def versions(uri: str) -> set[str]:
    with connect(uri) as conn:
        return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def row_counts(conn: Connection, tables: tuple[str, ...] = CATALOGUE_TABLES) -> dict[str, int]:
    return {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in tables}


def snapshot(conn: Connection) -> dict[str, Any]:
    """The whole catalogue by name, ids and timestamps included: equal snapshots mean nothing changed."""
    with Session(bind=conn) as session:
        products = {
            p.name: {
                "id": p.product_id,
                "type": p.product_type,
                "tag": p.tag,
                "status": p.status,
                "description": p.description,
                "created_at": p.created_at,
                "blocks": sorted(b.name for b in p.product_blocks),
                "fixed_inputs": {f.name: (f.value, f.fixed_input_id) for f in p.fixed_inputs},
                "workflows": sorted(w.name for w in p.workflows),
            }
            for p in session.scalars(select(ProductTable))
        }
        blocks = {
            b.name: {
                "id": b.product_block_id,
                "tag": b.tag,
                "description": b.description,
                "resources": {r.resource_type: (r.description, r.resource_type_id) for r in b.resource_types},
                "depends_on": sorted(d.name for d in b.depends_on),
            }
            for b in session.scalars(select(ProductBlockTable))
        }
        workflows = {
            w.name: {
                "id": w.workflow_id,
                "target": w.target,
                "is_task": w.is_task,
                "description": w.description,
                "deleted": w.deleted_at is not None,
            }
            for w in session.scalars(select(WorkflowTable))
        }
    return {"products": products, "blocks": blocks, "workflows": workflows, "counts": row_counts(conn)}


def read_snapshot(uri: str) -> dict[str, Any]:
    with connect(uri) as conn:
        return snapshot(conn)


@pytest.fixture
def started() -> Iterator[Callable[[str], Database]]:
    """``open_database(uri)`` as ``OrchestratorCore()`` calls it at start-up; the databases are let go afterwards."""
    opened: list[Database] = []

    def start(uri: str) -> Database:
        opened.append(open_database(uri))
        return opened[-1]

    yield start
    for database in opened:
        database.dispose()


# --- orchestrion db upgrade / downgrade with the application's migrations -----------------------


def test_upgrade_heads_builds_the_applications_catalogue(app_dir: Path, fresh_uri: str) -> None:
    """One ``orchestrion db upgrade heads`` creates orchestrion's schema and runs the app's data branch.

    The products, blocks, resource types, fixed inputs and workflow links are those the migrations
    declare (given ids kept), plain SQL inserts get their ids and defaults from the database, and the
    version table has a row for orchestrion's head and one for the application's.
    """
    upgrade_heads(app_dir, fresh_uri)

    assert versions(fresh_uri) == {ORCHESTRION_HEAD, APP_HEAD}
    found = read_snapshot(fresh_uri)
    fibre_workflows = ["create_fibre", "modify_note", "terminate_fibre", "validate_fibre"]
    products = found["products"]
    assert set(products) == {"Fibre 1G", "Fibre 10G", "Fibre 100G", "Patch Bundle"}
    assert products["Fibre 10G"]["id"] == FIBRE_10G_ID
    assert products["Fibre 100G"]["id"] == FIBRE_100G_ID
    assert {name: (p["type"], p["tag"], p["status"]) for name, p in products.items()} == {
        "Fibre 1G": ("Fibre", "FIBRE", "active"),
        "Fibre 10G": ("Fibre", "FIBRE", "active"),
        "Fibre 100G": ("Fibre", "FIBRE", "active"),
        "Patch Bundle": ("PatchBundle", "PATCH", "active"),
    }
    assert {name: p["blocks"] for name, p in products.items()} == {
        "Fibre 1G": ["FibreBlock"],  # plain SQL
        "Fibre 10G": ["FibreBlock"],  # root_product_block
        "Fibre 100G": ["FibreBlock"],
        "Patch Bundle": ["PatchPortBlock"],  # product_blocks
    }
    assert {name: {k: v for k, (v, _) in p["fixed_inputs"].items()} for name, p in products.items()} == {
        "Fibre 1G": {"speed": "1"},
        "Fibre 10G": {"speed": "10", "colour": "blue"},
        "Fibre 100G": {"speed": "100"},
        "Patch Bundle": {"ports": "4"},
    }
    assert products["Fibre 10G"]["fixed_inputs"]["colour"][1] == COLOUR_INPUT_ID  # ("blue", id)
    # modify_note (orchestrion's 0006 and create()'s DEFAULT_PRODUCT_WORKFLOWS) goes to every product
    # the migrations know of: not to Fibre 1G, which plain SQL added after both had run.
    assert {name: p["workflows"] for name, p in products.items()} == {
        "Fibre 1G": ["validate_fibre"],  # it came after create_workflow linked the Fibre products
        "Fibre 10G": fibre_workflows,
        "Fibre 100G": fibre_workflows,
        "Patch Bundle": ["modify_note", "modify_patch_bundle"],
    }

    blocks = found["blocks"]
    assert {name: sorted(b["resources"]) for name, b in blocks.items()} == {
        "FibreBlock": ["fibre_length", "splice_count"],
        "PatchPortBlock": ["panel_name", "port_speed"],
    }
    assert blocks["PatchPortBlock"]["resources"]["port_speed"] == ("Speed in Gbit/s", SPEED_TYPE_ID)
    assert blocks["FibreBlock"]["depends_on"] == ["PatchPortBlock"]
    assert blocks["FibreBlock"]["description"] == "A fibre between two patch ports"

    assert {name: (w["target"], w["is_task"], w["description"]) for name, w in found["workflows"].items()} == {
        "create_fibre": ("CREATE", False, "Create a fibre"),  # the later INSERT ... ON CONFLICT DO NOTHING left it
        "terminate_fibre": ("TERMINATE", False, "Terminate a fibre"),
        "modify_patch_bundle": ("MODIFY", False, "Re-patch"),
        "task_audit_patch_panels": ("SYSTEM", True, "Audit the patch panels"),  # create_task
        "validate_fibre": ("VALIDATE", True, "Validate a fibre"),  # plain SQL, then UPDATE ... SET is_task
        "modify_note": ("MODIFY", False, "Modify note"),  # orchestrion's own built-in (0006)
        **BUILT_IN_TASK_ROWS,  # and its built-in tasks (0008)
    }
    # The rows plain SQL inserted got their ids (and creation times) from the database's defaults.
    made_by_database = {
        found["workflows"]["validate_fibre"]["id"],
        products["Fibre 1G"]["id"],
        products["Fibre 1G"]["fixed_inputs"]["speed"][1],
        blocks["FibreBlock"]["resources"]["splice_count"][1],
    }
    assert len(made_by_database) == 4 and all(isinstance(value, uuid.UUID) for value in made_by_database)
    assert products["Fibre 1G"]["created_at"] is not None


def test_upgrade_heads_twice_changes_nothing(upgraded: tuple[Path, str]) -> None:
    """A second ``db upgrade heads`` finds everything applied: same rows, same ids, same version table."""
    app_dir, uri = upgraded
    before = read_snapshot(uri)

    upgrade_heads(app_dir, uri)

    assert read_snapshot(uri) == before
    assert versions(uri) == {ORCHESTRION_HEAD, APP_HEAD}


def test_db_heads_shows_orchestrions_and_the_applications_head(app_dir: Path, tmp_path: Path) -> None:
    """``db heads`` in the application's directory lists both branches' newest revisions."""
    result = orchestrion(app_dir, f"sqlite:///{tmp_path / 'unused.db'}", "db", "heads")

    assert result.returncode == 0, result.stderr
    assert f"Rev: {APP_HEAD} (head)" in result.stdout
    assert f"Rev: {ORCHESTRION_HEAD} (head)" in result.stdout
    assert "Branch names: data" in result.stdout


def test_start_up_leaves_the_applications_rows_and_moves_an_older_orchestrion_row(
    upgraded: tuple[Path, str], started: Callable[[str], Database]
) -> None:
    """``open_database`` (what ``OrchestratorCore()`` does) on the upgraded database finds nothing to do.

    Then the database is made an older orchestrion's (0005: its row, without the tables of 0006 and 0007): start-up
    runs orchestrion's pending revision itself and moves its row to the head; the application's row
    and data stay. 0006 keeps the ``modify_note`` row it finds and links it to every product that
    lacks it: Fibre 1G (plain SQL, after the data branch's ``create``) is the one.
    """
    _, uri = upgraded
    before = read_snapshot(uri)

    database = started(uri)

    with database.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ProductTable)).scalar_one() == 4
    assert versions(uri) == {ORCHESTRION_HEAD, APP_HEAD}
    assert read_snapshot(uri) == before

    with connect(uri) as conn:
        conn.execute(text("DROP TABLE process_idempotency_keys"))
        conn.execute(text("DROP TABLE subscription_customer_descriptions"))
        conn.execute(text("DROP TABLE subscription_versions"))
        drop_columns_since_0009(conn)
        conn.execute(
            text("UPDATE alembic_version SET version_num = '0005' WHERE version_num = :v"), {"v": ORCHESTRION_HEAD}
        )
    assert versions(uri) == {"0005", APP_HEAD}

    started(uri)

    assert versions(uri) == {ORCHESTRION_HEAD, APP_HEAD}
    assert before["products"]["Fibre 1G"]["workflows"] == ["validate_fibre"]
    expected = copy.deepcopy(before)
    expected["products"]["Fibre 1G"]["workflows"] = ["modify_note", "validate_fibre"]
    expected["counts"]["products_workflows"] += 1
    assert read_snapshot(uri) == expected
    with connect(uri) as conn:
        assert inspect(conn).has_table("subscription_customer_descriptions")


def test_start_up_without_orchestrions_row_refuses_until_db_upgrade(
    upgraded: tuple[Path, str], started: Callable[[str], Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the app's row (orchestrion's absorbed as an ancestor): start-up refuses and says what to run.

    That is a database of an orchestrion from before 0005 (0004's anchor was its head, so the app's
    migration took its row), which also lacks 0006's table. ``db upgrade heads`` with the
    application's alembic.ini runs orchestrion's pending revisions and gives orchestrion its row back.
    """
    app_dir, uri = upgraded
    with connect(uri) as conn:
        conn.execute(text("DROP TABLE process_idempotency_keys"))
        conn.execute(text("DROP TABLE subscription_customer_descriptions"))
        conn.execute(text("DROP TABLE subscription_versions"))
        drop_columns_since_0009(conn)
        conn.execute(text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": ORCHESTRION_HEAD})

    with pytest.raises(RuntimeError, match="orchestrion db upgrade heads"):
        started(uri)
    upgrade_in_process(app_dir, uri, monkeypatch)

    assert versions(uri) == {ORCHESTRION_HEAD, APP_HEAD}
    with connect(uri) as conn:
        assert inspect(conn).has_table("subscription_customer_descriptions")
    started(uri)  # and start-up is content again


def test_downgrade_data_branch_to_base_removes_the_catalogue(
    upgraded: tuple[Path, str], started: Callable[[str], Database]
) -> None:
    """``db downgrade data@base`` runs the app's downgrades (``delete``, ``delete_workflow``): its catalogue goes.

    No link rows are left behind (the app's own SQLite engine enforces no foreign keys), orchestrion's
    schema and row stay, and so do the rows of orchestrion's own built-in workflows (``modify_note`` from
    0006, no longer linked to anything, and the tasks from 0008); orchestrion still starts on the database.
    """
    app_dir, uri = upgraded

    result = orchestrion(app_dir, uri, "db", "downgrade", "data@base")

    assert result.returncode == 0, result.stderr
    assert versions(uri) == {ORCHESTRION_HEAD}
    with connect(uri) as conn:
        assert row_counts(conn) == {**dict.fromkeys(CATALOGUE_TABLES, 0), "workflows": 1 + len(BUILT_IN_TASK_ROWS)}
        names = set(conn.execute(text("SELECT name FROM workflows")).scalars())
        assert names == {"modify_note", *BUILT_IN_TASK_ROWS}
        assert {"processes", "subscriptions", "engine_settings", "schedules"} <= set(inspect(conn).get_table_names())
    started(uri)
    assert versions(uri) == {ORCHESTRION_HEAD}


def test_downgrade_without_a_revision_steps_back_the_application_not_orchestrion(
    upgraded: tuple[Path, str], started: Callable[[str], Database]
) -> None:
    """``db downgrade`` with its default revision (-1) in the app's directory undoes the app's newest revision.

    Orchestrion's own row must stay: without it ``open_database`` refuses to start.
    """
    app_dir, uri = upgraded

    result = orchestrion(app_dir, uri, "db", "downgrade")

    assert result.returncode == 0, result.stderr
    assert versions(uri) == {ORCHESTRION_HEAD, "d9a0c3b6e722"}
    started(uri)


def test_downgrade_minus_one_steps_back_one_revision(
    app_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``db downgrade -1``, as its help suggests, undoes the application's newest revision."""
    uri = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade_in_process(app_dir, uri, monkeypatch)

    result = orchestrion(app_dir, uri, "db", "downgrade", "-1")

    assert result.returncode == 0, result.stderr
    assert versions(uri) == {ORCHESTRION_HEAD, "d9a0c3b6e722"}


@pytest.mark.parametrize(
    "fresh_uri",
    [
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
    indirect=True,
)
def test_application_table_gets_its_ids_from_the_database(
    app_dir: Path, fresh_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's own table with ``server_default=uuid_generate_v4()``: rows inserted without an id get one.

    ``data@-1`` then drops the table again and leaves the rest of the data branch.
    """
    add_revision(app_dir, SITES_REVISION)

    upgrade_heads(app_dir, fresh_uri)

    assert versions(fresh_uri) == {ORCHESTRION_HEAD, SITES_REVISION}
    with connect(fresh_uri) as conn:
        sites = conn.execute(text("SELECT site_id, name FROM sites ORDER BY name")).all()
    assert [name for _, name in sites] == ["AMS-1", "UTR-2"]
    ids = {uuid.UUID(str(site_id)) for site_id, _ in sites}
    assert len(ids) == 2

    command.downgrade(in_process(app_dir, fresh_uri, monkeypatch), "data@-1")

    assert versions(fresh_uri) == {ORCHESTRION_HEAD, APP_HEAD}
    with connect(fresh_uri) as conn:
        assert not inspect(conn).has_table("sites")
        assert row_counts(conn, ("products",)) == {"products": 4}


def test_misspelt_key_in_a_migration_fails_the_upgrade_and_leaves_nothing(
    upgraded: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``create()`` with ``product_block`` (for ``product_blocks``) fails the upgrade, naming key and product.

    The revision is not recorded, and nothing it wrote remains: not its block, not its product, not
    the workflow it inserted before calling ``create``.
    """
    app_dir, uri = upgraded
    before = read_snapshot(uri)
    add_revision(app_dir, "0a7d3e5c9b55")

    with pytest.raises(CatalogueError, match=re.escape("product 'Splice' has unknown key(s) 'product_block'")):
        upgrade_in_process(app_dir, uri, monkeypatch)

    assert versions(uri) == {ORCHESTRION_HEAD, APP_HEAD}
    assert read_snapshot(uri) == before  # no Splice, no SplicerBlock, no splice_fibre


@pytest.mark.parametrize(
    ("script_location", "versions_dir", "extra_lines"),
    [
        pytest.param("migrations", "migrations/versions/schema", [], id="orchestrator-core layout"),
        pytest.param("migrations", "migrations/versions/schema", ["version_path_separator = os"], id="legacy key"),
        pytest.param("migrations", "migrations/versions/schema", ["path_separator = os"], id="path_separator"),
        pytest.param("migrations", "migrations/versions", None, id="default location"),
        pytest.param("alembic", "alembic/versions", None, id="default location elsewhere"),
    ],
)
def test_application_config_finds_the_applications_and_orchestrions_revisions(
    tmp_path: Path, script_location: str, versions_dir: str, extra_lines: list[str] | None
) -> None:
    """``application_config(ini)`` sees both branches' heads whatever way the ini spells its version locations.

    ``extra_lines`` None: the ini has no ``version_locations`` (Alembic then uses ``<script_location>/versions``).
    """
    (tmp_path / versions_dir).mkdir(parents=True)
    for revision in (APP / "migrations" / "versions" / "schema").glob("*.py"):
        shutil.copy(revision, tmp_path / versions_dir / revision.name)
    lines = ["[alembic]", f"script_location = %(here)s/{script_location}"]
    if extra_lines is not None:
        lines += [*extra_lines, f"version_locations = %(here)s/{versions_dir}"]
    (tmp_path / "alembic.ini").write_text("\n".join(lines) + "\n")

    script = ScriptDirectory.from_config(application_config(tmp_path / "alembic.ini"))

    assert set(script.get_heads()) == {ORCHESTRION_HEAD, APP_HEAD}


# --- the migration helpers on a migrated database -----------------------------------------------


FIBRES: dict[str, Any] = {
    "product_blocks": {
        "OpticBlock": {"description": "An optic", "tag": "OPTIC", "resources": {"wavelength": "nm"}},
    },
    "products": {
        "Fibre 10G": {
            "product_type": "Fibre",
            "tag": "FIBRE",
            "description": "10G",
            "root_product_block": "OpticBlock",
            "fixed_inputs": {"speed": "10"},
        },
        "Fibre 100G": {
            "product_type": "Fibre",
            "tag": "FIBRE",
            "description": "100G",
            "root_product_block": "OpticBlock",
            "fixed_inputs": {"speed": "100"},
        },
        "Patch 100G": {
            "product_type": "Patch",
            "tag": "PATCH",
            "description": "A patch at 100G",
            "product_blocks": ["OpticBlock"],
        },
    },
}


def write(database: Database, change: Callable[[Connection], Any]) -> Any:
    """Run ``change`` in a transaction of its own, as a migration runs on ``op.get_bind()``."""
    with database.engine.begin() as conn:
        return change(conn)


def read(database: Database) -> dict[str, Any]:
    with database.engine.connect() as conn:
        return snapshot(conn)


@contextmanager
def without_foreign_keys(database: Database) -> Iterator[Connection]:
    """A transaction in which the database enforces no foreign keys (nor their cascades).

    An application's own SQLite engine enforces none; on PostgreSQL ``session_replication_role``
    switches the foreign-key triggers off. So only the helpers' own clean-up can remove link rows.
    """
    with database.engine.connect() as conn:
        if database.is_sqlite:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                if not database.is_sqlite:
                    conn.execute(text("SET LOCAL session_replication_role = replica"))
                yield conn
        finally:
            if database.is_sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def links_of_product(conn: Connection, product_id: uuid.UUID) -> dict[str, int]:
    counts = {}
    for table in (FixedInputTable.__table__, product_product_blocks, products_workflows):
        counts[table.name] = conn.execute(
            select(func.count()).select_from(table).where(table.c.product_id == product_id)
        ).scalar_one()
    return counts


def add_subscription(conn: Connection, product_id: uuid.UUID, block_id: uuid.UUID | None = None) -> uuid.UUID:
    """A minimal subscription on the product (with one instance of ``block_id`` when given)."""
    subscription_id = uuid.uuid4()
    conn.execute(
        insert(SubscriptionTable).values(
            subscription_id=subscription_id,
            customer_id="customer-1",
            product_id=product_id,
            description="A subscription in use",
            status="active",
            insync=True,
        )
    )
    if block_id is not None:
        conn.execute(
            insert(SubscriptionInstanceTable).values(subscription_id=subscription_id, product_block_id=block_id)
        )
    return subscription_id


def test_create_twice_changes_nothing(database: Database) -> None:
    """``create(conn, new)`` a second time with the same data leaves every row (and id) as it was."""
    write(database, lambda conn: helpers.create(conn, FIBRES))
    first = read(database)

    write(database, lambda conn: helpers.create(conn, FIBRES))

    assert read(database) == first
    assert first["counts"]["products"] == 3
    assert first["products"]["Patch 100G"]["blocks"] == ["OpticBlock"]
    assert first["products"]["Fibre 10G"]["fixed_inputs"]["speed"][0] == "10"


def test_create_builds_on_blocks_an_earlier_migration_made(database: Database) -> None:
    """A later migration's data may name blocks only the database has: by name, by id, as a dependency."""
    block_ids = write(
        database,
        lambda conn: helpers.create_product_blocks(
            conn,
            {
                "ChassisBlock": {"description": "A chassis", "tag": "CHASSIS"},
                "LineCardBlock": {"description": "A line card", "tag": "CARD"},
            },
        ),
    )

    write(
        database,
        lambda conn: helpers.create(
            conn,
            {
                "product_blocks": {
                    "RouterBlock": {"description": "A router", "depends_on_block_relations": ["ChassisBlock"]}
                },
                "products": {
                    "Router": {
                        "product_type": "Router",
                        "root_product_block": "RouterBlock",
                        "product_block_ids": [str(block_ids["LineCardBlock"])],
                    },
                    "Chassis": {"product_type": "Chassis", "root_product_block": "ChassisBlock"},
                },
            },
        ),
    )

    found = read(database)
    assert found["products"]["Router"]["blocks"] == ["LineCardBlock", "RouterBlock"]
    assert found["products"]["Chassis"]["blocks"] == ["ChassisBlock"]
    assert found["blocks"]["RouterBlock"]["depends_on"] == ["ChassisBlock"]
    assert found["blocks"]["ChassisBlock"]["id"] == block_ids["ChassisBlock"]
    assert found["counts"]["product_blocks"] == 3


def test_resources_section_adds_resource_types_to_an_existing_block(database: Database) -> None:
    """``resources`` (and ``create_resource_types_for_product_blocks``) give existing blocks new resource types."""
    write(database, lambda conn: helpers.create(conn, FIBRES))
    given_id = uuid.uuid4()

    write(database, lambda conn: helpers.create(conn, {"resources": {"OpticBlock": {"vendor": ("Vendor", given_id)}}}))
    added = write(
        database, lambda conn: helpers.create_resource_types_for_product_blocks(conn, {"OpticBlock": {"serial": "SN"}})
    )

    resources = read(database)["blocks"]["OpticBlock"]["resources"]
    assert resources["vendor"] == ("Vendor", given_id)
    assert resources["serial"] == ("SN", added[0])
    assert resources["wavelength"][0] == "nm"
    assert len(resources) == 3


def test_resources_for_a_block_nobody_has_are_refused(database: Database) -> None:
    """A ``resources`` entry for a block neither the data nor the database has is an error, not ignored."""
    with pytest.raises(CatalogueError, match="'NoSuchBlock'"), database.engine.begin() as conn:
        helpers.create(conn, {"resources": {"NoSuchBlock": {"vendor": "Vendor"}}})

    assert read(database)["counts"]["resource_types"] == 0


def test_create_workflows_links_products_by_tag_and_search_phrase(database: Database) -> None:
    """``create_workflows`` with ``tag`` and ``search_phrase`` links the products with that tag whose name matches."""
    write(database, lambda conn: helpers.create(conn, FIBRES))

    write(
        database,
        lambda conn: helpers.create_workflows(
            conn,
            {
                "upgrade_optics": {
                    "target": "MODIFY",
                    "description": "Upgrade the optics",
                    "tag": "FIBRE",
                    "search_phrase": "%100G",
                },
                "validate_patches": {"target": "VALIDATE", "description": "Validate patches", "tag": "PATCH"},
            },
        ),
    )

    found = read(database)
    assert {name: p["workflows"] for name, p in found["products"].items()} == {
        "Fibre 10G": ["modify_note"],  # every product has modify_note (DEFAULT_PRODUCT_WORKFLOWS)
        "Fibre 100G": ["modify_note", "upgrade_optics"],  # not Patch 100G: another tag; not Fibre 10G: another name
        "Patch 100G": ["modify_note", "validate_patches"],
    }
    assert found["workflows"]["upgrade_optics"]["target"] == "MODIFY"


def test_ensure_default_workflows_links_the_configured_workflows_to_every_product(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workflows named in ``DEFAULT_PRODUCT_WORKFLOWS`` that exist go to every product, later ones included."""
    monkeypatch.setattr(app_settings, "DEFAULT_PRODUCT_WORKFLOWS", ["modify_contact", "not_a_workflow"])
    write(database, lambda conn: helpers.create(conn, FIBRES))
    for name, target in (("modify_contact", "MODIFY"), ("modify_other", "MODIFY")):
        write(
            database,
            lambda conn, name=name, target=target: helpers.create_workflow(conn, {"name": name, "target": target}),
        )

    write(database, helpers.ensure_default_workflows)
    write(
        database,
        lambda conn: helpers.create(conn, {"products": {"Dark Fibre": {"product_type": "Fibre", "tag": "DARK"}}}),
    )

    found = read(database)
    assert {name: p["workflows"] for name, p in found["products"].items()} == {
        name: ["modify_contact"] for name in ("Fibre 10G", "Fibre 100G", "Patch 100G", "Dark Fibre")
    }
    assert "not_a_workflow" not in found["workflows"]


def test_delete_product_refuses_while_a_subscription_uses_it(database: Database) -> None:
    """``delete_product`` of a product with a subscription raises ValueError and deletes nothing.

    ``delete_product_block`` likewise for a block a subscription holds an instance of.
    """
    write(database, lambda conn: helpers.create(conn, FIBRES))
    product_id = write(database, lambda conn: helpers.get_product_id_by_name(conn, "Fibre 10G"))
    block_id = write(database, lambda conn: helpers.get_product_block_id_by_name(conn, "OpticBlock"))
    write(database, lambda conn: add_subscription(conn, product_id, block_id))
    before = read(database)

    with without_foreign_keys(database) as conn:
        with pytest.raises(ValueError, match=r"product 'Fibre 10G' cannot be deleted: 1 subscription"):
            helpers.delete_product(conn, "Fibre 10G")
        with pytest.raises(ValueError, match=r"product block 'OpticBlock' cannot be deleted: 1 subscription"):
            helpers.delete_product_block(conn, "OpticBlock")

    assert read(database) == before


def test_delete_product_removes_its_fixed_inputs_and_links(database: Database) -> None:
    """Without subscriptions ``delete_product`` removes the product, its fixed inputs, block and workflow links.

    Foreign keys do not do it here (see ``without_foreign_keys``); the other products stay as they were.
    """
    write(database, lambda conn: helpers.create(conn, FIBRES))
    write(
        database,
        lambda conn: helpers.create_workflow(
            conn, {"name": "create_fibre", "target": "CREATE", "product_type": "Fibre"}
        ),
    )
    product_id = write(database, lambda conn: helpers.get_product_id_by_name(conn, "Fibre 10G"))
    before = read(database)
    with database.engine.connect() as conn:
        assert links_of_product(conn, product_id) == {
            "fixed_inputs": 1,
            "product_product_blocks": 1,
            "products_workflows": 2,  # create_fibre and modify_note
        }
    assert before["products"]["Fibre 10G"]["workflows"] == ["create_fibre", "modify_note"]

    with without_foreign_keys(database) as conn:
        helpers.delete_product(conn, "Fibre 10G")

    found = read(database)
    with database.engine.connect() as conn:
        assert links_of_product(conn, product_id) == {
            "fixed_inputs": 0,
            "product_product_blocks": 0,
            "products_workflows": 0,
        }
    assert set(found["products"]) == {"Fibre 100G", "Patch 100G"}
    assert found["products"]["Fibre 100G"] == before["products"]["Fibre 100G"]
    assert found["blocks"] == before["blocks"]  # the block is another migration's business
    assert found["workflows"] == before["workflows"]


def test_delete_with_the_create_data_removes_blocks_and_resource_types_cleanly(database: Database) -> None:
    """``delete(conn, new)`` with the mapping ``create`` had (plus resource types) leaves no catalogue rows.

    Only orchestrion's own ``modify_note`` row (0006's, not the data's) stays, with no product to link.
    """
    write(database, lambda conn: helpers.create(conn, FIBRES))
    write(
        database,
        lambda conn: helpers.create(
            conn, {"product_blocks": {"FibreBlock": {"description": "f", "depends_on_block_relations": ["OpticBlock"]}}}
        ),
    )
    obsolete = {
        "products": FIBRES["products"],
        "product_blocks": [*FIBRES["product_blocks"], "FibreBlock"],
        "resource_types": ["wavelength"],
    }

    with without_foreign_keys(database) as conn:
        helpers.delete(conn, obsolete)

    with database.engine.connect() as conn:
        assert row_counts(conn) == {**dict.fromkeys(CATALOGUE_TABLES, 0), "workflows": 1 + len(BUILT_IN_TASK_ROWS)}
        names = set(conn.execute(text("SELECT name FROM workflows")).scalars())
        assert names == {"modify_note", *BUILT_IN_TASK_ROWS}


def test_delete_workflow_marks_a_workflow_with_processes_deleted(
    database: Database, register: Callable[..., Workflow]
) -> None:
    """A workflow that processes ran keeps its row (marked ``deleted_at``) but loses its product links."""
    register("audit_fibres", init >> done, target=Target.SYSTEM)
    result, _process, _log = run_workflow("audit_fibres", [{}])
    assert_complete(result)
    write(database, lambda conn: helpers.create(conn, FIBRES))
    write(database, lambda conn: helpers.add_products_to_workflow_by_product_tag(conn, "audit_fibres", "FIBRE"))
    assert read(database)["products"]["Fibre 10G"]["workflows"] == ["audit_fibres", "modify_note"]

    write(database, lambda conn: helpers.delete_workflow(conn, "audit_fibres"))

    found = read(database)
    assert found["workflows"]["audit_fibres"]["deleted"] is True
    # audit_fibres has no links left; every product keeps modify_note's
    assert {name: p["workflows"] for name, p in found["products"].items()} == {
        name: ["modify_note"] for name in ("Fibre 10G", "Fibre 100G", "Patch 100G")
    }
    assert found["counts"]["products_workflows"] == 3
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM processes")).scalar_one() == 1


def test_delete_workflow_removes_a_workflow_without_processes(database: Database) -> None:
    """A workflow no process ran is removed with its product links; other workflows stay."""
    write(database, lambda conn: helpers.create(conn, FIBRES))
    for name in ("modify_fibre", "terminate_fibre"):
        write(
            database,
            lambda conn, name=name: helpers.create_workflow(
                conn, {"name": name, "target": "MODIFY", "product_type": "Fibre"}
            ),
        )

    with without_foreign_keys(database) as conn:
        helpers.delete_workflow(conn, "modify_fibre")

    found = read(database)
    assert set(found["workflows"]) == {"terminate_fibre", "modify_note", *BUILT_IN_TASK_ROWS}
    assert {name: p["workflows"] for name, p in found["products"].items()} == {
        "Fibre 10G": ["modify_note", "terminate_fibre"],
        "Fibre 100G": ["modify_note", "terminate_fibre"],
        "Patch 100G": ["modify_note"],
    }
    assert found["counts"]["products_workflows"] == 5  # terminate_fibre's two Fibre products, modify_note's three


@pytest.mark.parametrize(
    ("data", "key", "entry"),
    [
        (
            {"products": {"Fibre X": {"product_type": "Fibre", "product_block": "OpticBlock"}}},
            "product_block",
            "product 'Fibre X'",
        ),
        ({"product_blocks": {"OpticBlock": {"resource": {"vendor": "V"}}}}, "resource", "product block 'OpticBlock'"),
        ({"workflows": {"wf": {"target": "MODIFY", "product_types": "Fibre"}}}, "product_types", "workflow 'wf'"),
    ],
)
def test_create_refuses_unknown_keys(database: Database, data: dict[str, Any], key: str, entry: str) -> None:
    """A misspelt key is a ``CatalogueError`` naming the key and the entry; nothing of the data is written."""
    with pytest.raises(CatalogueError) as refused, database.engine.begin() as conn:
        helpers.create(conn, {**FIBRES, **data})

    assert f"{entry} has unknown key(s) '{key}'" in str(refused.value)
    # Only orchestrion's own built-in rows (migrations 0006 and 0008) were there before.
    assert read(database)["counts"] == {**dict.fromkeys(CATALOGUE_TABLES, 0), "workflows": 1 + len(BUILT_IN_TASK_ROWS)}


# --- orchestrion catalogue load -----------------------------------------------------------------


def test_catalogue_load_refuses_an_unknown_key_with_exit_code_2(tmp_path: Path) -> None:
    """``orchestrion catalogue load FILE`` with a misspelt key exits 2, names key and product, and loads nothing."""
    catalogue = {
        "product_blocks": {"OpticBlock": {"description": "An optic"}},
        "products": {"Fibre 10G": {"product_type": "Fibre", "product_block": "OpticBlock"}},
    }
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(catalogue))
    uri = f"sqlite:///{tmp_path / 'catalogue.db'}"

    result = orchestrion(tmp_path, uri, "catalogue", "load", str(path))

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Catalogue not loaded: product 'Fibre 10G' has unknown key(s) 'product_block'" in result.stderr
    with connect(uri) as conn:
        assert row_counts(conn, ("products", "product_blocks")) == {"products": 0, "product_blocks": 0}


def _columns_present(uri: str, expected: tuple[tuple[str, str], ...]) -> set[object]:
    with connect(uri) as conn:
        found = inspect(conn)
        return {(t, c) for t, c in expected if c in {col["name"] for col in found.get_columns(t)}}


def _indexes_present(uri: str, expected: tuple[str, ...]) -> set[object]:
    tables = ("processes", "processes_subscriptions", "subscriptions", "subscription_instance_values")
    with connect(uri) as conn:
        found = inspect(conn)
        return {i["name"] for table in tables for i in found.get_indexes(table)} & set(expected)


@pytest.mark.parametrize(
    ("before", "present", "expected"),
    [
        # who did it, per step: process_steps.action, the process's run actor and abort requester
        pytest.param("0008", _columns_present, STEP_ACTOR_COLUMNS, id="0009"),
        # child processes: the parent, the group it awaits a child in, the branch, what a parent waits for
        pytest.param("0011", _columns_present, CHILD_COLUMNS, id="0012"),
        # the process list's default order and the dashboard's counts are read off indexes
        pytest.param("0013", _indexes_present, LIST_INDEXES, id="0014"),
        # lists by workflow and by customer read off indexes
        pytest.param("0014", _indexes_present, SCALE_INDEXES, id="0016"),
        # the subscription list newest first (orchestrator-ui's default order) reads off an index
        pytest.param("0016", _indexes_present, SUBSCRIPTION_LIST_INDEXES, id="0017"),
        # a creator's processes (orchestrator-ui's "my workflows") read off an index
        pytest.param("0018", _indexes_present, CREATOR_INDEXES, id="0019"),
    ],
)
def test_a_revision_adds_its_schema_and_its_downgrade_removes_it(
    upgraded: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
    before: str,
    present: Callable[[str, tuple[Any, ...]], set[object]],
    expected: tuple[Any, ...],
) -> None:
    app_dir, uri = upgraded
    assert present(uri, expected) == set(expected)
    config = in_process(app_dir, uri, monkeypatch)
    command.downgrade(config, f"schema@{before}")
    assert present(uri, expected) == set()
    assert versions(uri) == {before, APP_HEAD}
    command.upgrade(config, "heads")
    assert present(uri, expected) == set(expected)
    assert versions(uri) == {ORCHESTRION_HEAD, APP_HEAD}


def test_sqlite_reads_out_of_sync_subscriptions_off_an_index_postgres_keeps_its_updates_hot(
    upgraded: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app_dir, uri = upgraded
    expected = set(OUT_OF_SYNC_INDEXES) if uri.startswith("sqlite") else set()
    assert _indexes_present(uri, OUT_OF_SYNC_INDEXES) == expected
    config = in_process(app_dir, uri, monkeypatch)
    command.downgrade(config, "schema@0019")
    assert _indexes_present(uri, OUT_OF_SYNC_INDEXES) == set()
    command.upgrade(config, "heads")
    assert _indexes_present(uri, OUT_OF_SYNC_INDEXES) == expected


def test_postgres_gets_trigram_indexes_for_the_subscription_lists_text_filters(
    upgraded: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app_dir, uri = upgraded
    expected = set() if uri.startswith("sqlite") else set(TRIGRAM_INDEXES)  # the test server has pg_trgm
    assert _indexes_present(uri, TRIGRAM_INDEXES) == expected
    command.downgrade(in_process(app_dir, uri, monkeypatch), "schema@0014")
    assert _indexes_present(uri, TRIGRAM_INDEXES) == set()


def test_0015_and_0016_drop_the_indexes_a_composite_one_leads_with_and_their_downgrades_restore_them(
    upgraded: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app_dir, uri = upgraded
    names = tuple(name for name, _ in SINGLE_COLUMN_INDEXES)
    assert _indexes_present(uri, names) == set()
    composites = (*LIST_INDEXES, *SCALE_INDEXES)
    assert _indexes_present(uri, composites) == set(composites)  # what serves their queries now
    config = in_process(app_dir, uri, monkeypatch)
    command.downgrade(config, "schema@0014")
    assert _indexes_present(uri, names) == set(names)
    command.upgrade(config, "heads")
    assert _indexes_present(uri, names) == set()
    assert versions(uri) == {ORCHESTRION_HEAD, APP_HEAD}


def test_the_head_constant_names_alembics_newest_revision() -> None:
    """A new migration must move ``revision.HEAD``, or a started server would take the schema as current."""
    assert ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() == HEAD


def test_opening_an_up_to_date_database_does_not_load_alembic(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'current.db'}"
    open_database(uri).dispose()  # the first open migrates
    probe = (
        "import sys; from orchestrion.db import open_database; "
        f"open_database({uri!r}).dispose(); print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]", found.stderr
