"""Progress bars for long commands, on stderr and only at a terminal.

A person waiting on ``catalogue load`` of a large file or a ``db upgrade`` sees how far it got; a
pipe, a log file or CI sees nothing but the command's own lines, so output stays easy to parse.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

Advance = Callable[[str], None]  # called once per item done, with what it was


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Advance]:
    """A bar (``total`` items; without one, a count) shown while the block runs; gone once it ends."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda _what: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(what: str) -> None:
            bar.update(task, advance=1, description=f"{description}: {what}")

        yield advance


class _MigrationSteps(logging.Handler):
    """Alembic says "Running upgrade A -> B" for each revision it applies, whichever env.py runs it."""

    def __init__(self, advance: Advance) -> None:
        super().__init__(logging.INFO)
        self.advance = advance

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Running "):
            self.advance(message.removeprefix("Running ").split(",")[0])


@contextmanager
def migration_progress(description: str) -> Iterator[None]:
    """A bar counting the revisions Alembic applies inside the block."""
    if not Console(stderr=True).is_terminal:
        yield
        return
    logger = logging.getLogger("alembic.runtime.migration")
    with progress(description) as advance:
        handler = _MigrationSteps(advance)
        saved = logger.level, logger.propagate
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # the bar says it; the same lines from the root logger would tear it
        try:
            yield
        finally:
            logger.removeHandler(handler)
            logger.level, logger.propagate = saved
