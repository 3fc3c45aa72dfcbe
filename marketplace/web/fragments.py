"""Page fragments: how a higher package adds a section to a page it may not import.

A page names a slot ("tutor_page", "lesson_page") and passes what the section is about; the
composition root registers fragments for the slot. Each fragment loads its own context and names
its template; the page includes the rendered fragments in order. So the public tutor page shows
reviews without the kernel importing ``reviews``, and the lesson page offers "Leave a review"
without ``scheduling`` importing it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

# (request, session, subject) → the template's context, or None to show nothing.
Loader = Callable[[Any, AsyncSession, Mapping[str, Any]], Awaitable[Mapping[str, Any] | None]]


@dataclass(frozen=True)
class Fragment:
    template: str
    load: Loader


@dataclass(frozen=True)
class RenderedFragment:
    """Included by the page as ``{% include f.template %}`` with ``section = f.context``."""

    template: str
    context: Mapping[str, Any]


class Fragments:
    def __init__(self) -> None:
        self._slots: dict[str, list[Fragment]] = defaultdict(list)

    def add(self, slot: str, fragment: Fragment) -> None:
        self._slots[slot].append(fragment)

    async def render(
        self, slot: str, request: Any, session: AsyncSession, **subject: Any
    ) -> list[RenderedFragment]:
        rendered = []
        for fragment in self._slots.get(slot, []):
            context = await fragment.load(request, session, subject)
            if context is not None:
                rendered.append(RenderedFragment(fragment.template, context))
        return rendered
