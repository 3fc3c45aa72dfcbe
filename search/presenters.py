"""What the search page shows: labels, facet options, links that keep every filter."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from marketplace import places, vocab
from search import buckets
from search.backends import SearchResult
from search.query import (
    AVAILABILITY,
    DEFAULT_CITY_RADIUS_KM,
    DEFAULT_TIME_ZONE,
    FACETS,
    FORMAT_CHOICES,
    SearchQuery,
    Sort,
)

PAGE_PATH = "/search"
FACET_PARAMS = {"instrument": "Instrument", "genre": "Genre", "language": "Language"}
FACET_PARAMS |= {"level": "Level", "format": "Lesson format"}
VISIBLE_OPTIONS = 12
PRICE_STEPS = (1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000)  # minor units per hour
RADIUS_STEPS = (5, 10, 50, 100, 250, 500)  # and DEFAULT_CITY_RADIUS_KM, the empty choice
FREE_WITHIN_STEPS = (1, 3, 7, 14, 30)
SORT_LABELS = {
    Sort.RELEVANCE: "Best match",
    Sort.RATING: "Highest rated",
    Sort.PRICE_ASC: "Price: low to high",
    Sort.PRICE_DESC: "Price: high to low",
    Sort.DISTANCE: "Nearest first",
    Sort.SOONEST: "Soonest available",
}
_KNOWN = {"q", "near", "lat", "lng", "radius_km", "price_min", "price_max", "rating_min"}
_KNOWN |= {"free_within_days", "sort", "page", "per_page", "tz", AVAILABILITY, *FACETS}


def labels() -> dict[str, dict[str, str]]:
    """Display names of every facet value, for the page and for search.js."""
    return {
        "instrument": {t.slug: t.name for t in vocab.INSTRUMENTS},
        "genre": {t.slug: t.name for t in vocab.GENRES},
        "language": dict(vocab.LANGUAGES),
        "level": {t.slug: t.name for t in vocab.LEVELS},
        "format": {
            "online": "Online",
            "in_person": "In person",
            "studio": "At the tutor's studio",
            "student_home": "At my home",
        },
        AVAILABILITY: {b.slug: b.label for b in buckets.BUCKETS},
    }


def page_params(raw: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The page's query string, cleaned: blanks dropped, and a typed city name (the form
    without JavaScript) resolved into ``near``."""
    params = {k: [v for v in values if v.strip()] for k, values in raw.items() if k in _KNOWN}
    params = {k: v for k, v in params.items() if v}
    city_text = next((v.strip() for v in raw.get("city", []) if v.strip()), "")
    if city_text and "near" not in params and "lat" not in params:
        name, _, country = (part.strip() for part in city_text.partition(","))
        found = places.find_city(name, country) if len(country) == 2 else None
        found = found or next(iter(places.search_cities(name, limit=1)), None)
        # An unknown name is kept as an impossible id so the query reports it on "near".
        params["near"] = [str(found.geoname_id) if found else "0"]
    return params


def format_distance(km: float | None) -> str:
    """ "800 m", "3.2 km", "18 km", "1,204 km": as precise as a traveller cares about."""
    if km is None:
        return ""
    if km < 1:
        return f"{max(100, round(km * 10) * 100)} m" if km >= 0.05 else "under 100 m"
    if km < 10:
        return f"{km:.1f} km"
    return f"{round(km):,} km"


@dataclass
class Option:
    value: str
    label: str
    count: int
    checked: bool


@dataclass
class FacetGroup:
    name: str
    label: str
    options: list[Option]
    hidden: list[Option]


