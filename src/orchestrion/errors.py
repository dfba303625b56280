"""Errors the engine's operations raise; the REST API maps each to one HTTP status."""

from __future__ import annotations


class OrchestrionError(Exception):
    """Base class; ``status_code`` is what the REST API answers with."""

    status_code = 400


class InvalidInputError(OrchestrionError, ValueError):
    """Input that the engine cannot accept (e.g. numbers too large to store)."""

    status_code = 400


class NotFoundError(OrchestrionError, LookupError):
    """Something the request names does not exist."""

    status_code = 404


class SubscriptionNotFoundError(NotFoundError):
    pass


class WorkflowNotFoundError(OrchestrionError, LookupError):
    status_code = 404


class ProcessNotFoundError(OrchestrionError, LookupError):
    status_code = 404


class ProcessNotResumableError(OrchestrionError):
    status_code = 409


class ProcessConflictError(OrchestrionError):
    """The process is in a status that does not allow this operation (e.g. deleting a running one)."""

    status_code = 409


class NotAwaitingCallbackError(OrchestrionError):
    status_code = 409


class InvalidCallbackTokenError(OrchestrionError, LookupError):
    status_code = 404


class EnginePausedError(OrchestrionError):
    status_code = 503


class StartPredicateError(OrchestrionError):
    """A workflow's ``run_predicate`` refused to start it; ``message`` is the predicate's reason."""

    status_code = 412

    def __init__(self, message: str, workflow_key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.workflow_key = workflow_key


class WorkflowImportError(OrchestrionError):
    """A registered workflow's module cannot be imported (or does not define it): only that workflow is unavailable."""

    status_code = 500


class FormGeneratorError(OrchestrionError):
    """A form generator (the application's code) raised while building or checking its pages."""

    status_code = 500


class WorkflowChangedError(OrchestrionError):
    """The step a process must continue with no longer exists in its workflow."""

    status_code = 409
