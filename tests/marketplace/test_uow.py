"""Events wait for the commit, and an event emitted twice in one transaction goes out once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.events import EventBus
from marketplace.uow import emit, unit_of_work


@dataclass(frozen=True)
class Moved:
    booking_id: int


@dataclass
class Note:  # not frozen: unhashable, compared by value
    text: str


class Queue:
    def enqueue(self, name: str, *args: Any) -> None:
        raise AssertionError("no jobs here")


async def test_repeated_events_are_published_once_in_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    seen: list[object] = []
    events = EventBus()

    async def record(event: object) -> None:
        seen.append(event)

    events.subscribe(Moved, record)
    events.subscribe(Note, record)
    async with unit_of_work(sessions, events, Queue()) as session:
        for i in [1, 2, 1, 3, 2]:
            emit(session, Moved(i))
        emit(session, Note("a"))
        emit(session, Note("a"))
        emit(session, Note("b"))
        assert seen == []  # nothing before the commit
    assert seen == [Moved(1), Moved(2), Moved(3), Note("a"), Note("b")]
    # The next transaction starts with nothing pending and nothing remembered.
    async with unit_of_work(sessions, events, Queue()) as session:
        emit(session, Moved(1))
    assert seen[-1] == Moved(1) and len(seen) == 6
