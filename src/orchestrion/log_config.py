"""Logger levels applications pass to their logging set-up (``LOGGER_OVERRIDES``, as in orchestrator-core).

Each entry is ``name -> {"level": ..., "propagate": True}``; the level can be set per logger at
deploy time with ``LOG_LEVEL_<NAME>`` (dots as underscores), e.g. ``LOG_LEVEL_SQLALCHEMY_ENGINE=INFO``.
"""

from __future__ import annotations

import os
from typing import Any


def logger_config(name: str, default_level: str = "INFO") -> tuple[str, dict[str, Any]]:
    level = os.environ.get(f"LOG_LEVEL_{name.upper().replace('.', '_')}", default_level).upper()
    return name, {"level": level, "propagate": True}


LOGGER_OVERRIDES: dict[str, dict[str, Any]] = dict(
    [
        logger_config("asyncio"),
        logger_config("httpcore"),
        logger_config("sqlalchemy.engine", default_level="WARNING"),
        logger_config("uvicorn"),
        logger_config("alembic", default_level="WARNING"),
    ]
)
