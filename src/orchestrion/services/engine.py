"""Pausing and continuing the engine."""

from __future__ import annotations

from orchestrion.db import get_database
from orchestrion.executors import get_executor
from orchestrion.storage import process_store


def pause_engine() -> None:
    """Running processes stop at their next step boundary; starts and resumes are refused until unpaused."""
    process_store.set_paused(get_database(), True)


def unpause_engine() -> int:
    """Continue: processes stopped by the pause are handed to the executor again; returns how many."""
    stopped = process_store.set_paused(get_database(), False)
    executor = get_executor()
    for process_id in stopped:
        executor.submit(process_id, resume=True)
    return len(stopped)


def is_engine_paused() -> bool:
    return process_store.is_paused(get_database())
