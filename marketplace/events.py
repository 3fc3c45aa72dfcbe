"""Domain events: how a lower package tells a higher one that something happened.

Services collect events while they work and publish them after their transaction commits, so a
subscriber never sees a change that was rolled back. Subscribers are wired in ``app.py`` and in
the worker; they should be quick (typically: enqueue a job).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], Awaitable[None] | None]


@dataclass(frozen=True)
class TutorProfileChanged:
    """A tutor's public data or visibility changed (edit, approval, suspension, media ready)."""

    tutor_id: int


@dataclass(frozen=True)
class TutorRatingChanged:
    """A tutor's review aggregates changed (a review written, edited, hidden or restored)."""

    tutor_id: int


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)

    def subscribe(
        self, event_type: type[E], handler: Callable[[E], Awaitable[None] | None]
    ) -> None:
        self._handlers[event_type].append(handler)

    async def publish(self, *events: object) -> None:
        for event in events:
            for handler in self._handlers.get(type(event), []):
                try:
                    result = handler(event)
                    if result is not None:
                        await result
                except Exception:
                    # The change is committed; a failing subscriber must not turn it into an error
                    # for the user. It is logged so an operator sees it.
                    logger.exception("event handler failed for %r", event)
