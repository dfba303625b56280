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


# Fills 64 MiB of the heap with small blocks, keeps the last (so the heap's top cannot shrink) and frees
# the rest: that memory stays resident until something returns it. Prints the resident MiB freeing
# returned, then starts the trimmer and polls (up to 10 s) until it has returned most of the rest.
TRIMMED = """
import ctypes, ctypes.util, time
from orchestrion.utils.allocator import tune_allocator
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
blocks = [libc.malloc(1024) for _ in range(65536)]
for block in blocks:
    ctypes.memset(block, 1, 1024)
full = resident()
for block in blocks[:-1]:
    libc.free(block)
print(full - resident() < 16)
print(tune_allocator(trim_interval=0.05))
deadline = time.monotonic() + 10
while full - resident() < 48 and time.monotonic() < deadline:
    time.sleep(0.05)
print(full - resident() >= 48)
"""


def test_free_memory_between_blocks_in_use_is_returned() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    answer = subprocess.run([sys.executable, "-c", TRIMMED], env=env, capture_output=True, text=True, check=True)
    # freeing alone returned (almost) nothing; the trimmer returned most of the 64 MiB
    assert answer.stdout.split() == ["True", "True", "True"]
