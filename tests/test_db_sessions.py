"""``db.session`` wherever orchestrator-core code uses it, and the rest of the ``orchestrion.db`` surface.

Inside a step it is the step's transaction; in a form generator, an API handler or a
``db.database_scope()`` block it is a session of that scope, closed when the scope ends; in a
script it is the thread's own. The tables are there under orchestrator-core's names, with
``Table.query``, and UUIDs given as strings work on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import String, func, insert, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from orchestrion import db as dbmod
from orchestrion.app import OrchestratorCore
from orchestrion.db import ALL_DB_MODELS, Database, ProductTable, SubscriptionTable, WorkflowTable, db, init_database
from orchestrion.db.database import BaseModel
from orchestrion.db.types import utcnow
from orchestrion.forms import SubmitFormPage
from orchestrion.forms.validators import Choice
from orchestrion.runtime import current, install
from orchestrion.settings import AppSettings
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import FormGenerator, State
from orchestrion.workflow import StepList, done, init, step, workflow


def _add_product(database: Database, name: str) -> uuid.UUID:
    product_id = uuid.uuid4()
    with database.write() as session:
        session.execute(
            insert(ProductTable).values(
                product_id=product_id,
                name=name,
                description=f"{name} product",
                product_type="Gadget",
                tag="GADGET",
                status="active",
                created_at=utcnow(),
            )
        )
    return product_id


def gadget_form() -> FormGenerator:
    """A form built from the database, as orchestrator-core forms are: every gadget product is a choice."""
    names = [
        p.name for p in ProductTable.query.filter(ProductTable.product_type == "Gadget").order_by(ProductTable.name)
    ]
    choice: Any = Choice.__call__("GadgetChoice", {n: (n, n) for n in names})

    class PickGadget(SubmitFormPage):
        gadget: choice

    picked = yield PickGadget
    return {"gadget": picked.gadget.value}


@step("Note the gadget")
def note_the_gadget(gadget: str) -> State:
    return {"noted": gadget}


@workflow("Pick a gadget", initial_input_form=gadget_form)
def pick_a_gadget() -> StepList:
    return init >> note_the_gadget >> done


seen_sessions: list[Session] = []
router = APIRouter()


@router.get("/gadgets")
def list_gadgets() -> list[str]:
    """An application's own endpoint that queries through ``db.session``, as orchestrator-core's do."""
    seen_sessions.append(db.session)
    query = select(ProductTable.name).where(ProductTable.product_type == "Gadget").order_by(ProductTable.name)
    return list(db.session.scalars(query))


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    seen_sessions.clear()
    app = OrchestratorCore(database=database)
    app.include_router(router, prefix="/api/app")
    with WorkflowInstanceForTests(pick_a_gadget, "pick_a_gadget"), TestClient(app) as c:
        yield c


def test_a_form_sees_what_was_committed_after_the_previous_request(database: Database, client: TestClient) -> None:
    _add_product(database, "Gadget A")
    first = client.post("/api/processes/pick_a_gadget", json=[])
    assert first.json()["form"]["$defs"]["GadgetChoice"]["enum"] == ["Gadget A"]
    _add_product(database, "Gadget B")  # committed elsewhere, between two requests served by the same threads
    for _ in range(3):  # the server's threads take turns: none may answer from an old snapshot
        again = client.post("/api/processes/pick_a_gadget", json=[])
        assert again.json()["form"]["$defs"]["GadgetChoice"]["enum"] == ["Gadget A", "Gadget B"]
    started = client.post("/api/processes/pick_a_gadget", json=[{"gadget": "Gadget B"}])
    assert started.status_code == 201, started.text
    assert client.get(f"/api/processes/{started.json()['id']}").json()["current_state"]["noted"] == "Gadget B"


def test_an_api_handler_has_a_session_of_its_own_closed_after_the_request(
    database: Database, client: TestClient
) -> None:
    _add_product(database, "Gadget A")
    assert client.get("/api/app/gadgets").json() == ["Gadget A"]
    _add_product(database, "Gadget B")
    assert client.get("/api/app/gadgets").json() == ["Gadget A", "Gadget B"]
    first, second = seen_sessions
    assert first is not second
    assert not first.in_transaction() and not second.in_transaction()  # closed: no snapshot or lock outlives it


def test_outside_any_scope_db_session_is_the_threads_and_its_owner_commits(database: Database) -> None:
    product_id = uuid.uuid4()
    db.session.add(
        ProductTable(product_id=product_id, name="Script gadget", description="", product_type="Gadget", tag="G")
    )
    db.session.flush()
    threads = db.session
    assert db.session is threads  # one per thread, until closed
    with database.read() as other:
        assert other.get(ProductTable, product_id) is None  # not committed yet
    db.session.commit()
    with database.read() as other:
        assert other.get(ProductTable, product_id) is not None
    with db.database_scope():
        scoped = db.session
        assert scoped is not threads
        assert scoped.get(ProductTable, str(product_id)) is not None
    assert not scoped.in_transaction()
    assert db.session is threads
    threads.close()


def test_table_query_and_uuid_strings_work_on_every_database(database: Database) -> None:
    product_id = _add_product(database, "Gadget Q")
    with db.database_scope():
        assert [p.name for p in ProductTable.query.filter(ProductTable.product_id == str(product_id))] == ["Gadget Q"]
        assert db.session.get(ProductTable, str(product_id)).name == "Gadget Q"  # type: ignore[union-attr]
        names = db.session.scalars(select(ProductTable.name).where(ProductTable.product_id.in_([str(product_id)])))
        assert list(names) == ["Gadget Q"]
        assert ProductTable.query.join(WorkflowTable, ProductTable.workflows).count() == 0
        count = (
            select(func.count()).select_from(SubscriptionTable).where(SubscriptionTable.product_id == str(product_id))
        )
        assert db.session.scalar(count) == 0


def test_plain_sql_inserts_get_ids_and_timestamps_from_the_database(database: Database) -> None:
    from sqlalchemy import text

    insert_raw = text(
        "INSERT INTO workflows (name, target, description) VALUES ('raw_task', 'SYSTEM', :d) ON CONFLICT DO NOTHING"
    )
    with database.write() as session:  # what applications' data migrations write
        session.execute(insert_raw, {"d": "Raw"})
        session.execute(insert_raw, {"d": "Again"})
    with database.read() as session:
        row = session.execute(select(WorkflowTable).where(WorkflowTable.name == "raw_task")).scalar_one()
        assert isinstance(row.workflow_id, uuid.UUID)
        assert (row.description, row.is_task, row.deleted_at) == ("Raw", False, None)
        assert abs((utcnow() - row.created_at).total_seconds()) < 300
        assert session.execute(text("SELECT uuid_generate_v4()")).scalar() is not None


class GadgetNoteTable(BaseModel):
    """An application's own table: it lives in the same metadata as orchestrion's."""

    __tablename__ = "test_gadget_notes"

    note_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    text: Mapped[str] = mapped_column(String(100))


def test_an_applications_own_tables_share_the_metadata(database: Database) -> None:
    assert BaseModel.metadata.tables["test_gadget_notes"] is GadgetNoteTable.__table__
    assert {ProductTable, SubscriptionTable, WorkflowTable} <= set(ALL_DB_MODELS)
    GadgetNoteTable.__table__.create(database.engine, checkfirst=True)  # type: ignore[attr-defined]
    try:
        with database.write() as session:
            session.add(GadgetNoteTable(text="kept"))
        with db.database_scope():
            assert [n.text for n in GadgetNoteTable.query.all()] == ["kept"]
    finally:
        GadgetNoteTable.__table__.drop(database.engine)  # type: ignore[attr-defined]


def test_settings_keep_the_database_uri_secret_and_init_database_takes_them(sqlite_db: Database, tmp_path: Any) -> None:
    settings = AppSettings(DATABASE_URI=f"sqlite:///{tmp_path / 'from-settings.db'}")
    assert isinstance(settings.DATABASE_URI, SecretStr) and str(settings.DATABASE_URI) == "**********"
    assert AppSettings(DATABASE_URI="postgresql://u:pw@host/db").DATABASE_URI.get_secret_value() == (
        "postgresql+psycopg://u:pw@host/db"
    )
    assert (
        AppSettings(DATABASE_URI="postgresql://u:pw@host/db").database_display() == "postgresql+psycopg://u:***@host/db"
    )
    previous = install(None)  # the fixture's runtime: set aside, so init_database does not close it
    try:
        assert init_database(settings).uri == settings.DATABASE_URI.get_secret_value()
        assert current().settings is settings
        assert init_database(f"sqlite:///{tmp_path / 'from-uri.db'}").uri.endswith("from-uri.db")
    finally:
        dbmod.get_database().dispose()
        install(previous)


@pytest.mark.postgres
def test_postgres_connections_run_without_jit_unless_the_uri_chooses(postgres_uri: str) -> None:
    """Compiling a statement costs more than it saves for orchestrion's short ones; a URI's options decide."""
    chosen_uri = postgres_uri.replace("options=", "options=-cjit%3Don%20")
    assert chosen_uri != postgres_uri
    for uri, expected in ((postgres_uri, "off"), (chosen_uri, "on")):
        database = Database(uri)
        try:
            with database.read() as session:
                assert session.execute(text("SHOW jit")).scalar_one() == expected
        finally:
            database.dispose()
