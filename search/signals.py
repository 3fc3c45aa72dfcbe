"""What search needs from packages it must not import: a tutor's rating signals.

``reviews`` and ``search`` are siblings at the top of the dependency graph, so neither imports
the other. Search declares this small port; the composition root (``marketplace/app.py``) plugs
in a function that reads the reviews aggregates. Without one (``no_signals``) documents carry
no rating, which is what a tutor without reviews looks like.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class TutorSignals:
    rating: float | None = None
    """The plain average of the tutor's published ratings (the ``rating_min`` filter)."""
    review_count: int = 0
    ranking_score: float | None = None
    """The Bayesian average that "sort by rating" and relevance ties rank by."""


# (session, tutor ids) → signals of those that have any; read in the indexing transaction.
SignalSource = Callable[[AsyncSession, Sequence[int]], Awaitable[Mapping[int, TutorSignals]]]


async def no_signals(session: AsyncSession, tutor_ids: Sequence[int]) -> Mapping[int, TutorSignals]:
    return {}
