"""Tutors for search tests, inserted as rows (users, profiles, instruments, prices).

``CAST`` is a small, fixed set of tutors whose expected search results are easy to read off:
real cities (so distances are real), distinct instruments, genres, languages, formats and
hourly prices. Two more are not public (pending, suspended) and must never be found.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace import db, places
from marketplace.accounts.models import Role, User
from marketplace.profiles.models import LessonPrice, TutorInstrument, TutorProfile
from marketplace.settings import Settings
from marketplace.text import render_markdown
from search.backends import SearchBackend
from search.factory import build_search_backend
from search.postgres_backend import PostgresBackend
from search.service import reindex_all
from tests.payouts.accounts import add_demo_account

_emails = itertools.count(1)


@dataclass(frozen=True)
class Tutor:
    name: str
    instruments: dict[str, list[str]]
    genres: list[str]
    languages: list[str]
    formats: list[str]
    city: tuple[str, str] | None  # (name, country code)
    prices: list[tuple[int, int]]  # (minutes, minor units)
    headline: str = ""
    bio: str = "I have taught for many years and love helping students find their own sound."
    status: str = "approved"
    travel_radius_km: int | None = None
    photo: bool = False
    payouts: bool = True  # a payout account that may receive payouts (else not bookable)
    extra: dict[str, object] = field(default_factory=dict)


CAST: list[Tutor] = [
    Tutor(
        "Ana Sousa",
        {"violin": ["beginner", "intermediate"]},
        ["classical", "baroque"],
        ["pt", "en"],
        ["online", "studio"],
        ("Porto", "PT"),
        [(60, 4000)],
        headline="Patient classical lessons for new players",
        photo=True,
    ),
    Tutor(
        "Bruno Costa",
        {"piano": ["beginner", "intermediate", "advanced"]},
        ["jazz", "blues"],
        ["pt"],
        ["studio"],
        ("Lisbon", "PT"),
        [(60, 5000)],
        headline="Swing and blues at the keys",
    ),
    Tutor(
        "Carla Mendes",
        {"voice": ["beginner"]},
        ["fado"],
        ["pt"],
        ["student_home"],
        ("Porto", "PT"),
        [(30, 2000)],
        travel_radius_km=15,
        headline="Sing fado from the heart",
    ),
    Tutor(
        "David Miller",
        {"acoustic-guitar": ["beginner"], "electric-guitar": ["intermediate"]},
        ["rock", "blues"],
        ["en"],
        ["online"],
        ("London", "GB"),
        [(60, 7000)],
        headline="Riffs, chords and songs you love",
    ),
    Tutor(
        "Emma Schmidt",
        {"cello": ["advanced", "professional"]},
        ["classical"],
        ["de", "en"],
        ["online", "studio"],
        ("Berlin", "DE"),
        [(90, 9000)],
        headline="Conservatoire preparation",
    ),
    Tutor(
        "Felix Wagner",
        {"drums": ["beginner"]},
        ["jazz", "funk"],
        ["de"],
        ["studio"],
        ("Munich", "DE"),
        [(60, 3500)],
        headline="Groove first",
    ),
    Tutor(
        "Hugo Martin",
        {"saxophone": ["intermediate"]},
        ["jazz"],
        ["fr", "en"],
        ["online"],
        ("Paris", "FR"),
        [(60, 4500)],
        headline="Improvisation made simple",
    ),
    Tutor(
        "Inês Ferreira",
        {"violin": ["advanced", "professional"], "viola": ["advanced"]},
        ["classical"],
        ["pt", "es"],
        ["online"],
        ("Lisbon", "PT"),
        [(60, 8000)],
        headline="Orchestra auditions and repertoire",
    ),
    Tutor(
        "Jorge Alves",
        {"portuguese-guitar": ["intermediate", "advanced"]},
        ["fado", "folk"],
        ["pt"],
        ["studio", "student_home"],
        ("Coimbra", "PT"),
        [(60, 3000)],
        travel_radius_km=20,
        headline="Coimbra fado tradition",
    ),
    Tutor(
        "Kate Brown",
        {"piano": ["beginner"]},
        ["pop", "classical"],
        ["en"],
        ["online"],
        None,
        [(45, 3000)],
        headline="Play your favourite songs",
        bio="Friendly lessons online. I also accompany a jazz choir on the piano.",
    ),
]
HIDDEN: list[Tutor] = [
    Tutor(
        "Pat Pending",
        {"violin": ["beginner"]},
        ["classical"],
        ["en"],
        ["online"],
        ("Porto", "PT"),
        [(60, 1000)],
        status="pending",
    ),
    Tutor(
        "Sam Suspended",
        {"violin": ["beginner"]},
        ["classical"],
        ["en"],
        ["online"],
        ("Porto", "PT"),
        [(60, 1000)],
        status="suspended",
    ),
]


def names(hits: Sequence[dict[str, object]]) -> list[str]:
    return [str(hit["name"]) for hit in hits]


async def add_tutors(
    sessions: async_sessionmaker[AsyncSession], tutors: Sequence[Tutor]
) -> dict[str, int]:
    """Insert ``tutors``; returns their ids by name."""
    ids: dict[str, int] = {}
    async with sessions() as session, session.begin():
        for tutor in tutors:
            ids[tutor.name] = await add_tutor(session, tutor)
    return ids


async def add_tutor(session: AsyncSession, tutor: Tutor) -> int:
    n = next(_emails)
    user = User(
        email=f"search-tutor-{n}@example.com",
        password_hash="not-a-real-hash",
        full_name=tutor.name,
        roles=[Role.TUTOR.value],
    )
    session.add(user)
    await session.flush()
    city = places.find_city(*tutor.city) if tutor.city else None
    if tutor.city:
        assert city is not None, tutor.city
    now = datetime.now(UTC)
    session.add(
        TutorProfile(
            user_id=user.id,
            status=tutor.status,
            display_name=tutor.name,
            headline=tutor.headline,
            bio_markdown=tutor.bio,
            bio_html=render_markdown(tutor.bio),
            genres=list(tutor.genres),
            languages=list(tutor.languages),
            formats=list(tutor.formats),
            travel_radius_km=tutor.travel_radius_km,
            city_geoname_id=city.geoname_id if city else None,
            city_name=city.name if city else "",
            country_code=city.country_code if city else "",
            latitude=city.latitude if city else None,
            longitude=city.longitude if city else None,
            currency="EUR",
            photo_key=f"photos/te/{n}" if tutor.photo else None,
            submitted_at=now,
            approved_at=now if tutor.status == "approved" else None,
            instruments=[
                TutorInstrument(instrument=slug, levels=levels, position=i)
                for i, (slug, levels) in enumerate(tutor.instruments.items())
            ],
            prices=[LessonPrice(duration_minutes=m, price_minor=p) for m, p in tutor.prices],
        )
    )
    if tutor.payouts:
        add_demo_account(session, user.id)
    await session.flush()
    return user.id


# ---------------------------------------------------------------- fixtures (import them)

BACKENDS = ["postgres", "meilisearch"]
MEDIA_URL = "/media/{}".format


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, database_url: str
) -> AsyncIterator[SearchBackend]:
    """Each search backend; Meilisearch only when a live server is configured."""
    engine = db.create_engine(database_url, pool_size=5)
    try:
        if request.param == "meilisearch":
            if not os.environ.get("MEILI_URL"):
                pytest.skip(
                    "MEILI_URL is not set: the shared query cases run against Meilisearch only "
                    "with a live server (its contract tests use the local double)"
                )
            settings = Settings.from_env()
            chosen = build_search_backend(settings, engine)
            await chosen.configure()
            yield chosen
        else:
            yield PostgresBackend(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def cast(
    sessions: async_sessionmaker[AsyncSession], backend: SearchBackend
) -> dict[str, int]:
    """``CAST`` and ``HIDDEN`` in the database, and the index rebuilt from them."""
    ids = await add_tutors(sessions, [*CAST, *HIDDEN])
    await reindex_all(sessions, backend, MEDIA_URL)
    return ids
