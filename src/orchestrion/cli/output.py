"""How the command line shows things: tables of rows, times, and parameters in ``--help``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import typer
from typer.core import TyperArgument, TyperOption


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"


def echo_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Rows under a header in padded columns: readable, and easy to cut or grep."""
    table = [tuple(header), *(tuple(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def echo_count(shown: int, total: int, singular: str, plural: str) -> None:
    """The line under a list: how many there are, and how many of them it shows when that is fewer."""
    noun = singular if total == 1 else plural
    typer.echo(f"\n{shown} of {total} {noun} (--limit shows more)" if total > shown else f"\n{total} {noun}")


def _value_name(param: TyperArgument | TyperOption, ctx: object) -> str:
    """An option's value as its metavar or its name (``--port PORT``); nothing for a flag or an argument."""
    if isinstance(param, TyperArgument) or param.is_flag or param.count:
        return ""
    return param.metavar or (param.name or "").rstrip("_").upper()


def readable_help() -> None:
    """Name parameters' values in ``--help`` instead of showing their Python types.

    Typer shows ``<str>``, ``<list[str]>`` and ``<bool>`` (even on flags) next to every parameter;
    an argument's name and an option's metavar say more, as in Click's and argparse's help.
    """
    TyperArgument.display_type_rich = _value_name  # type: ignore[method-assign,assignment]
    TyperOption.display_type_rich = _value_name  # type: ignore[method-assign,assignment]
