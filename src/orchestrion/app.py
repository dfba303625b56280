"""The application: ``OrchestratorCore`` is a FastAPI app serving the REST API under ``/api``.

Constructing it opens the database (applying migrations) and builds the runtime it works for
(``orchestrion.runtime``). When the app starts, processes left in flight by a crash are handed to
the executor again, so ``uvicorn main:app`` needs no separate recovery job, and the scheduler
starts (``SCHEDULER_ENABLED``). When it stops, its executor is shut down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from orchestrion import __version__
from orchestrion.api import (
    audit,
    customer_descriptions,
    events,
    forms,
    health,
    metrics,
    processes,
    products,
    schedules,
    settings,
    subscriptions,
    translations,
    version,
    workflows,
)
from orchestrion.api.body_limit import BodyLimitMiddleware
from orchestrion.api.docs_assets import serve_docs
from orchestrion.api.errors import install_error_handlers
from orchestrion.api.oidc import oidc_authenticator
from orchestrion.api.openapi import SECURED, document_errors
from orchestrion.api.request_text import refuse_unstorable_text
from orchestrion.api.scope import RuntimeMiddleware
from orchestrion.api.security import Authenticator, anonymous, bearer_tokens
from orchestrion.db import Database, open_database
from orchestrion.db.failures import wait_out
from orchestrion.db.statistics import StatisticsKeeper
from orchestrion.domain.catalogue_diff import catalogue_mismatches
from orchestrion.graphql import create_graphql_router
from orchestrion.logs import configure_logging
from orchestrion.runtime import Runtime, activate, install, is_set_up, of_database
from orchestrion.scheduler.runner import Scheduler
from orchestrion.services.change_feed import ChangeFeed
from orchestrion.services.processes import recover
from orchestrion.settings import AppSettings, app_settings
from orchestrion.ui import mount_ui

logger = structlog.get_logger(__name__)


def _configured_authenticator(settings: AppSettings) -> Authenticator:
    if settings.OIDC_ISSUER:
        return oidc_authenticator(
            settings.OIDC_ISSUER,
            settings.OIDC_AUDIENCE,
            jwks_url=settings.OIDC_JWKS_URL or None,
            username_claim=settings.OIDC_USERNAME_CLAIM,
        )
    return bearer_tokens(settings.API_TOKENS) if settings.API_TOKENS else anonymous


class OrchestratorCore(FastAPI):
    def __init__(
        self,
        base_settings: AppSettings = app_settings,
        *,
        database: Database | None = None,
        authenticate: Authenticator | None = None,
        runtime: Runtime | None = None,
        **kwargs: Any,
    ) -> None:
        """The application, with a runtime of its own built from ``base_settings``.

        ``database``: an initialised database to use instead of ``DATABASE_URI`` (tests, embedding);
        when a runtime already owns it, the application works for that one. ``runtime``: the runtime
        to work for. ``authenticate``: who is calling (see ``orchestrion.api.security``); default:
        OIDC access tokens when ``OIDC_ISSUER`` is set, else ``API_TOKENS`` bearer tokens when set,
        else no authentication.
        """
        configure_logging(base_settings.LOG_LEVEL)
        self.settings = base_settings
        if runtime is None:
            if database is None:
                database = open_database(base_settings, wait=True)
            runtime = of_database(database) or Runtime(database, base_settings)
        self.runtime = runtime
        if not is_set_up():  # the process's default too: scripts and the CLI in this process see it
            install(runtime)
        self.change_feed = ChangeFeed(runtime.database, interval=base_settings.LIVE_UPDATE_INTERVAL_SECONDS)
        super().__init__(
            title="orchestrion",
            version=__version__,
            description="Workflows for the lifecycle of customer subscriptions.",
            docs_url=None,  # served by serve_docs, from the package rather than a CDN
            redoc_url=None,
            openapi_url="/api/openapi.json",
            lifespan=self._lifespan,
            dependencies=[Depends(refuse_unstorable_text), *kwargs.pop("dependencies", ())],
            **kwargs,
        )
        self.authenticate: Authenticator = authenticate or _configured_authenticator(base_settings)
        install_error_handlers(self)
        self.add_middleware(RuntimeMiddleware, runtime=runtime)
        self.add_middleware(BodyLimitMiddleware, max_bytes=base_settings.MAX_REQUEST_BODY_BYTES)  # inside CORS
        if origins := [o.strip() for o in base_settings.CORS_ORIGINS.split(",") if o.strip()]:
            self.add_middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=base_settings.CORS_ALLOW_METHODS,
                allow_headers=base_settings.CORS_ALLOW_HEADERS,
                expose_headers=base_settings.CORS_EXPOSE_HEADERS,
            )
        self.include_router(processes.router, prefix="/api/processes", tags=["processes"], **SECURED)
        self.include_router(subscriptions.router, prefix="/api/subscriptions", tags=["subscriptions"], **SECURED)
        self.include_router(products.router, prefix="/api", tags=["catalogue"], **SECURED)
        self.include_router(workflows.router, prefix="/api/workflows", tags=["workflows"], **SECURED)
        self.include_router(settings.router, prefix="/api/settings", tags=["settings"], **SECURED)
        self.include_router(health.router, prefix="/api/health", tags=["health"])
        self.include_router(metrics.router, prefix="/api/metrics", tags=["health"], **SECURED)
        self.include_router(events.router, prefix="/api", tags=["live updates"])
        self.include_router(schedules.router, prefix="/api/schedules", tags=["schedules"], **SECURED)
        self.include_router(audit.router, prefix="/api/audit-log", tags=["audit"], **SECURED)
        self.include_router(
            customer_descriptions.router,
            prefix="/api/subscription_customer_descriptions",
            tags=["subscriptions"],
            **SECURED,
        )
        self.include_router(forms.router, prefix="/api/forms", tags=["forms"], **SECURED)
        self.include_router(translations.router, prefix="/api/translations", tags=["forms"], **SECURED)
        self.include_router(version.router, prefix="/api/version", tags=["health"], **SECURED)
        serve_docs(self, docs_url="/api/docs", redoc_url="/api/redoc")
        mount_ui(self)
        self._graphql_registered = False

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document, listing the error statuses each operation answers (``api/openapi``)."""
        if self.openapi_schema is None:
            self.openapi_schema = document_errors(super().openapi())
        return self.openapi_schema

    def register_graphql(self, **kwargs: Any) -> None:
        """Serve the GraphQL API at ``/api/graphql`` (orchestrator-core's ``register_graphql``).

        Takes ``create_graphql_router``'s arguments: ``query``, ``mutation``, ``graphql_models``,
        ``subscription_interface``, ... Call it after importing the application's products, so
        each domain model gets its type. Without a call, the app registers the default schema when
        it starts.
        """
        if self._graphql_registered:
            raise RuntimeError("the GraphQL API is registered already")
        router = create_graphql_router(**kwargs)
        # GraphQL describes itself (introspection, GraphiQL at GET /api/graphql), not in OpenAPI
        self.include_router(router, prefix="/api/graphql", **SECURED, include_in_schema=False)
        self._graphql_registered = True

    def _check_catalogue(self) -> None:
        with self.runtime.database.read() as session:
            for mismatch in catalogue_mismatches(session):
                logger.warning("Domain model and catalogue disagree", mismatch=mismatch)

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        if not self._graphql_registered:
            self.register_graphql()
        with activate(self.runtime):
            patience = self.settings.DATABASE_STARTUP_WAIT_SECONDS
            wait_out(self._check_catalogue, patience=patience, what="start-up")
            recovered = wait_out(recover, patience=patience, what="start-up")
            if recovered:
                logger.info("Recovered processes left in flight", count=len(recovered))
            scheduler = Scheduler(self.runtime.database) if self.settings.SCHEDULER_ENABLED else None
        statistics = StatisticsKeeper(self.runtime.database) if self.runtime.database.is_sqlite else None
        for service in (scheduler, statistics):
            if service is not None:
                service.start()
        try:
            yield
        finally:
            for service in (scheduler, statistics):
                if service is not None:
                    service.stop()
            self.runtime.close()
