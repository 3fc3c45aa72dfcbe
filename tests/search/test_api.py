"""GET /api/v1/tutors/search and the /search page: shapes, validation and failure."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig
from litestar.testing import TestClient

from marketplace import db, places
from marketplace.app import TEMPLATE_DIRS
from marketplace.settings import Settings
from marketplace.web import templating
from marketplace.web.access import access_guard
from marketplace.web.errors import EXCEPTION_HANDLERS
from search import api as search_api
from search import presenters
from search.backends import SearchResult, SearchUnavailable
from search.postgres_backend import PostgresBackend
from search.query import SearchQuery
from search.service import reindex_all
from tests.search.factories import CAST, HIDDEN, MEDIA_URL, add_tutors

SEARCH = "/api/v1/tutors/search"


@pytest.fixture
def indexed(client: TestClient[Any], database_url: str) -> dict[str, int]:
    """The factory cast in the app's database, indexed."""

    async def load() -> dict[str, int]:
        engine = db.create_engine(database_url, pool_size=2)
        try:
            sessions = db.create_session_factory(engine)
            ids = await add_tutors(sessions, [*CAST, *HIDDEN])
            await reindex_all(sessions, PostgresBackend(engine), MEDIA_URL)
            return ids
        finally:
            await engine.dispose()

    return asyncio.run(load())


def porto() -> int:
    city = places.find_city("Porto", "PT")
    assert city is not None
    return city.geoname_id


def test_response_shape(client: TestClient[Any], indexed: dict[str, int]) -> None:
    body = client.get(SEARCH, params={"instrument": ["violin", "cello"], "per_page": 2}).json()
    assert set(body) == {
        "hits", "total", "page", "per_page", "facets", "took_ms", "backend", "time_zone"
    }  # fmt: skip
    assert body["backend"] == "postgres" and body["total"] == 3
    assert (body["page"], body["per_page"], len(body["hits"])) == (1, 2, 2)
    assert body["time_zone"] == "UTC"  # the default: buckets are read in the zone given as tz
    assert set(body["facets"]) == {
        "instrument", "genre", "language", "level", "format", "availability"
    }  # fmt: skip
    hit = body["hits"][0]
    for key in (
        "id",
        "name",
        "headline",
        "bio_excerpt",
        "instruments",
        "teaches",
        "genres",
        "languages",
        "formats",
        "city",
        "country",
        "_geo",
        "lowest_price_minor",
        "price_per_hour_minor",
        "photo_url",
        "rating",
        "review_count",
        "next_free_at",
    ):
        assert key in hit, key
    assert "distance_km" not in hit and "bio" not in hit and "free_half_hours" not in hit
    assert isinstance(body["took_ms"], int)


