"""Every error orchestrion raises, in one hierarchy; the REST API maps its branches to statuses (``api/errors``).

``OrchestrionError`` is the root; its branches say what kind of refusal it is, and so which HTTP
status it is: bad input, something not found, a conflict with the current state, a precondition,
the engine unavailable, not allowed, or the application's own code failing. Each error also keeps
the built-in base callers have always caught (``ValueError``, ``LookupError``, ...).

The ``ProcessFailureError`` family is different: workflow authors raise it in steps, to fail a
step with a message and details (and, in tasks, to report bad data or an unreachable system).
"""

from __future__ import annotations

from typing import Any

# --- the branches --------------------------------------------------------------------------------


class OrchestrionError(Exception):
    """Base of orchestrion's errors."""


class InvalidInputError(OrchestrionError, ValueError):
    """Input that cannot be accepted: a bad query parameter, unstorable data, inconsistent catalogue data."""


class TooLargeError(InvalidInputError):
    """Input over a configured size limit."""


class NotFoundError(OrchestrionError, LookupError):
    """Something the request names does not exist."""


class ConflictError(OrchestrionError):
    """The request does not fit the current state of what it names (a process that cannot be resumed, ...)."""


class PreconditionError(OrchestrionError):
    """A rule refused the request (a workflow's run predicate)."""


class UnavailableError(OrchestrionError):
    """orchestrion cannot do this now (the engine is paused)."""


class NotAuthorizedError(OrchestrionError, PermissionError):
    """The user may not do this (an authorization callback refused)."""


class NotAuthenticatedError(OrchestrionError):
    """The request does not say who makes it (or says it in a way that is not accepted)."""


class ApplicationCodeError(OrchestrionError):
    """The application's own code (a workflow module, a form generator) failed."""


# --- not found -----------------------------------------------------------------------------------


class SubscriptionNotFoundError(NotFoundError):
    def __init__(self, subscription_id: Any) -> None:
        self.subscription_id = subscription_id
        super().__init__(f"Subscription {subscription_id} not found")


class ProductNotFoundError(NotFoundError):
    def __init__(self, product_id: Any) -> None:
        self.product_id = product_id
        super().__init__(f"Product {product_id} not found")


class BlockNotFoundError(NotFoundError):
    def __init__(self, instance_id: Any) -> None:
        self.instance_id = instance_id
        super().__init__(f"Product block instance {instance_id} not found")


class WorkflowNotFoundError(NotFoundError):
    pass


class ProcessNotFoundError(NotFoundError):
    pass


class ScheduleNotFoundError(NotFoundError):
    pass


class InvalidCallbackTokenError(NotFoundError):
    """The callback route's token is not the process's (or was used already)."""


# --- conflicts -----------------------------------------------------------------------------------


class ProcessNotResumableError(ConflictError):
    pass


class ProcessConflictError(ConflictError):
    """The process is in a status that does not allow this operation (e.g. deleting a running one)."""


class NotAwaitingCallbackError(ConflictError):
    pass


class WorkflowChangedError(ConflictError):
    """The step a process must continue with no longer exists in its workflow."""


class SubscriptionLockedError(ConflictError, RuntimeError):
    """Another process holds the subscription (it is not in sync)."""


class StaleSubscriptionError(ConflictError, RuntimeError):
    """The subscription changed in the database after this model was loaded."""


class BlockInUseError(ConflictError, ValueError):
    """A block this subscription no longer holds is still used by other subscriptions' blocks."""


class ScheduleNameTakenError(ConflictError):
    pass


class ResumeAllRunningError(ConflictError):
    """Another "retry all tasks" is still going through the tasks."""


# --- the rest ------------------------------------------------------------------------------------


class UnstorableTextError(InvalidInputError):
    """A request's text holds a NUL character or a lone surrogate: neither database stores (or compares) it."""

    def __init__(self, where: str) -> None:
        super().__init__(f"The {where} holds a NUL character or a lone surrogate, which no database can store")


class StateTooLargeError(TooLargeError):
    """A process state whose JSON is over ``MAX_PROCESS_STATE_BYTES``: each step stores the whole state."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(
            f"{what} is {size:,} bytes as JSON, more than the limit of {limit:,} bytes (MAX_PROCESS_STATE_BYTES)"
        )
        self.size = size
        self.limit = limit


class StartPredicateError(PreconditionError):
    """A workflow's ``run_predicate`` refused to start it; ``message`` is the predicate's reason."""

    def __init__(self, message: str, workflow_key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.workflow_key = workflow_key


class EnginePausedError(UnavailableError):
    def __init__(self, message: str = "The engine is paused; processes cannot be started or resumed") -> None:
        super().__init__(message)


class WorkflowImportError(ApplicationCodeError):
    """A registered workflow's module cannot be imported (or does not define it): only that workflow is unavailable."""


class FormGeneratorError(ApplicationCodeError):
    """A form generator (the application's code) raised while building or checking its pages."""


# --- what steps raise ----------------------------------------------------------------------------


class ProcessFailureError(Exception):
    """Fail the step with a message and structured ``details`` that are recorded with the failure."""

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InconsistentDataError(ProcessFailureError):
    """A task found data that does not add up; the task process ends ``inconsistent_data`` (for the NOC)."""


class ApiUnavailableError(ProcessFailureError):
    """An external system could not be reached; a task process ends ``api_unavailable``."""
