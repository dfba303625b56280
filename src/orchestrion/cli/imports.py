"""``--import`` (``-i``): the application's modules that register workflows and domain models."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated

import typer

Imports = Annotated[
    list[str],
    typer.Option(
        "--import", "-i", metavar="MODULE", help="Python module that registers workflows (repeatable), e.g. examples"
    ),
]


def import_modules(modules: list[str]) -> None:
    """Import ``modules``, looking in the working directory first, as ``python -m`` and a script would.

    The ``orchestrion`` console script starts without the working directory on ``sys.path``, so
    without this ``-i examples`` in a checkout (or ``-i myapp`` next to one's own package) fails.
    """
    if modules and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise typer.BadParameter(f"cannot import {module!r}: {e}", param_hint="--import") from e
