"""What a student asks for: the ``SearchQuery`` and the validation of the API parameters.

Every rule lives here so the JSON API, the search page and every backend agree on it. Errors
are collected per parameter name and raised together as one 422.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from marketplace import places, vocab
from marketplace.accounts.service import valid_time_zones
from marketplace.errors import FieldErrors
from search import buckets
from search.documents import GeoPoint

MAX_Q = 200
MAX_VALUES = 20
MAX_RADIUS_KM = 500
# A city without a radius means "near this city", not "anywhere, ordered by distance".
DEFAULT_CITY_RADIUS_KM = places.DEFAULT_SEARCH_RADIUS_KM
MAX_PER_PAGE = 50
DEFAULT_PER_PAGE = 20
MAX_FREE_WITHIN_DAYS = 60
MAX_PAGE = 10_000

# "in_person" is a student's word for either in-person format.
FORMAT_CHOICES: dict[str, tuple[str, ...]] = {
    "online": ("online",),
    "in_person": ("studio", "student_home"),
    "studio": ("studio",),
    "student_home": ("student_home",),
}
# Facets whose values are stored in the document (counted per value).
FACETS = ("instrument", "genre", "language", "level", "format")
# Free time in the viewer's zone (``search.buckets``): counted per bucket, for ``time_zone``.
AVAILABILITY = "availability"
ALL_FACETS = (*FACETS, AVAILABILITY)
DEFAULT_TIME_ZONE = "UTC"


class Sort(StrEnum):
    RELEVANCE = "relevance"
    RATING = "rating"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    DISTANCE = "distance"
    SOONEST = "soonest"


@dataclass(frozen=True)
class SearchQuery:
    """A validated search. Facet values are known slugs/codes, deduplicated, in request order."""

    q: str = ""
    instruments: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    location: GeoPoint | None = None
    radius_km: float | None = None
    price_min: int | None = None
    price_max: int | None = None
    rating_min: float | None = None
    free_within_days: int | None = None
    availability: tuple[str, ...] = ()  # bucket slugs (search.buckets), any of them
    time_zone: str = DEFAULT_TIME_ZONE  # the viewer's: buckets are read in this zone
    sort: Sort = Sort.RELEVANCE
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def format_values(self) -> tuple[str, ...]:
        """The stored formats that satisfy the requested ones (``in_person`` expanded)."""
        out: list[str] = []
        for choice in self.formats:
            out.extend(f for f in FORMAT_CHOICES[choice] if f not in out)
        return tuple(out)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def selected(self, facet: str) -> tuple[str, ...]:
        """The values chosen for ``facet`` (one of ``ALL_FACETS``)."""
        chosen: tuple[str, ...] = getattr(self, _FACET_FIELDS[facet])
        return chosen


_FACET_FIELDS = {
    "instrument": "instruments",
    "genre": "genres",
    "language": "languages",
    "level": "levels",
    "format": "formats",
    AVAILABILITY: "availability",
}


def build_query(
    *,
    q: str | None = None,
    instrument: Sequence[str] | None = None,
    genre: Sequence[str] | None = None,
    language: Sequence[str] | None = None,
    level: Sequence[str] | None = None,
    format: Sequence[str] | None = None,
    near: int | None = None,
    lat: float | None = None,
    lng: float | None = None,
    radius_km: float | None = None,
    price_min: int | None = None,
    price_max: int | None = None,
    rating_min: float | None = None,
    free_within_days: int | None = None,
    availability: Sequence[str] | None = None,
    tz: str | None = None,
    sort: str | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> SearchQuery:
    """Validate typed parameters (named as in the API) into a ``SearchQuery``, or raise 422."""
    errors = FieldErrors()
    text = " ".join((q or "").split())
    if len(text) > MAX_Q:
        errors.add("q", f"Keep the search to {MAX_Q} characters.")
    instruments = _codes(errors, "instrument", instrument, vocab.instrument, "instrument")
    genres = _codes(errors, "genre", genre, vocab.genre, "genre")
    languages = _codes(
        errors, "language", [v.lower() for v in language or ()], vocab.language_name, "language"
    )
    levels = _codes(errors, "level", level, vocab.level, "level")
    formats = _codes(errors, "format", format, FORMAT_CHOICES.get, "lesson format")
    location = _location(errors, near, lat, lng)
    if radius_km is None and near is not None and set(formats) != {"online"}:
        radius_km = float(DEFAULT_CITY_RADIUS_KM)
    if radius_km is not None:
        if location is None:
            if not {"near", "lat", "lng"} & errors.errors.keys():
                errors.add(
                    "radius_km",
                    "Choose a city to search within a distance of it (or give lat and lng).",
                )
        elif not (math.isfinite(radius_km) and 1 <= radius_km <= MAX_RADIUS_KM):
            errors.add("radius_km", f"Choose a radius from 1 to {MAX_RADIUS_KM} km.")
    for name, value in (("price_min", price_min), ("price_max", price_max)):
        if value is not None and value < 0:
            errors.add(name, "A price cannot be negative.")
    if price_min is not None and price_max is not None and 0 <= price_max < price_min:
        errors.add("price_max", "The highest price must be at least the lowest price.")
    if rating_min is not None and not (math.isfinite(rating_min) and 0 <= rating_min <= 5):
        errors.add("rating_min", "Choose a rating from 0 to 5.")
    if free_within_days is not None and not 1 <= free_within_days <= MAX_FREE_WITHIN_DAYS:
        errors.add("free_within_days", f"Choose 1 to {MAX_FREE_WITHIN_DAYS} days.")
    slots_when = _codes(errors, "availability", availability, buckets.BY_SLUG.get, "time of week")
    time_zone = (tz or "").strip() or DEFAULT_TIME_ZONE
    if time_zone not in _known_zones():
        errors.add(
            "tz", f"Unknown time zone {time_zone[:64]!r}: use an IANA name such as Europe/Berlin."
        )
    chosen_sort = Sort.RELEVANCE
    if sort:
        try:
            chosen_sort = Sort(sort)
        except ValueError:
            errors.add("sort", "Sort by " + ", ".join(s.value for s in Sort) + ".")
    if chosen_sort is Sort.DISTANCE and location is None and "near" not in errors.errors:
        errors.add("sort", "Sorting by distance needs a location: give near, or lat and lng.")
    if not 1 <= page <= MAX_PAGE:
        errors.add("page", f"Pages are numbered from 1 to {MAX_PAGE}.")
    if not 1 <= per_page <= MAX_PER_PAGE:
        errors.add("per_page", f"Ask for 1 to {MAX_PER_PAGE} results per page.")
    errors.raise_if_any()
    return SearchQuery(
        q=text,
        instruments=instruments,
        genres=genres,
        languages=languages,
        levels=levels,
        formats=formats,
        location=location,
        radius_km=radius_km,
        price_min=price_min,
        price_max=price_max,
        rating_min=rating_min or None,  # 0 means "any rating", unrated tutors included
        free_within_days=free_within_days,
        availability=tuple(b.slug for b in buckets.BUCKETS if b.slug in slots_when),
        time_zone=time_zone,
        sort=chosen_sort,
        page=page,
        per_page=per_page,
    )


# Reading the zone database walks the file system: once per process.
_known_zones = lru_cache(maxsize=1)(valid_time_zones)


def _codes(
    errors: FieldErrors,
    field: str,
    values: Sequence[str] | None,
    lookup: Callable[[str], object],
    what: str,
) -> tuple[str, ...]:
    out: list[str] = []
    for value in values or ():
        value = value.strip()
        if not value:
            continue
        if lookup(value) is None:
            errors.add(field, f"Unknown {what} {value[:40]!r}.")
        elif value not in out:
            out.append(value)
    if len(out) > MAX_VALUES:
        errors.add(field, f"Choose at most {MAX_VALUES}.")
    return tuple(out)


def _location(
    errors: FieldErrors, near: int | None, lat: float | None, lng: float | None
) -> GeoPoint | None:
    if near is not None:
        if lat is not None or lng is not None:
            errors.add("near", "Give either near (a city) or lat and lng, not both.")
            return None
        city = places.get_city(near)
        if city is None:
            errors.add("near", "Choose a city from the list.")
            return None
        return GeoPoint(lat=city.latitude, lng=city.longitude)
    if lat is None and lng is None:
        return None
    if lat is None or lng is None:
        errors.add("lat" if lat is None else "lng", "Give both lat and lng.")
        return None
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        errors.add("lat", "Latitude goes from -90 to 90.")
    if not (math.isfinite(lng) and -180 <= lng <= 180):
        errors.add("lng", "Longitude goes from -180 to 180.")
    if "lat" in errors.errors or "lng" in errors.errors:
        return None
    return GeoPoint(lat=lat, lng=lng)


# Parameters the search page reads from its URL, by type (the API declares the same ones).
_LISTS = ("instrument", "genre", "language", "level", "format", "availability")
_INTS = ("near", "price_min", "price_max", "free_within_days", "page", "per_page")
_FLOATS = ("lat", "lng", "radius_km", "rating_min")


def typed_params(params: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Query-string values → ``build_query`` keyword arguments; blank fields count as absent,
    unknown names are ignored, and a malformed number is a 422 naming its field."""
    errors = FieldErrors()
    typed: dict[str, Any] = {}
    for name, values in params.items():
        last = values[-1].strip() if values else ""
        if name in _LISTS:
            typed[name] = [v for v in values if v.strip()]
        elif not last:
            continue
        elif name in _INTS:
            try:
                typed[name] = int(last)
            except ValueError:
                errors.add(name, "Enter a whole number.")
        elif name in _FLOATS:
            try:
                typed[name] = float(last)
            except ValueError:
                errors.add(name, "Enter a number.")
        elif name in ("q", "sort", "tz"):
            typed[name] = last
    errors.raise_if_any()
    return typed
