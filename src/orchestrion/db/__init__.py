"""The database of this Python process, and the names orchestrator-core applications import from ``db``.

``init_database()`` configures it (and applies the migrations); ``db.session`` is the session
database code uses (the running step's, else the current scope's: see ``orchestrion.db.sessions``).
The tables are re-exported under orchestrator-core's names, and ``ALL_DB_MODELS`` lists them; an
application appends its own tables (derived from ``orchestrion.db.database.BaseModel``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from orchestrion.db.database import BaseModel, Database, RawJSON, normalise_uri
from orchestrion.db.domain_models import (
    FixedInputTable,
    ProcessSubscriptionTable,
    ProductBlockRelationTable,
    ProductBlockTable,
    ProductTable,
    ResourceTypeTable,
    SubscriptionCustomerDescriptionTable,
    SubscriptionInstanceRelationTable,
    SubscriptionInstanceTable,
    SubscriptionInstanceValueTable,
    SubscriptionTable,
)
from orchestrion.db.failures import wait_out
from orchestrion.db.models import (
    EngineSettingsTable,
    InputStateTable,
    ProcessStepTable,
    ProcessTable,
    WorkflowTable,
)
from orchestrion.db.schedule_models import SchedulerLeaderTable, ScheduleTable
from orchestrion.db.sessions import StepSession, bind_session, database_scope, session, transaction_session
from orchestrion.db.statements import FastStatement, RawConnection, RawTransaction

if TYPE_CHECKING:
    from orchestrion.settings import AppSettings

__all__ = [
    "ALL_DB_MODELS",
    "BaseModel",
    "Database",
    "EngineSettingsTable",
    "FastStatement",
    "FixedInputTable",
    "InputStateTable",
    "ProcessStepTable",
    "ProcessSubscriptionTable",
    "ProcessTable",
    "ProductBlockRelationTable",
    "ProductBlockTable",
    "ProductTable",
    "RawConnection",
    "RawJSON",
    "RawTransaction",
    "ResourceTypeTable",
    "ScheduleTable",
    "SchedulerLeaderTable",
    "StepSession",
    "SubscriptionCustomerDescriptionTable",
    "SubscriptionInstanceRelationTable",
    "SubscriptionInstanceTable",
    "SubscriptionInstanceValueTable",
    "SubscriptionTable",
    "WorkflowTable",
    "bind_session",
    "db",
    "get_database",
    "init_database",
    "is_initialised",
    "normalise_uri",
    "open_database",
    "session",
]

ALL_DB_MODELS: list[type[BaseModel]] = [
    EngineSettingsTable,
    FixedInputTable,
    InputStateTable,
    ProcessStepTable,
    ProcessSubscriptionTable,
    ProcessTable,
    ProductBlockRelationTable,
    ProductBlockTable,
    ProductTable,
    ResourceTypeTable,
    ScheduleTable,
    SchedulerLeaderTable,
    SubscriptionCustomerDescriptionTable,
    SubscriptionInstanceRelationTable,
    SubscriptionInstanceTable,
    SubscriptionInstanceValueTable,
    SubscriptionTable,
    WorkflowTable,
]


def get_database() -> Database:
    """The current runtime's database (see ``orchestrion.runtime``)."""
    from orchestrion.runtime import current

    return current().database


def open_database(settings: AppSettings | str | None = None, *, migrate: bool = True, wait: bool = False) -> Database:
    """Open the database ``settings`` names (``AppSettings``, a URI, or None for ``app_settings``), migrated
    and with every subscription's history started.

    ``wait``: a service starting up waits out an unavailable database (``DATABASE_STARTUP_WAIT_SECONDS``).
    """
    from orchestrion.settings import AppSettings, app_settings

    chosen = settings if isinstance(settings, AppSettings) else app_settings
    uri = settings if isinstance(settings, str) else chosen.DATABASE_URI.get_secret_value()
    database = Database(
        uri,
        pool_size=chosen.DATABASE_POOL_SIZE,
        sqlite_synchronous=chosen.SQLITE_SYNCHRONOUS,
        connection_timeout=chosen.DATABASE_CONNECTION_TIMEOUT_SECONDS,
    )
    if migrate:
        patience = chosen.DATABASE_STARTUP_WAIT_SECONDS if wait else 0.0
        wait_out(lambda: _migrate(database), patience=patience, what="start-up")
    return database


def _migrate(database: Database) -> None:
    """Migrate to the head, then give subscriptions older than their history its first version
    (docs/history.md); both idempotent, so a start-up that met an outage in either does it again."""
    from orchestrion.db.revision import at_head
    from orchestrion.domain.history_backfill import backfill

    if not at_head(database):
        from orchestrion.db.migrate import upgrade

        upgrade(database)
    backfill(database)


def init_database(settings: AppSettings | str | None = None, *, migrate: bool = True, wait: bool = False) -> Database:
    """Open the database and make it the process's (with a runtime of its own, as its default).

    ``settings``: an ``AppSettings`` (as orchestrator-core applications pass it), a database URI,
    or None for ``app_settings``. A runtime this replaces as the process's default is closed.
    ``wait``: as for ``open_database``.
    """
    from orchestrion.runtime import Runtime, install
    from orchestrion.settings import AppSettings, app_settings

    database = open_database(settings, migrate=migrate, wait=wait)
    previous = install(Runtime(database, settings if isinstance(settings, AppSettings) else app_settings))
    if previous is not None:
        previous.close()
        previous.database.dispose()
    return database


def is_initialised() -> bool:
    from orchestrion.runtime import is_set_up

    return is_set_up()


class _Db:
    """``from orchestrion.db import db``: orchestrator-core's handle on the database.

    ``db.session`` is the running step's transaction inside a step, and the current scope's session
    elsewhere (form generators, API handlers, scripts); ``db.database_scope()`` opens a scope.
    """

    @property
    def session(self) -> Session:
        return transaction_session() or get_database().scoped()

    @property
    def database(self) -> Database:
        return get_database()

    @property
    def engine(self) -> Any:
        return get_database().engine

    @contextmanager
    def database_scope(self) -> Iterator[None]:
        with database_scope(get_database()):
            yield


db = _Db()
