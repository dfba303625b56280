"""Settings from environment variables (pydantic-settings); ``app_settings`` is read once at import."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_CONNECTION_TIMEOUT = 5.0  # seconds; DATABASE_CONNECTION_TIMEOUT_SECONDS


def normalise_uri(uri: str) -> str:
    """Accept plain ``postgresql://`` URIs and use psycopg 3 for them."""
    url = make_url(uri)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def _default_database_uri() -> SecretStr:
    return SecretStr(f"sqlite:///{Path.cwd() / 'orchestrion.db'}")


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # A secret, as in orchestrator-core: ``app_settings.DATABASE_URI.get_secret_value()`` is the URI.
    # ``postgresql://`` URIs are read as ``postgresql+psycopg://`` (psycopg 3).
    DATABASE_URI: SecretStr = Field(default_factory=_default_database_uri)
    # SQLite only: NORMAL keeps every commit atomic and survives a crash of orchestrion; a power cut
    # may lose the last few commits. FULL also survives that, at a few times the cost per step.
    SQLITE_SYNCHRONOUS: Literal["OFF", "NORMAL", "FULL"] = "NORMAL"
    DATABASE_POOL_SIZE: int = 10
    # The longest a thread waits for a database connection: a pooled one while all are in use, or a
    # new one from an unresponsive server. It fails then (a step's failure, or a heartbeat tried again at
    # the next beat) instead of holding a worker thread; keep it well below PROCESS_LEASE_SECONDS / 3.
    DATABASE_CONNECTION_TIMEOUT_SECONDS: float = Field(DEFAULT_CONNECTION_TIMEOUT, gt=0)
    # How long a starting server (``OrchestratorCore``) or worker waits for an unavailable database (it
    # restarts, fails over, was briefly cut off) before giving up. One-shot commands do not wait.
    DATABASE_STARTUP_WAIT_SECONDS: float = Field(60.0, ge=0)
    EXECUTOR: Literal["threadpool", "celery"] = "threadpool"
    MAX_WORKERS: int = 5
    # A worker's claim on a process lasts this long unless renewed (every third of it); a dead
    # worker's processes are taken over once it lapses, by the next scan of a live worker's
    # heartbeat (also every third of it), whatever its queue: within 4/3 of it (a third of it on the
    # same host), 2x allowing for a loaded machine.
    PROCESS_LEASE_SECONDS: float = 10.0
    # A process created or resumed without a claim (its message is on its way through the broker)
    # is left alone this long before a worker's heartbeat treats its message as lost and runs it.
    RECOVERY_GRACE_SECONDS: float = 10.0
    CELERY_BROKER_URL: str = "redis://localhost:6379/0"
    # Put before the queue names (new_workflows, new_tasks, resumes): deployments sharing a broker.
    CELERY_QUEUE_PREFIX: str = ""
    # ``retrystep`` failures are retried after RETRY_BASE_SECONDS, doubling each time up to
    # RETRY_MAX_DELAY_SECONDS (each delay drawn from its upper half: jitter); the step is tried at
    # most RETRY_MAX_ATTEMPTS times, then the process fails.
    RETRY_BASE_SECONDS: float = 10.0
    RETRY_MAX_DELAY_SECONDS: float = 3600.0
    RETRY_MAX_ATTEMPTS: int = Field(10, ge=1)
    # Run the scheduler inside the API server (``orchestrion run``); off when it runs on its own
    # (``orchestrion scheduler run``). Several may run: only the lease holder fires schedules.
    SCHEDULER_ENABLED: bool = True
    SCHEDULER_TICK_SECONDS: float = 1.0
    # The active scheduler renews its lease every third of this; a standby takes over once it lapses.
    SCHEDULER_LEASE_SECONDS: float = 15.0
    # A run that starts later than this after its scheduled time counts as missed (misfire policy).
    SCHEDULER_MISFIRE_GRACE_SECONDS: float = 60.0
    # ``task_clean_up_tasks`` deletes completed task processes older than this.
    TASK_LOG_RETENTION_DAYS: float = 3
    # ``task_clean_up_tasks`` also removes operator audit log entries older than this (docs/audit.md).
    AUDIT_LOG_RETENTION_DAYS: float = 365
    # A start with an ``Idempotency-Key`` seen within this many hours answers the process it created then.
    IDEMPOTENCY_KEY_RETENTION_HOURS: float = 24
    # A callback that arrives while its action step is still running waits this long for the process
    # to reach "Await callback" (external systems often answer before the step that called them returns).
    CALLBACK_EARLY_WAIT_SECONDS: float = 10.0
    # How often the live-update feed looks for committed changes while clients listen.
    LIVE_UPDATE_INTERVAL_SECONDS: float = 0.5
    # Workflows every product gets (orchestrator-core's ensure_default_workflows migration helper links them).
    DEFAULT_PRODUCT_WORKFLOWS: list[str] = ["modify_note"]
    # The application's form labels: ``<locale>.json`` files (``{"forms": {"fields": {...}}}``) merged
    # over orchestrion's own by ``/api/translations/{locale}``, as in orchestrator-core.
    TRANSLATIONS_DIR: Path | None = None
    # orchestrion keeps no customers: the GraphQL API's subscriptions and processes have this one
    # (applications resolve their own, see docs/graphql.md). Names and defaults as in orchestrator-core.
    DEFAULT_CUSTOMER_FULLNAME: str = "Default::Orchestrator-Core Customer"
    DEFAULT_CUSTOMER_SHORTCODE: str = "default-cust"
    DEFAULT_CUSTOMER_IDENTIFIER: str = "59289a57-70fb-4ff5-9c93-10fe67b12434"
    LOG_LEVEL: str = "INFO"
    # Static bearer tokens for the API, as "user:token,user2:token2". Empty: the API needs no
    # authentication (the embedded default). For OIDC see below, or pass ``authenticate=`` to OrchestratorCore.
    API_TOKENS: str = ""
    # OIDC / OAuth2 access tokens (JWTs) from an identity provider (``orchestrion.api.oidc``; needs
    # ``orchestrion[oidc]``). Set the issuer to turn it on; it replaces API_TOKENS. The keys come
    # from the issuer's discovery document unless OIDC_JWKS_URL names them.
    OIDC_ISSUER: str = ""
    OIDC_AUDIENCE: str = ""
    OIDC_JWKS_URL: str = ""
    OIDC_USERNAME_CLAIM: str = "preferred_username"
    # Cross-origin requests (a UI served from another origin, such as orchestrator-ui): the origins
    # allowed, comma separated, or "*" for any. Empty (the default): no CORS headers, so browsers
    # refuse cross-origin calls. The other three as in orchestrator-core.
    CORS_ORIGINS: str = ""
    CORS_ALLOW_METHODS: list[str] = ["GET", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "HEAD"]
    CORS_ALLOW_HEADERS: list[str] = ["If-None-Match", "Authorization", "If-Match", "Content-Type"]
    CORS_EXPOSE_HEADERS: list[str] = [
        "Cache-Control",
        "Content-Language",
        "Content-Length",
        "Content-Type",
        "Expires",
        "Last-Modified",
        "Pragma",
        "Content-Range",
        "X-Total-Count-Estimated",
        "ETag",
    ]
    # The largest request body the API reads (413 beyond), counted as it arrives, with or without a
    # Content-Length: an oversized body is never held in memory.
    MAX_REQUEST_BODY_BYTES: int = Field(1024 * 1024, ge=0)
    # The largest process state, as JSON: every step stores the whole state in its history row. A step
    # returning a larger one fails saying so; a start or an answer that would make one is refused (413).
    MAX_PROCESS_STATE_BYTES: int = Field(4 * 1024 * 1024, ge=0)
    HOST: str = "127.0.0.1"
    PORT: int = 8080

    def database_display(self) -> str:
        """The database URI without its password, for logs and messages."""
        return make_url(self.DATABASE_URI.get_secret_value()).render_as_string(hide_password=True)

    @field_validator("DATABASE_URI", mode="before")
    @classmethod
    def _psycopg(cls, value: Any) -> Any:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        return normalise_uri(text) if isinstance(text, str) else value


app_settings = AppSettings()
