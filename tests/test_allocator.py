"""glibc's allocator as orchestrion's long-running commands set it (``orchestrion.utils.allocator``).

Each case runs in a fresh interpreter: the settings are the process's, and glibc's own starting
point (a threshold that rises with what is freed) is what they change.
"""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys

import pytest

LIBC = ctypes.util.find_library("c")
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or LIBC is None or not hasattr(ctypes.CDLL(LIBC), "mallinfo2"),
    reason="glibc 2.33 or later only",
)

# Frees a 1 MiB block glibc mapped, then asks for another: is that one mapped as well (counted in
# hblks), or served from the heap, where freed memory stays with the process?
PROBE = """
import ctypes, ctypes.util, sys
from orchestrion.utils.allocator import tune_allocator
print(tune_allocator())
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(1 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblks - before)
"""


def probe(**environment: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    answer = subprocess.run(
        [sys.executable, "-c", PROBE], env={**env, **environment}, capture_output=True, text=True, check=True
    )
    return answer.stdout.split()


def test_a_large_block_stays_mapped_after_one_was_freed() -> None:
    assert probe() == ["True", "1"]


def test_the_environment_decides_when_it_sets_glibcs_own_variables() -> None:
    # glibc's default then: the freed block raised the threshold, the next one comes from the heap
    assert probe(MALLOC_ARENA_MAX="4") == ["False", "0"]