@dataclass
class SearchView:
    params: dict[str, list[str]]
    query: SearchQuery | None = None
    result: SearchResult | None = None
    errors: dict[str, str] = field(default_factory=dict)
    unavailable: bool = False

    def value(self, name: str) -> str:
        values = self.params.get(name) or [""]
        return values[-1]

    @property
    def hits(self) -> list[dict[str, Any]]:
        if self.result is None or self.query is None:
            return []
        with_distance = self.query.location is not None
        return [hit.as_dict(with_distance) for hit in self.result.hits]

    @property
    def total(self) -> int:
        return self.result.total if self.result else 0

    @property
    def pages(self) -> int:
        return self.result.pages if self.result else 1

    @property
    def page(self) -> int:
        return self.query.page if self.query else 1

    def url(self, **changes: Any) -> str:
        """This search with some parameters changed (None removes one); page 1 unless given."""
        params = {k: list(v) for k, v in self.params.items()}
        params.pop("page", None)
        for name, value in changes.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        pairs = [(k, v) for k, values in params.items() for v in values]
        return PAGE_PATH + ("?" + urlencode(pairs) if pairs else "")

    @property
    def facet_groups(self) -> list[FacetGroup]:
        names = labels()
        counts = self.result.facets if self.result else {}
        groups = []
        for facet, label in FACET_PARAMS.items():
            chosen = set(self.params.get(facet, []))
            found = dict(counts.get(facet, {}))
            for value in chosen:
                found.setdefault(value, 0)
            options = [
                Option(v, names[facet].get(v, v), n, v in chosen)
                for v, n in found.items()
                if n > 0 or v in chosen
            ]
            if facet == "format":
                order = list(FORMAT_CHOICES)
                options.sort(key=lambda o: order.index(o.value) if o.value in order else 99)
            shown = [o for i, o in enumerate(options) if i < VISIBLE_OPTIONS or o.checked]
            hidden = [o for o in options if o not in shown]
            groups.append(FacetGroup(facet, label, shown, hidden))
        return groups

    @property
    def time_zone(self) -> str:
        """The zone the availability buckets and free times are shown in."""
        return self.query.time_zone if self.query else self.value("tz") or DEFAULT_TIME_ZONE

    @property
    def availability_options(self) -> list[Option]:
        """Every bucket, in the order of the week, with its count (zero included)."""
        counts = self.result.facets.get(AVAILABILITY, {}) if self.result else {}
        chosen = set(self.params.get(AVAILABILITY, []))
        return [
            Option(b.slug, b.label, counts.get(b.slug, 0), b.slug in chosen)
            for b in buckets.BUCKETS
        ]

    @property
    def free_within_options(self) -> list[str]:
        steps = [str(d) for d in FREE_WITHIN_STEPS]
        current = self.value("free_within_days")
        return steps if not current or current in steps else [current, *steps]

    def next_free(self, hit: Mapping[str, Any]) -> str:
        """The hit's next free time in the viewer's zone, e.g. "Tue 14 Jan, 18:00"."""
        raw = hit.get("next_free_at")
        if not raw:
            return ""
        moment = datetime.fromisoformat(str(raw)).astimezone(ZoneInfo(self.time_zone))
        return f"{moment:%a} {moment.day} {moment:%b}, {moment:%H:%M}"

    @property
    def city_label(self) -> str:
        near = self.value("near")
        city = places.get_city(int(near)) if near.isdigit() else None
        return f"{city.name}, {city.country_code}" if city else ""

    @property
    def has_location(self) -> bool:
        return self.query is not None and self.query.location is not None

    @property
    def sort_options(self) -> list[tuple[str, str]]:
        return [
            (sort.value, label)
            for sort, label in SORT_LABELS.items()
            if sort is not Sort.DISTANCE or self.has_location or self.value("sort") == sort.value
        ]

    def price_options(self, name: str) -> list[int]:
        steps = set(PRICE_STEPS)
        current = self.value(name)
        if current.isdigit():
            steps.add(int(current))
        return sorted(steps)

    def distance(self, hit: Mapping[str, Any]) -> str:
        return format_distance(hit.get("distance_km"))

    default_radius_km = DEFAULT_CITY_RADIUS_KM

    @property
    def radius_options(self) -> list[str]:
        steps = [str(r) for r in RADIUS_STEPS]
        current = self.value("radius_km")
        return steps if not current or current in steps else [current, *steps]

    @property
    def loosen(self) -> list[tuple[str, str]]:
        """For the empty state: each active filter, with a link to this search without it."""
        names = labels()
        out = []
        if self.value("q"):
            out.append((f"the words “{self.value('q')}”", self.url(q=None)))
        for facet in (*FACETS, AVAILABILITY):
            for value in self.params.get(facet, []):
                rest = [v for v in self.params[facet] if v != value]
                label = names[facet].get(value, value)
                out.append((label, self.url(**{facet: rest or None})))
        if self.value("radius_km"):
            out.append((f"within {self.value('radius_km')} km", self.url(radius_km=None)))
        for name, text in (("price_min", "the lowest price"), ("price_max", "the highest price")):
            if self.value(name):
                out.append((text, self.url(**{name: None})))
        if self.value("rating_min"):
            out.append(("the minimum rating", self.url(rating_min=None)))
        if self.value("free_within_days"):
            out.append(("the availability window", self.url(free_within_days=None)))
        return out

    @property
    def labels_json(self) -> str:
        # Safe inside <script type="application/json">: "<" cannot open a tag.
        return json.dumps(labels(), ensure_ascii=False).replace("<", "\\u003c")