def test_hits_carry_their_distance_when_a_location_is_given(
    client: TestClient[Any], indexed: dict[str, int]
) -> None:
    body = client.get(SEARCH, params={"near": porto(), "radius_km": 20}).json()
    assert {h["name"] for h in body["hits"]} == {"Ana Sousa", "Carla Mendes"}
    assert all(0 <= h["distance_km"] < 1 for h in body["hits"])
    photo = next(h["photo_url"] for h in body["hits"] if h["name"] == "Ana Sousa")
    assert photo.startswith("/media/photos/") and photo.endswith("-small.webp")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"instrument": "theremin-ish"}, "instrument"),
        ({"genre": "polka-metal"}, "genre"),
        ({"language": "xx"}, "language"),
        ({"level": "wizard"}, "level"),
        ({"format": "carrier-pigeon"}, "format"),
        ({"availability": "weekday_midnight"}, "availability"),
        ({"availability": "weekday_evening", "tz": "Mars/Olympus_Mons"}, "tz"),
        ({"tz": "berlin"}, "tz"),
        ({"radius_km": 10}, "radius_km"),
        ({"near": 2735943, "radius_km": 0}, "radius_km"),
        ({"near": 2735943, "radius_km": 501}, "radius_km"),
        ({"near": 1}, "near"),
        ({"near": 2735943, "lat": 41.1, "lng": -8.6}, "near"),
        ({"lat": 41.1}, "lng"),
        ({"lat": 91, "lng": 0}, "lat"),
        ({"price_min": -1}, "price_min"),
        ({"price_max": -100}, "price_max"),
        ({"price_min": 5000, "price_max": 4000}, "price_max"),
        ({"rating_min": 5.5}, "rating_min"),
        ({"free_within_days": 0}, "free_within_days"),
        ({"free_within_days": 61}, "free_within_days"),
        ({"sort": "loudest"}, "sort"),
        ({"sort": "distance"}, "sort"),
        ({"q": "x" * 201}, "q"),
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"per_page": 51}, "per_page"),
        ({"per_page": 0}, "per_page"),
        ({"near": "porto"}, "near"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    anonymous_client: TestClient[Any], params: dict[str, Any], field: str
) -> None:
    response = anonymous_client.get(SEARCH, params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_failed" and field in body["fields"], body


def test_a_page_past_the_end_is_422(client: TestClient[Any], indexed: dict[str, int]) -> None:
    assert client.get(SEARCH, params={"per_page": 5, "page": 2}).status_code == 200
    response = client.get(SEARCH, params={"per_page": 5, "page": 3})
    assert response.status_code == 422 and "page" in response.json()["fields"]
    empty = client.get(SEARCH, params={"q": "nothingmatcheszz", "page": 3})
    assert empty.status_code == 200 and empty.json()["total"] == 0


def test_repeated_parameters_mean_any_of_them(
    client: TestClient[Any], indexed: dict[str, int]
) -> None:
    body = client.get(f"{SEARCH}?language=de&language=fr").json()
    assert {h["name"] for h in body["hits"]} == {"Emma Schmidt", "Felix Wagner", "Hugo Martin"}


def test_health_asks_the_search_backend(client: TestClient[Any]) -> None:
    checks = client.get("/healthz").json()["checks"]
    assert checks["search"] == {"status": "ok", "detail": "postgres"}


def test_the_openapi_schema_documents_the_parameters(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()
    operation = schema["paths"][SEARCH]["get"]
    documented = {p["name"] for p in operation["parameters"]}
    assert {"q", "instrument", "near", "radius_km", "price_max", "sort", "page"} <= documented


# ---------------------------------------------------------------- the page


def test_the_page_renders_results_without_javascript(
    client: TestClient[Any], indexed: dict[str, int]
) -> None:
    page = client.get("/search", params={"q": "vilon"})
    assert page.status_code == 200
    html = page.text
    assert "Ana Sousa" in html and "Inês Ferreira" in html and "Bruno Costa" not in html
    assert f'href="/tutors/{indexed["Ana Sousa"]}"' in html
    assert 'name="instrument" value="violin"' in html  # a facet checkbox, with its count
    assert "2 tutors" in html
    assert "/static/search/search.js" in html and 'id="search-labels"' in html
    assert client.get("/static/search/search.js").status_code == 200
    assert client.get("/static/search/search.css").status_code == 200


def test_the_page_keeps_every_filter_in_its_links(
    client: TestClient[Any], indexed: dict[str, int]
) -> None:
    html = client.get("/search?instrument=violin&instrument=cello&per_page=1&sort=price_asc").text
    assert 'value="violin" checked' in html and 'value="cello" checked' in html
    assert "instrument=violin&amp;instrument=cello" in html and "page=2" in html
    assert 'value="price_asc" selected' in html


def test_a_typed_city_works_without_javascript(
    client: TestClient[Any], indexed: dict[str, int]
) -> None:
    html = client.get("/search", params={"city": "Porto, PT", "radius_km": "25", "near": ""}).text
    assert "Ana Sousa" in html and "Carla Mendes" in html and "Bruno Costa" not in html
    assert f'name="near" value="{porto()}"' in html and " m away" in html
    unknown = client.get("/search", params={"city": "Qwxyzville"})
    assert unknown.status_code == 422 and "Choose a city" in unknown.text


def test_the_empty_state_suggests_what_to_loosen(
    client: TestClient[Any], indexed: dict[str, int]
) -> None:
    html = client.get("/search", params={"instrument": "violin", "language": "de"}).text
    assert "No tutors match" in html and "Try removing" in html
    assert 'href="/search?language=de"' in html  # the same search without violin


def test_bad_page_parameters_show_the_problem(client: TestClient[Any]) -> None:
    page = client.get("/search", params={"radius_km": "10", "price_max": "lots"})
    assert page.status_code == 422 and "Enter a whole number" in page.text


class _Down:
    name = "down"

    async def search(self, query: SearchQuery) -> SearchResult:
        raise SearchUnavailable()


@pytest.fixture
def down_client(tmp_path: Any) -> Iterator[TestClient[Any]]:
    """Just the search routes, over a backend that cannot be reached."""
    settings = Settings.from_env({"DUET_VAR_DIR": str(tmp_path)})
    app = Litestar(
        route_handlers=[search_api.router(_Down())],  # type: ignore[arg-type]
        guards=[access_guard],
        exception_handlers=EXCEPTION_HANDLERS,
        template_config=TemplateConfig(
            directory=TEMPLATE_DIRS,
            engine=JinjaTemplateEngine,
            engine_callback=templating.configure(settings),
        ),
    )
    with TestClient(app) as test_client:
        yield test_client


def test_an_unreachable_backend_is_503_for_the_api_and_the_page(
    down_client: TestClient[Any],
) -> None:
    response = down_client.get(SEARCH)
    assert response.status_code == 503
    assert response.json()["code"] == "search_unavailable"
    page = down_client.get("/search", params={"q": "piano"})
    assert page.status_code == 503 and "briefly unavailable" in page.text


def test_a_city_alone_searches_25_km_around_it_and_distances_read_well(
    client: TestClient[Any], indexed: dict[str, int]
) -> None:
    html = client.get("/search", params={"city": "Porto, PT"}).text
    assert "Ana Sousa" in html and "Carla Mendes" in html and "Bruno Costa" not in html
    assert "25 km (default)" in html and " m away" in html and "km away" not in html
    body = client.get(SEARCH, params={"near": porto()}).json()
    assert {h["name"] for h in body["hits"]} == {"Ana Sousa", "Carla Mendes"}
    lost = client.get("/search", params={"radius_km": "10"})
    assert lost.status_code == 422
    assert "Choose a city to search within a distance of it" in lost.text


@pytest.mark.parametrize(
    ("km", "text"),
    [
        (None, ""),
        (0.01, "under 100 m"),
        (0.34, "300 m"),
        (3.26, "3.3 km"),
        (17.5, "18 km"),
        (17766.1, "17,766 km"),
    ],
)
def test_distances_are_rounded_for_people(km: float | None, text: str) -> None:
    assert presenters.format_distance(km) == text
