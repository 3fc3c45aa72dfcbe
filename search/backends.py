"""The search port: what every backend (PostgreSQL, Meilisearch) offers, and what it returns.

Backends speak in our own dataclasses (``TutorDocument`` in, ``SearchResult`` out); no client
library type crosses this boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from marketplace.errors import DomainError
from search import buckets
from search.documents import TutorDocument
from search.query import AVAILABILITY, FACETS, SearchQuery


class SearchUnavailable(DomainError):
    """The backend cannot be reached or failed; the caller may retry shortly."""

    status_code = 503
    code = "search_unavailable"

    def __init__(self, message: str = "Search is briefly unavailable. Please try again.") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class SearchHit:
    document: dict[str, Any]
    distance_km: float | None = None

    def as_dict(self, with_distance: bool) -> dict[str, Any]:
        if not with_distance:
            return self.document
        distance = None if self.distance_km is None else round(self.distance_km, 1)
        return {**self.document, "distance_km": distance}


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    total: int
    # facet name → value → count, e.g. {"instrument": {"violin": 12}}; see ``complete_facets``.
    facets: dict[str, dict[str, int]]
    backend: str
    took_ms: int = 0
    page: int = 1
    per_page: int = 20

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class SearchBackend(Protocol):
    name: str

    async def configure(self) -> None:
        """Create or update the index and its settings; safe to call on every start."""

    async def upsert(self, documents: Sequence[TutorDocument]) -> None:
        """Add or replace these documents."""

    async def delete(self, tutor_ids: Sequence[int]) -> None:
        """Remove these tutors; unknown ids are ignored."""

    async def search(self, query: SearchQuery) -> SearchResult:
        """Hits for ``query.page``, the exact total, and disjunctive facet counts."""

    async def rebuild(self, batches: AsyncIterable[Sequence[TutorDocument]]) -> int:
        """Replace the whole index with ``batches`` and swap it in atomically: searches see the
        old index until the new one is complete. Returns the number of documents."""

    async def health(self) -> str:
        """A short description when healthy; raises when the backend cannot serve searches."""

    async def aclose(self) -> None:
        """Release client resources (connections belong to their owner, not the backend)."""


def complete_facets(
    query: SearchQuery, counts: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    """Every facet present, values by count (then name), and each selected value listed even at
    zero, so a ticked checkbox never vanishes from the page. Availability lists every bucket,
    in the order of the week."""
    out: dict[str, dict[str, int]] = {}
    for facet in FACETS:
        values = dict(counts.get(facet, {}))
        for chosen in query.selected(facet):
            values.setdefault(chosen, 0)
        out[facet] = dict(sorted(values.items(), key=lambda item: (-item[1], item[0])))
    found = counts.get(AVAILABILITY, {})
    out[AVAILABILITY] = {b.slug: found.get(b.slug, 0) for b in buckets.BUCKETS}
    return out
