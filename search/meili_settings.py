"""The Meilisearch index as code: its settings and the document body we send.

Plain JSON shapes (what Meilisearch receives), no client types: ``meili_backend`` sends them and
the contract tests compare them field by field. The choices follow the PostgreSQL backend so both
answer the same query the same way (same typo budget, stop words, filters and orders).
"""

from __future__ import annotations

from typing import Any

from marketplace import places, vocab
from search import textmatch
from search.documents import TutorDocument
from search.query import FORMAT_CHOICES, MAX_PAGE, MAX_PER_PAGE

# The attribute each facet filters and counts on. ``format_choices`` rather than ``formats``:
# it adds "in_person" for either in-person format, as the student picks it (the hit keeps the
# tutor's own ``formats``).
FACET_ATTRIBUTES: dict[str, str] = {
    "instrument": "instruments",
    "genre": "genres",
    "language": "languages",
    "level": "levels",
    "format": "format_choices",
}

# What a hit returns: exactly ``TutorDocument.as_dict()`` (a contract test keeps them equal).
HIT_FIELDS = [
    "id",
    "name",
    "headline",
    "bio_excerpt",
    "instruments",
    "instrument_names",
    "teaches",
    "levels",
    "genres",
    "genre_names",
    "languages",
    "formats",
    "city",
    "country",
    "city_geoname_id",
    "_geo",
    "travel_radius_km",
    "currency",
    "lowest_price_minor",
    "lowest_price_minutes",
    "price_per_hour_minor",
    "photo_url",
    "rating",
    "review_count",
    "ranking_score",
    "next_free_at",
]

# Most important first: the ``attribute`` ranking rule prefers matches in earlier attributes.
SEARCHABLE_ATTRIBUTES = [
    "name",
    "instrument_names",
    "genre_names",
    "aliases",  # the vocabulary's synonyms, so "vilon" reaches violin through "violon"
    "headline",
    "city",
    "country_name",
    "language_names",
    "bio",
]

FILTERABLE_ATTRIBUTES = [
    *FACET_ATTRIBUTES.values(),
    "price_per_hour_minor",
    "rating",
    "_geo",
    "next_free_ts",
    "free_half_hours",  # numbered half-hours with a free slot start (search.buckets)
]

SORTABLE_ATTRIBUTES = [
    "price_per_hour_minor",
    "rating",
    "review_count",
    "_geo",
    "next_free_ts",
    "ranking_score",
]

# The built-in rules, reordered as the PostgreSQL backend ranks:
# - "sort" first: a student who sorts by price wants price order, not price as a tie-breaker
#   between text matches. Without a sort parameter it does nothing.
# - "attribute" before "proximity": "jazz piano" should put a tutor who teaches jazz piano
#   (genre and instrument) above one whose bio mentions a "jazz choir on the piano", as the
#   field weights do on PostgreSQL.
# The custom rules then order equally relevant tutors by quality, and ``id`` makes ties, and
# so pages, stable (PostgreSQL breaks ties by tutor id too).
RANKING_RULES = [
    "sort",
    "words",
    "typo",
    "attribute",
    "proximity",
    "exactness",
    "ranking_score:desc",
    "rating:desc",
    "review_count:desc",
    "id:asc",
]

# Meilisearch's own defaults, stated so they cannot drift: ``search.textmatch`` gives the
# PostgreSQL backend the same budget. Five letters is enough for "vilon" (→ "violon", a
# synonym of violin indexed in ``aliases``); four would let "harp" match "hard".
TYPO_TOLERANCE = {
    "enabled": True,
    "minWordSizeForTypos": {
        "oneTypo": textmatch.ONE_TYPO_FROM,
        "twoTypos": textmatch.TWO_TYPOS_FROM,
    },
}

# Every value of the largest vocabulary gets a count, so a facet list is never cut short.
MAX_VALUES_PER_FACET = max(
    len(vocab.INSTRUMENTS),
    len(vocab.GENRES),
    len(vocab.LANGUAGES),
    len(vocab.LEVELS),
    len(FORMAT_CHOICES),
)
# Totals are exact only up to maxTotalHits; this is the deepest page the API accepts.
MAX_TOTAL_HITS = MAX_PAGE * MAX_PER_PAGE


def synonyms() -> dict[str, list[str]]:
    """Meilisearch synonyms (word → its equivalents) from the instrument and genre vocabulary.

    Each group is made mutual: "sax" → "saxophone" and "saxophone" → "sax". A word in several
    groups gets the union.
    """
    out: dict[str, list[str]] = {}
    groups = vocab.synonym_groups(vocab.INSTRUMENTS) + vocab.synonym_groups(vocab.GENRES)
    for group in groups:
        words = list(dict.fromkeys(group))  # "voice" appears twice in its own group
        for word in words:
            known = out.setdefault(word, [])
            known.extend(w for w in words if w != word and w not in known)
    return out


def index_settings() -> dict[str, Any]:
    """The whole settings body (``PATCH /indexes/{uid}/settings``)."""
    return {
        "searchableAttributes": SEARCHABLE_ATTRIBUTES,
        "displayedAttributes": HIT_FIELDS,
        "filterableAttributes": FILTERABLE_ATTRIBUTES,
        "sortableAttributes": SORTABLE_ATTRIBUTES,
        "rankingRules": RANKING_RULES,
        "synonyms": synonyms(),
        "stopWords": sorted(textmatch.STOP_WORDS),
        "typoTolerance": TYPO_TOLERANCE,
        "faceting": {
            "maxValuesPerFacet": MAX_VALUES_PER_FACET,
            "sortFacetValuesBy": {"*": "count"},
        },
        "pagination": {"maxTotalHits": MAX_TOTAL_HITS},
    }


def document_body(doc: TutorDocument) -> dict[str, Any]:
    """The JSON Meilisearch stores for ``doc``: the hit fields plus index-only fields.

    Null fields are left out: Meilisearch treats a missing field as null when filtering and
    sorts it last, and ``_geo`` must be a valid point or absent. ``hit_document`` puts the
    nulls back.
    """
    body: dict[str, Any] = {
        **doc.as_index_dict(),
        "format_choices": list(doc.format_choices),
        "aliases": _aliases(doc),
        "country_name": places.country_name(doc.country) if doc.country else None,
        "language_names": [vocab.language_name(code) or code for code in doc.languages],
        # Filters and sorts need a number; the hit keeps the ISO text in ``next_free_at``.
        "next_free_ts": int(doc.next_free_at.timestamp()) if doc.next_free_at else None,
    }
    return {key: value for key, value in body.items() if value is not None}


def hit_document(hit: dict[str, Any]) -> dict[str, Any]:
    """A Meilisearch hit → the document as ``TutorDocument.as_dict()`` gives it."""
    return {field: hit.get(field) for field in HIT_FIELDS}


def _aliases(doc: TutorDocument) -> list[str]:
    terms = [vocab.instrument(slug) for slug in doc.instruments]
    terms += [vocab.genre(slug) for slug in doc.genres]
    return [synonym for term in terms if term is not None for synonym in term.synonyms]
