"""Checking a password must not stall the process's event loop (every request and socket of a
web process waits on it): argon2 runs in a worker thread and releases the GIL."""

from __future__ import annotations

import asyncio
import time

import pytest
from argon2 import PasswordHasher

from marketplace.accounts import passwords


async def test_a_password_check_leaves_the_event_loop_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production = PasswordHasher()  # the tests' cheap hasher would prove nothing
    monkeypatch.setattr(passwords, "_hasher", production)
    stored = await passwords.hash_password_async("correct horse battery")
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    started = time.monotonic()
    assert await passwords.verify_password_async(stored, "correct horse battery")
    assert not await passwords.verify_password_async(stored, "wrong horse battery")
    took = time.monotonic() - started
    done.set()
    await ticking
    # Two production checks take a few hundred ms; the loop kept ticking all along.
    assert len(gaps) > 5
    assert max(gaps) < took / 2, (max(gaps), took)
