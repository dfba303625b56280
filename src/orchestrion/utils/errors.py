"""Exceptions a step may raise to say more than "it failed" (orchestrator-core's ``utils.errors``)."""

from orchestrion.errors import ApiUnavailableError, InconsistentDataError, ProcessFailureError, StartPredicateError

__all__ = ["ApiUnavailableError", "InconsistentDataError", "ProcessFailureError", "StartPredicateError"]
