"""What the command line says when a command fails: one line with the cause and what to do, not a traceback.

Every command's mistakes and refusals come through here (``Cli.__call__``): orchestrion's errors
(``OrchestrionError``: an unknown workflow or process, a process that cannot be resumed, ...),
form input that does not validate, and a database that cannot be reached. Anything else is a bug
or the application's own code failing, and keeps its (standard, locals-free) traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from pydantic_forms.exceptions import FormNotCompleteError, FormValidationError

from orchestrion.db.failures import is_transient
from orchestrion.errors import (
    OrchestrionError,
    ProcessNotFoundError,
    SubscriptionNotFoundError,
    WorkflowNotFoundError,
)
from orchestrion.services.subscription_history import VersionNotFoundError
from orchestrion.settings import app_settings

USAGE = 2  # the request cannot be done as given (click's code for a usage error)
UNAVAILABLE = 1  # the request is fine, what it needs is not there (the database)

_HINTS: dict[type[OrchestrionError], str] = {
    WorkflowNotFoundError: "import the module that registers it with --import (-i)",
    ProcessNotFoundError: "'orchestrion process list' shows the processes in {database}",
    SubscriptionNotFoundError: "'orchestrion subscription list' shows the subscriptions in {database}",
    VersionNotFoundError: "'orchestrion subscription history ID' lists its versions",
}


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error  # SQLAlchemy's wrapper repeats the statement
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def explain(error: Exception) -> tuple[str, int] | None:
    """The one-line message and exit code for a failure a user can act on; None for anything else."""
    database = app_settings.database_display()
    if isinstance(error, FormNotCompleteError):
        return f"The form needs another page (add it to --input): {json.dumps(error.form)}", USAGE
    if isinstance(error, FormValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors)
        return f"Invalid input for {error.validator_name}: {problems}", USAGE
    if isinstance(error, OrchestrionError):
        hint = next((h for cls, h in _HINTS.items() if isinstance(error, cls)), None)
        message = str(error).rstrip(".")
        return (f"{message}; {hint.format(database=database)}" if hint else message), USAGE
    if is_transient(error):
        return (
            f"Cannot reach the database {database} ({_first_line(error)}); "
            "start it, or point DATABASE_URI at one that is running",
            UNAVAILABLE,
        )
    return None


class Cli(typer.Typer):
    """A Typer app whose commands' failures are explained in one line (``explain``) on stderr."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as e:
            explained = explain(e)
            if explained is None:
                raise
            message, code = explained
            typer.echo(f"Error: {message}", err=True)
            sys.exit(code)
