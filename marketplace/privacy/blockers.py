"""What stops an account deletion until the user deals with it.

The kernel cannot see lessons or payouts, so the packages that own them register a check here
(wired in ``app.py``); each answers the reasons, with what to do about them, in words the
confirmation page shows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Blocker:
    code: str
    """``future_lesson`` or ``unsettled_lesson`` (the API's error code)."""
    message: str
    """What it is and what to do ("Cancel it first: you get €30 back.")."""
    link: str = ""


DeletionCheck = Callable[[AsyncSession, int], Awaitable[list[Blocker]]]

_CHECKS: dict[str, DeletionCheck] = {}


def register(name: str, check: DeletionCheck) -> None:
    """Add (or replace: wiring runs once per process and per app) a check by name."""
    _CHECKS[name] = check


async def blockers_for(session: AsyncSession, user_id: int) -> list[Blocker]:
    found: list[Blocker] = []
    for check in _CHECKS.values():
        found.extend(await check(session, user_id))
    return found
