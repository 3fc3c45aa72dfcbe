"""Demo data: deterministic, and only ever using real vocabulary, cities and time zones."""

from __future__ import annotations

import re
import zoneinfo
from functools import cache

import phonenumbers

from marketplace import places, vocab
from marketplace.seed import demo_data
from marketplace.seed.demo_data import DemoTutor, demo_students, demo_tutors

LEVEL_ORDER = [t.slug for t in vocab.LEVELS]
EMAIL = re.compile(r"^[a-z0-9]+\.[a-z0-9]+\.(\d+)@demo\.duet\.example$")


@cache
def tutors() -> list[DemoTutor]:
    return demo_tutors()


def test_deterministic() -> None:
    assert demo_tutors() == demo_tutors()
    assert demo_tutors(20, seed=7) == demo_tutors(20, seed=7)
    assert demo_tutors(20, seed=7) != demo_tutors(20, seed=8)
    assert demo_students() == demo_students()


def test_count_and_prefix_stability() -> None:
    assert len(tutors()) == 200
    assert len(demo_tutors(5)) == 5


def test_unique_lowercase_ascii_emails() -> None:
    emails = [t.email for t in tutors()]
    assert len(set(emails)) == len(emails)
    for number, email in enumerate(emails, start=1):
        match = EMAIL.match(email)
        assert match, email
        assert int(match.group(1)) == number


def test_every_demo_city_resolves() -> None:
    for city in demo_data._CITIES:
        found = places.find_city(city.name, city.country)
        assert found is not None, city.name
        assert found.country_code == city.country
    assert len(demo_data._CITIES) >= 55
    assert len({c.country for c in demo_data._CITIES}) >= 25


def test_tutors_use_known_cities_and_time_zones() -> None:
    for tutor in tutors():
        city = places.get_city(tutor.city_geoname_id)
        assert city is not None
        assert tutor.time_zone == city.time_zone
        zoneinfo.ZoneInfo(tutor.time_zone)
    assert len({t.city_geoname_id for t in tutors()}) >= 55


def test_all_slugs_exist_in_vocabulary() -> None:
    for tutor in tutors():
        assert 1 <= len(tutor.instruments) <= 3
        assert len({slug for slug, _ in tutor.instruments}) == len(tutor.instruments)
        for slug, levels in tutor.instruments:
            assert vocab.instrument(slug) is not None, slug
            assert 1 <= len(levels) <= 4
            positions = [LEVEL_ORDER.index(level) for level in levels]
            assert positions == list(range(positions[0], positions[0] + len(positions)))
        assert 1 <= len(tutor.genres) <= 4
        assert len(set(tutor.genres)) == len(tutor.genres)
        assert all(vocab.genre(g) is not None for g in tutor.genres), tutor.genres
        assert tutor.languages and len(set(tutor.languages)) == len(tutor.languages)
        assert all(vocab.language_name(code) for code in tutor.languages)


def test_formats_and_travel_radius() -> None:
    online_only = 0
    for tutor in tutors():
        assert tutor.formats
        assert all(vocab.lesson_format(f) is not None for f in tutor.formats)
        assert len(set(tutor.formats)) == len(tutor.formats)
        if "student_home" in tutor.formats:
            assert tutor.travel_radius_km is not None and tutor.travel_radius_km > 0
        else:
            assert tutor.travel_radius_km is None
        online_only += tutor.formats == ("online",)
    assert 0.3 < online_only / len(tutors()) < 0.5


def test_prices() -> None:
    trials = 0
    for tutor in tutors():
        durations = [minutes for minutes, _ in tutor.prices]
        assert 2 <= len(durations) <= 3
        assert len(set(durations)) == len(durations)
        assert set(durations) <= {30, 45, 60, 90}
        assert all(isinstance(p, int) and p > 0 and p % 100 == 0 for _, p in tutor.prices)
        by_minutes = dict(tutor.prices)
        assert [by_minutes[d] for d in sorted(by_minutes)] == sorted(by_minutes.values())
        if 30 in by_minutes and 60 in by_minutes:
            assert by_minutes[60] / 2 < by_minutes[30] < by_minutes[60] * 0.7
        if tutor.trial_price_minor is not None:
            trials += 1
            assert tutor.trial_price_minor > 0
    assert 0.35 < trials / len(tutors()) < 0.65


def test_texts_are_filled_in() -> None:
    for tutor in tutors():
        assert tutor.full_name.strip() and tutor.display_name.endswith(".")
        assert tutor.full_name.split(" ")[0] in tutor.display_name
        assert 20 <= len(tutor.headline) <= 90
        assert tutor.bio_markdown.count("\n\n") >= 2
        assert "{" not in tutor.headline + tutor.bio_markdown
        assert "lorem" not in tutor.bio_markdown.lower()
    assert len({t.headline for t in tutors()}) > 150


def test_regional_flavour() -> None:
    genres_by_country: dict[str, set[str]] = {}
    for tutor in demo_tutors(600):
        city = places.get_city(tutor.city_geoname_id)
        assert city is not None
        genres_by_country.setdefault(city.country_code, set()).update(tutor.genres)
    assert "fado" in genres_by_country["PT"]
    assert "flamenco" in genres_by_country["ES"]
    assert "indian-classical" in genres_by_country["IN"]
    assert "fado" not in genres_by_country["JP"]


def test_students() -> None:
    students = demo_students()
    assert [s.email for s in students] == [f"student{i}@demo.duet.example" for i in range(1, 6)]
    for student in students:
        zoneinfo.ZoneInfo(student.time_zone)
        assert student.instruments
        for slug, level in student.instruments:
            assert vocab.instrument(slug) is not None
            assert vocab.level(level) is not None
        if student.phone_e164 is not None:
            number = phonenumbers.parse(student.phone_e164)
            assert phonenumbers.is_valid_number(number), student.phone_e164
            assert (
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                == student.phone_e164
            )
