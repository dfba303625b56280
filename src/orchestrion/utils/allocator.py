"""glibc's malloc settings for orchestrion's long-running commands, so a server's memory stays flat.

A soak of 8 clients showed ``orchestrion run`` growing about 1 MiB a minute with the memory in use
steady: what grew was memory glibc had freed but kept, spread over one arena per thread that ever
allocated and behind a threshold for ``mmap`` that rises each time a large block is freed. Two
arenas and a fixed threshold of 128 KiB (a large block is then mapped and unmapped, and the heap is
trimmed when its top has that much free) stop the growth for a few microseconds per large block.
The free memory between blocks still in use, which no threshold can give back (a later soak kept
up to 7 MiB of it), is returned once a minute (``malloc_trim``: a walk of the two arenas, about a
millisecond).

Only orchestrion's own processes call this (``orchestrion run``, ``worker``, ``scheduler run``): an
application that serves ``OrchestratorCore`` itself keeps its allocator as it is. Anyone who set
glibc's own variables for it decides: nothing is changed then. Without glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
import time

# mallopt(3) parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

ARENAS = 2
THRESHOLD = 128 * 1024  # bytes: glibc's own starting value, no longer raised by what is freed
TRIM_INTERVAL = 60.0  # seconds between returns of the free memory inside the heaps
_OWN_VARIABLES = ("GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def tune_allocator(trim_interval: float = TRIM_INTERVAL) -> bool:
    """Set the arenas and thresholds (before threads start) and return free memory every ``trim_interval``
    seconds; False when not glibc or the environment decides."""
    if not sys.platform.startswith("linux") or any(name in os.environ for name in _OWN_VARIABLES):
        return False
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return False  # musl and others: their allocators have neither these knobs nor this growth
    settings = ((_M_ARENA_MAX, ARENAS), (_M_MMAP_THRESHOLD, THRESHOLD), (_M_TRIM_THRESHOLD, THRESHOLD))
    if not all(libc.mallopt(parameter, value) == 1 for parameter, value in settings):
        return False
    threading.Thread(
        target=_trim_every, args=(libc, trim_interval), name="orchestrion-malloc-trim", daemon=True
    ).start()
    return True


def _trim_every(libc: ctypes.CDLL, interval: float) -> None:
    while True:
        time.sleep(interval)
        libc.malloc_trim(0)
