"""Search over HTTP: ``GET /api/v1/tutors/search`` (JSON) and the ``/search`` page.

Both parse the same parameters into a ``SearchQuery`` and call ``search.service.search``; the
page renders the same results server-side (it works without JavaScript) and ``search.js``
then keeps them current through the JSON API as the student types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter, SkipValidation
from litestar.response import Template
from litestar.static_files import create_static_files_router

from marketplace.errors import DomainError, ValidationFailed
from marketplace.web.access import Access, principal_of
from marketplace.web.templating import page
from search import presenters, service
from search.backends import SearchBackend, SearchUnavailable
from search.counts import count_search
from search.query import build_query, typed_params

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# The app's backend, injected by ``router``; a Protocol cannot be checked with isinstance.
Backend = NamedDependency[SkipValidation[SearchBackend]]
# Query parameters, documented once for the OpenAPI schema.
Q = Annotated[str | None, QueryParameter(description="Free text, typo-tolerant; ≤ 200 chars.")]
Many = Annotated[
    list[str] | None, QueryParameter(description="Repeat for several values (any of them).")
]
Formats = Annotated[
    list[str] | None,
    QueryParameter(description="online, in_person (studio or student_home), studio, student_home."),
]
Near = Annotated[int | None, QueryParameter(description="GeoNames id of a city (see places).")]
Coordinate = Annotated[float | None, QueryParameter(description="With lat and lng: a location.")]
Radius = Annotated[float | None, QueryParameter(description="1 to 500 km; needs a location.")]
Price = Annotated[
    int | None, QueryParameter(description="Price per hour in minor units of the currency.")
]
RatingMin = Annotated[float | None, QueryParameter(description="Minimum rating, 0 to 5.")]
FreeWithin = Annotated[
    int | None, QueryParameter(description="Has an open slot starting within 1 to 60 days.")
]
Buckets = Annotated[
    list[str] | None,
    QueryParameter(
        description="Free in the next 14 days on weekday_morning, weekday_afternoon, "
        "weekday_evening, weekend_morning, weekend_afternoon or weekend_evening (in tz); "
        "repeat for several (any of them)."
    ),
]
TimeZone = Annotated[
    str | None,
    QueryParameter(
        description="The viewer's IANA time zone, for the availability buckets; default UTC."
    ),
]
SortParam = Annotated[
    str | None,
    QueryParameter(
        description="relevance (default), rating, price_asc, price_desc, distance, soonest."
    ),
]
PageNumber = Annotated[int, QueryParameter(description="From 1.")]
PerPage = Annotated[int, QueryParameter(description="1 to 50.")]


class SearchResponse(msgspec.Struct):
    hits: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    facets: dict[str, dict[str, int]]
    took_ms: int
    backend: str
    time_zone: str  # the zone the availability buckets were read in


class SearchController(Controller):
    path = "/api/v1/tutors/search"
    tags = ["search"]

    @get("/", access=Access.PUBLIC)
    async def search(
        self,
        search_backend: Backend,
        q: Q = None,
        instrument: Many = None,
        genre: Many = None,
        language: Many = None,
        level: Many = None,
        format: Formats = None,
        near: Near = None,
        lat: Coordinate = None,
        lng: Coordinate = None,
        radius_km: Radius = None,
        price_min: Price = None,
        price_max: Price = None,
        rating_min: RatingMin = None,
        free_within_days: FreeWithin = None,
        availability: Buckets = None,
        tz: TimeZone = None,
        sort: SortParam = None,
        page: PageNumber = 1,
        per_page: PerPage = 20,
    ) -> SearchResponse:
        """Approved tutors matching the text and filters, with disjunctive facet counts: each
        facet counts as if its own filter were not set. 422 names the bad parameter; 503
        (``search_unavailable``) when the search backend cannot be reached."""
        query = build_query(
            q=q, instrument=instrument, genre=genre, language=language, level=level,
            format=format, near=near, lat=lat, lng=lng, radius_km=radius_km,
            price_min=price_min, price_max=price_max, rating_min=rating_min,
            free_within_days=free_within_days, availability=availability, tz=tz, sort=sort,
            page=page, per_page=per_page,
        )  # fmt: skip
        result = await service.search(search_backend, query)
        with_distance = query.location is not None
        return SearchResponse(
            hits=[hit.as_dict(with_distance) for hit in result.hits],
            total=result.total,
            page=query.page,
            per_page=query.per_page,
            facets=result.facets,
            took_ms=result.took_ms,
            backend=result.backend,
            time_zone=query.time_zone,
        )


@get("/search", access=Access.PUBLIC, include_in_schema=False)
async def search_page(request: Request[Any, Any, Any], search_backend: Backend) -> Template:
    """The search page; the URL carries every filter, so a search can be shared."""
    params = presenters.page_params(request.query_params.dict())
    principal = principal_of(request)
    if "tz" not in params and principal is not None:
        # Signed in: free times in the student's own zone (search.js fills it in for others).
        params["tz"] = [principal.time_zone]
    view = presenters.SearchView(params=params)
    try:
        query = view.query = build_query(**typed_params(params))
        view.result = await service.search(search_backend, query)
    except SearchUnavailable:
        view.unavailable = True
        return page(request, "search/search.html", status_code=503, view=view)
    except ValidationFailed as exc:
        view.errors = exc.fields
        return page(request, "search/search.html", status_code=422, view=view)
    except DomainError as exc:
        view.errors = exc.fields or {"q": exc.message}
        return page(request, "search/search.html", status_code=exc.status_code, view=view)
    if query.page == 1:  # a new search, not the next page of one (search.counts)
        await count_search(request.app.state.services.sessions)
    return page(request, "search/search.html", view=view)


def router(backend: SearchBackend) -> Router:
    """The search routes, bound to this app's backend."""
    return Router(
        path="/",
        route_handlers=[
            SearchController,
            search_page,
            create_static_files_router(
                path="/static/search",
                directories=[STATIC],
                opt={"access": Access.PUBLIC},
                include_in_schema=False,
            ),
        ],
        dependencies={"search_backend": Provide(lambda: backend, sync_to_thread=False)},
    )
