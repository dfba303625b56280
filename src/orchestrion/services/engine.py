"""Pausing and continuing the engine."""

from __future__ import annotations

from orchestrion.runtime import current


def pause_engine() -> None:
    """Running processes stop at their next step boundary; starts and resumes are refused until unpaused."""
    current().store.set_paused(True)


def unpause_engine() -> int:
    """Continue: processes stopped by the pause are handed to the executor again; returns how many."""
    runtime = current()
    stopped = runtime.store.set_paused(False)
    for process_id in stopped:
        runtime.executor.submit(process_id, resume=True)
    return len(stopped)


def is_engine_paused() -> bool:
    return current().store.is_paused()
