"""The search document: one pure function from a tutor profile (and its rating signals) to
what the index stores.

Both backends index the same document, so a hit looks the same whichever one answers.
``rating``, ``review_count`` and ``ranking_score`` come from reviews through
``search.signals``; ``next_free_at`` and ``free_half_hours`` from scheduling's open slots
through ``search.availability``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from markdown_it import MarkdownIt

from marketplace import vocab
from marketplace.profiles.models import TutorProfile
from marketplace.profiles.service import photo_rendition_key
from search.signals import TutorSignals

if TYPE_CHECKING:
    from search.availability import FreeTime

BIO_EXCERPT_CHARS = 300
PHOTO_SIZE = "small"

_markdown = MarkdownIt("commonmark", {"html": False})
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Teaching:
    """One instrument the tutor teaches, with the levels (slugs, easiest first)."""

    instrument: str
    name: str
    levels: tuple[str, ...]


@dataclass(frozen=True)
class GeoPoint:
    lat: float
    lng: float


@dataclass(frozen=True)
class TutorDocument:
    id: int
    name: str
    headline: str
    bio_excerpt: str
    teaches: tuple[Teaching, ...]
    genres: tuple[str, ...]
    languages: tuple[str, ...]
    formats: tuple[str, ...]
    city: str
    country: str
    city_geoname_id: int | None
    geo: GeoPoint | None
    currency: str
    lowest_price_minor: int | None
    price_per_hour_minor: int | None
    photo_url: str | None
    # The length of the cheapest lesson, shown with its price ("from €16 · 30-min lesson").
    lowest_price_minutes: int | None = None
    # Rating signals from reviews (search.signals); free time from scheduling.
    rating: float | None = None
    review_count: int = 0
    ranking_score: float | None = None
    next_free_at: datetime | None = None
    # Numbered half-hours with an open slot start in the next 14 days (search.buckets):
    # indexed for the availability filter, not returned with hits.
    free_half_hours: tuple[int, ...] = ()
    travel_radius_km: int | None = None
    # The whole bio as plain text: searchable, but not returned with hits (see as_index_dict).
    bio: str = ""

    @property
    def instruments(self) -> tuple[str, ...]:
        return tuple(t.instrument for t in self.teaches)

    @property
    def levels(self) -> tuple[str, ...]:
        """Every level taught on any instrument, in vocabulary order."""
        taught = {level for t in self.teaches for level in t.levels}
        return tuple(level.slug for level in vocab.LEVELS if level.slug in taught)

    @property
    def format_choices(self) -> tuple[str, ...]:
        """The formats a student can filter on: the tutor's own, plus ``in_person`` for either
        in-person one."""
        in_person = ("in_person",) if {"studio", "student_home"} & set(self.formats) else ()
        return (*self.formats, *in_person)

    def as_index_dict(self) -> dict[str, Any]:
        """What a search engine indexes: the hit plus the searchable full bio and the free
        half-hours."""
        return {**self.as_dict(), "bio": self.bio, "free_half_hours": list(self.free_half_hours)}

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored in the index and returned as a hit (``_geo`` as Meilisearch
        names it)."""
        return {
            "id": self.id,
            "name": self.name,
            "headline": self.headline,
            "bio_excerpt": self.bio_excerpt,
            "instruments": list(self.instruments),
            "instrument_names": [t.name for t in self.teaches],
            "teaches": [
                {"instrument": t.instrument, "name": t.name, "levels": list(t.levels)}
                for t in self.teaches
            ],
            "levels": list(self.levels),
            "genres": list(self.genres),
            "genre_names": [_term_name(vocab.genre(slug), slug) for slug in self.genres],
            "languages": list(self.languages),
            "formats": list(self.formats),
            "city": self.city,
            "country": self.country,
            "city_geoname_id": self.city_geoname_id,
            "_geo": {"lat": self.geo.lat, "lng": self.geo.lng} if self.geo else None,
            "travel_radius_km": self.travel_radius_km,
            "currency": self.currency,
            "lowest_price_minor": self.lowest_price_minor,
            "lowest_price_minutes": self.lowest_price_minutes,
            "price_per_hour_minor": self.price_per_hour_minor,
            "photo_url": self.photo_url,
            "rating": self.rating,
            "review_count": self.review_count,
            "ranking_score": self.ranking_score,
            "next_free_at": self.next_free_at.isoformat() if self.next_free_at else None,
        }


def build_document(
    profile: TutorProfile,
    media_url: Callable[[str], str],
    signals: TutorSignals | None = None,
    free: FreeTime | None = None,
) -> TutorDocument:
    """The document for ``profile``; ``media_url`` turns a media key into a URL; ``signals``
    are the tutor's ratings (none: not reviewed yet); ``free`` their open slots (none: no
    free time known)."""
    signals = signals or TutorSignals()
    prices = [(p.duration_minutes, p.price_minor) for p in profile.prices]
    bio = plain_text(profile.bio_markdown)
    photo = photo_rendition_key(profile.photo_key, PHOTO_SIZE) if profile.photo_key else None
    geo = None
    if profile.latitude is not None and profile.longitude is not None:
        geo = GeoPoint(lat=profile.latitude, lng=profile.longitude)
    return TutorDocument(
        id=profile.user_id,
        name=profile.display_name,
        headline=profile.headline,
        bio_excerpt=excerpt(bio),
        bio=bio,
        teaches=tuple(
            Teaching(
                instrument=item.instrument,
                name=_term_name(vocab.instrument(item.instrument), item.instrument),
                levels=tuple(item.levels),
            )
            for item in profile.instruments
        ),
        genres=tuple(profile.genres),
        languages=tuple(profile.languages),
        formats=tuple(profile.formats),
        city=profile.city_name,
        country=profile.country_code,
        city_geoname_id=profile.city_geoname_id,
        geo=geo,
        travel_radius_km=profile.travel_radius_km,
        currency=profile.currency,
        lowest_price_minor=min((price for _, price in prices), default=None),
        lowest_price_minutes=min(prices, key=lambda p: (p[1], p[0]), default=(None, 0))[0],
        price_per_hour_minor=hourly_price(prices),
        photo_url=media_url(photo) if photo else None,
        rating=signals.rating,
        review_count=signals.review_count,
        ranking_score=signals.ranking_score,
        next_free_at=free.next_free_at if free else None,
        free_half_hours=free.free_half_hours if free else (),
    )


def hourly_price(prices: list[tuple[int, int]]) -> int | None:
    """The cheapest rate among the tutor's lesson lengths, normalised to 60 minutes.

    "Under 40 an hour" must compare like with like: 25 for 30 minutes is 50 an hour.
    """
    rates = [(price * 60 + minutes // 2) // minutes for minutes, price in prices if minutes > 0]
    return min(rates, default=None)


def plain_text(markdown: str) -> str:
    """Markdown → plain text on one line (no markup, no link targets)."""
    parts: list[str] = []
    for token in _markdown.parse(markdown):
        for child in token.children or ():
            if child.type in ("text", "code_inline"):
                parts.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                parts.append(" ")
        if token.block and token.nesting == -1:
            parts.append(" ")
    return _SPACES.sub(" ", "".join(parts)).strip()


def excerpt(text: str, limit: int = BIO_EXCERPT_CHARS) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters plus an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    cut = head.rsplit(" ", 1)[0] if " " in head else text[:limit]
    return cut.rstrip(" ,;:.-") + "…"


def _term_name(term: vocab.Term | None, fallback: str) -> str:
    return term.name if term else fallback
