"""Tests marked ``solo`` run with nothing beside them, even under pytest-xdist.

A test that judges live audio on real clocks (concealment, level, jitter buffer) starves when the
other worker runs a heavy test on the second core, and then fails for the machine's sake, not the
code's. Under xdist every test holds one of two file locks (``flock``) from its setup to its
teardown: other tests share the room, a solo test has it to itself. A third lock, the gate, gives a
waiting solo test precedence: it holds the gate while it waits for the room, so no other test
starts in the meantime, and the other worker pauses until it is done.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The xdist controller makes the folder and tells the workers through this variable.
LOCKS_ENV = "DUET_TEST_SOLO_LOCKS"


@contextmanager
def turn(solo: bool) -> Iterator[None]:
    """Hold the room for one test: alone when ``solo``, shared otherwise."""
    folder = os.environ.get(LOCKS_ENV)
    if not folder:  # one process runs every test: nothing runs beside anything
        yield
        return
    with open(Path(folder) / "gate", "a") as gate, open(Path(folder) / "room", "a") as room:
        fcntl.flock(gate, fcntl.LOCK_EX)
        if solo:
            fcntl.flock(room, fcntl.LOCK_EX)  # the gate stays shut until this test ends
        else:
            fcntl.flock(room, fcntl.LOCK_SH)
            fcntl.flock(gate, fcntl.LOCK_UN)
        yield
    # Closing the files releases their locks.
