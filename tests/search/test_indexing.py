"""The index follows the profiles: through events and jobs, and through an atomic rebuild."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace import db, places
from marketplace.tasks import DramatiqQueue
from search import service
from search.backends import SearchBackend, SearchUnavailable
from search.jobs import INDEX_TUTOR
from search.postgres_backend import PostgresBackend
from search.query import build_query
from tests.conftest import run_jobs
from tests.helpers import COMPLETE_PROFILE, account
from tests.payouts.accounts import enable_payouts
from tests.search.factories import CAST, MEDIA_URL, add_tutors

SEARCH = "/api/v1/tutors/search"


def _found(client: TestClient[Any], **params: Any) -> list[str]:
    response = client.get(SEARCH, params=params)
    assert response.status_code == 200, response.text
    return [hit["name"] for hit in response.json()["hits"]]


def _profile(**changes: Any) -> dict[str, Any]:
    porto = places.find_city("Porto", "PT")
    assert porto is not None
    return {**COMPLETE_PROFILE, "city_geoname_id": porto.geoname_id, **changes}


def test_an_approved_tutor_appears_edits_follow_and_a_suspension_removes_them(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    tutor, admin = account(client, "tutor"), account(client, "admin")
    me = client.put("/api/v1/tutors/me/profile", json=_profile(), headers=tutor).json()
    enable_payouts(client, me["id"])  # bookable: payouts/test_onboarding covers the other way
    assert client.post("/api/v1/tutors/me/submit", headers=tutor).status_code == 200
    run_jobs(queue)
    assert _found(client, q="Sousa") == []  # pending: not public yet

    moderation = f"/api/v1/admin/tutors/{me['id']}/moderation"
    assert client.post(moderation, json={"action": "approve"}, headers=admin).status_code == 200
    run_jobs(queue)
    assert _found(client, q="Sousa") == ["Ana Sousa"]
    assert _found(client, instrument="acoustic-guitar", near=_porto_id(), radius_km=10) == [
        "Ana Sousa"
    ]

    edited = _profile(
        display_name="Ana Sousa",
        instruments=[{"instrument": "cello", "levels": ["beginner"]}],
        headline="Cello lessons by the river",
    )
    assert client.put("/api/v1/tutors/me/profile", json=edited, headers=tutor).status_code == 200
    run_jobs(queue)
    assert _found(client, instrument="cello") == ["Ana Sousa"]
    assert _found(client, instrument="acoustic-guitar") == []
    hit = client.get(SEARCH, params={"q": "river"}).json()["hits"][0]
    assert hit["headline"] == "Cello lessons by the river"

    suspend = {"action": "suspend", "reason": "Reported for no-shows."}
    assert client.post(moderation, json=suspend, headers=admin).status_code == 200
    run_jobs(queue)
    assert _found(client, q="Sousa") == []
    assert client.get(SEARCH).json()["total"] == 0


def _porto_id() -> int:
    porto = places.find_city("Porto", "PT")
    assert porto is not None
    return porto.geoname_id


def test_the_index_job_is_idempotent(client: TestClient[Any], queue: DramatiqQueue) -> None:
    tutor, admin = account(client, "tutor"), account(client, "admin")
    me = client.put("/api/v1/tutors/me/profile", json=_profile(), headers=tutor).json()
    enable_payouts(client, me["id"])
    client.post("/api/v1/tutors/me/submit", headers=tutor)
    client.post(
        f"/api/v1/admin/tutors/{me['id']}/moderation", json={"action": "approve"}, headers=admin
    )
    run_jobs(queue)
    first = client.get(SEARCH).json()
    for _ in range(3):
        queue.enqueue(INDEX_TUTOR, me["id"])
    queue.enqueue(INDEX_TUTOR, 987654)  # a tutor who does not exist: nothing to do
    run_jobs(queue)
    again = client.get(SEARCH).json()
    assert again["total"] == first["total"] == 1
    assert again["hits"] == first["hits"] and again["facets"] == first["facets"]


@pytest.fixture
async def pg_backend(database_url: str) -> AsyncIterator[PostgresBackend]:
    engine = db.create_engine(database_url, pool_size=8)
    try:
        # No result cache: every search below runs its SQL, also in the middle of a rebuild.
        yield PostgresBackend(engine, result_cache_size=0)
    finally:
        await engine.dispose()


async def test_reindex_reports_progress_and_indexes_only_public_tutors(
    sessions: async_sessionmaker[AsyncSession], pg_backend: PostgresBackend
) -> None:
    ids = await add_tutors(sessions, [*CAST, replace(CAST[0], name="Not Yet", status="pending")])
    seen: list[tuple[int, int]] = []
    count = await service.reindex_all(
        sessions, pg_backend, MEDIA_URL, progress=lambda d, t: seen.append((d, t))
    )
    assert count == len(CAST)
    assert seen[0] == (0, len(CAST)) and seen[-1] == (len(CAST), len(CAST))
    result = await pg_backend.search(build_query(per_page=50))
    assert {hit.document["id"] for hit in result.hits} == {ids[t.name] for t in CAST}


async def test_a_reindex_during_searches_never_shows_an_empty_or_partial_index(
    sessions: async_sessionmaker[AsyncSession], pg_backend: PostgresBackend
) -> None:
    tutors = [replace(t, name=f"{t.name} {i}") for i in range(25) for t in CAST]
    await add_tutors(sessions, tutors)
    total = await service.reindex_all(sessions, pg_backend, MEDIA_URL)
    violinists = sum(1 for t in tutors if "violin" in t.instruments)
    assert total == len(tutors) == 250
    rebuilding = True
    seen: list[int] = []

    async def rebuild() -> None:
        nonlocal rebuilding
        try:
            for _ in range(4):
                await service.reindex_all(sessions, pg_backend, MEDIA_URL)
        finally:
            rebuilding = False

    async def search(query_params: dict[str, Any], expected: int) -> None:
        while rebuilding:
            result = await pg_backend.search(build_query(**query_params))
            assert result.total == expected
            assert len(result.hits) == min(expected, result.per_page)
            assert sum(result.facets["level"].values()) >= expected
            seen.append(result.total)

    await asyncio.gather(
        rebuild(),
        search({}, total),  # unfiltered: page from an index, counts from the cache
        search({"instrument": ["violin"]}, violinists),  # counted in SQL
        search({"q": "vilon"}, violinists),
    )
    assert len(seen) > 20  # the searches really ran while the index was rebuilt


class _Unreachable:
    """A backend whose server is down."""

    name = "down"

    async def upsert(self, documents: Any) -> None:
        raise SearchUnavailable()

    async def delete(self, tutor_ids: Any) -> None:
        raise SearchUnavailable()


async def test_indexing_fails_loudly_when_the_backend_is_down_so_the_job_retries(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await add_tutors(sessions, CAST[:1])
    backend: SearchBackend = _Unreachable()  # type: ignore[assignment]
    with pytest.raises(SearchUnavailable):
        await service.index_tutor(sessions, backend, MEDIA_URL, ids[CAST[0].name])
