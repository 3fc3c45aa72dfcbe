"""The solo turn: a solo test waits for running tests, and tests wait for a solo test."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests import solo


def _hold(solo_turn: bool, started: threading.Event, release: threading.Event) -> None:
    with solo.turn(solo_turn):
        started.set()
        release.wait(10)


def _start(solo_turn: bool) -> tuple[threading.Thread, threading.Event, threading.Event]:
    started, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=_hold, args=(solo_turn, started, release), daemon=True)
    thread.start()
    return thread, started, release


def test_tests_share_the_room_and_a_solo_test_has_it_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(solo.LOCKS_ENV, str(tmp_path))
    first, first_in, first_out = _start(False)
    second, second_in, second_out = _start(False)
    assert first_in.wait(5) and second_in.wait(5)  # two ordinary tests at once

    alone, alone_in, alone_out = _start(True)
    assert not alone_in.wait(0.3)  # waits for both to end
    first_out.set()
    assert not alone_in.wait(0.3)
    # A test that comes after the solo one waits behind it, though the room is only shared now.
    later, later_in, later_out = _start(False)
    assert not later_in.wait(0.3)
    second_out.set()
    assert alone_in.wait(5)
    assert not later_in.wait(0.3)  # nothing beside the solo test
    alone_out.set()
    assert later_in.wait(5)
    later_out.set()
    for thread in (first, second, alone, later):
        thread.join(5)


def test_without_workers_a_solo_test_waits_for_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(solo.LOCKS_ENV, raising=False)
    began = time.monotonic()
    with solo.turn(True), solo.turn(True):
        pass
    assert time.monotonic() - began < 1
