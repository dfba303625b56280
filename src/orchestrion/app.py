"""The application: ``OrchestratorCore`` is a FastAPI app serving the REST API under ``/api``.

Constructing it initialises the database (applying migrations) and the executor. When the app
starts, processes left in flight by a crash are handed to the executor again, so ``uvicorn
main:app`` needs no separate recovery job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI

from orchestrion import __version__
from orchestrion.api import health, processes, settings, workflows
from orchestrion.api.errors import install_error_handlers
from orchestrion.db import Database, init_database
from orchestrion.executors import set_executor
from orchestrion.logs import configure_logging
from orchestrion.services.processes import recover
from orchestrion.settings import AppSettings, app_settings

logger = structlog.get_logger(__name__)


class OrchestratorCore(FastAPI):
    def __init__(
        self, base_settings: AppSettings = app_settings, *, database: Database | None = None, **kwargs: Any
    ) -> None:
        """``database``: use this already-initialised database instead of ``DATABASE_URI`` (tests, embedding)."""
        configure_logging(base_settings.LOG_LEVEL)
        self.settings = base_settings
        if database is None:
            init_database(base_settings.DATABASE_URI)
        super().__init__(
            title="orchestrion",
            version=__version__,
            description="Workflows for the lifecycle of customer subscriptions.",
            docs_url="/api/docs",
            redoc_url="/api/redoc",
            openapi_url="/api/openapi.json",
            lifespan=self._lifespan,
            **kwargs,
        )
        install_error_handlers(self)
        self.include_router(processes.router, prefix="/api/processes", tags=["processes"])
        self.include_router(workflows.router, prefix="/api/workflows", tags=["workflows"])
        self.include_router(settings.router, prefix="/api/settings", tags=["settings"])
        self.include_router(health.router, prefix="/api/health", tags=["health"])

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        recovered = recover()
        if recovered:
            logger.info("Recovered processes left in flight", count=len(recovered))
        try:
            yield
        finally:
            executor = set_executor(None)
            if executor is not None:
                executor.shutdown(wait=True)
