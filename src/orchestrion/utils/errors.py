"""Exceptions a step may raise to say more than "it failed"."""

from __future__ import annotations

from typing import Any

from orchestrion.errors import StartPredicateError

__all__ = ["ApiUnavailableError", "InconsistentDataError", "ProcessFailureError", "StartPredicateError"]


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
