"""Structured logging (structlog), keyed by process id and workflow where a worker runs one."""

from __future__ import annotations

import logging
import re
import sys

import structlog

# ``?token=`` in a URL (a WebSocket's or an event stream's: browsers cannot send a header there).
_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&\s\"]*")


class RedactTokens(logging.Filter):
    """Show a token in a logged URL as ``token=***``: uvicorn logs every request's path with its query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub(r"\1***", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_URL.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


def configure_logging(level: str = "INFO", *, json: bool = False) -> None:
    """Log at ``level`` to stderr, as key=value lines (or JSON for log shippers)."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    # Plain tracebacks: rich's (structlog's default when rich is installed) take seconds of CPU each
    # and hold the GIL meanwhile, so a database outage that fails every worker thread at once stalled
    # the whole worker, its heartbeat included; they also print every frame's locals (URIs, tokens).
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=numeric, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))
    for name in ("uvicorn.access", "uvicorn.error"):  # requests; WebSocket handshakes
        server_logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in server_logger.filters):
            server_logger.addFilter(RedactTokens())  # kept when uvicorn configures its loggers later
