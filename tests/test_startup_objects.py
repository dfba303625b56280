"""What a long-running command built at startup is kept out of later collections (``utils.startup_objects``).

In a fresh interpreter: freezing is the process's, and would hold every test's objects otherwise.
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc, weakref
from orchestrion.utils.startup_objects import freeze_startup_objects

class Thing:
    pass

kept = Thing()
garbage = Thing()
garbage.cycle = garbage  # only a collection frees it
gone = weakref.ref(garbage)
del garbage
frozen = freeze_startup_objects()
print(gone() is None, any(o is kept for o in gc.get_objects()), frozen == gc.get_freeze_count() > 1000)
later = Thing()
print(any(o is later for o in gc.get_objects()))
"""


def test_startup_garbage_is_collected_and_what_lives_is_left_out_of_later_collections() -> None:
    answer = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    # the cycle was freed, the live object is frozen (no collection walks it), objects made afterwards are not
    assert answer.stdout.split() == ["True", "False", "True", "True"]
