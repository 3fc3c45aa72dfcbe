"""The document is a pure function of the profile."""

from __future__ import annotations

from marketplace import places
from marketplace.profiles.models import LessonPrice, TutorInstrument, TutorProfile
from search.documents import build_document, excerpt, hourly_price, plain_text


def _profile(**changes: object) -> TutorProfile:
    porto = places.find_city("Porto", "PT")
    assert porto is not None
    fields: dict[str, object] = {
        "user_id": 7,
        "status": "approved",
        "display_name": "Ana Sousa",
        "headline": "Fado guitar",
        "bio_markdown": "I **teach** [fado](https://example.com) in Porto.\n\n- scales\n- songs",
        "genres": ["fado"],
        "languages": ["pt", "en"],
        "formats": ["online", "student_home"],
        "travel_radius_km": 10,
        "city_geoname_id": porto.geoname_id,
        "city_name": porto.name,
        "country_code": "PT",
        "latitude": porto.latitude,
        "longitude": porto.longitude,
        "currency": "EUR",
        "photo_key": "photos/ab/abc",
        "instruments": [
            TutorInstrument(instrument="portuguese-guitar", levels=["intermediate"], position=0),
            TutorInstrument(instrument="voice", levels=["beginner", "advanced"], position=1),
        ],
        "prices": [
            LessonPrice(duration_minutes=30, price_minor=2500),
            LessonPrice(duration_minutes=90, price_minor=6000),
        ],
    }
    fields.update(changes)
    return TutorProfile(**fields)


def test_document_fields() -> None:
    doc = build_document(_profile(), lambda key: f"/media/{key}").as_dict()
    assert doc["id"] == 7 and doc["name"] == "Ana Sousa"
    assert doc["bio_excerpt"] == "I teach fado in Porto. scales songs"
    assert doc["instruments"] == ["portuguese-guitar", "voice"]
    assert doc["instrument_names"] == ["Portuguese Guitar", "Singing"]
    assert doc["teaches"][1] == {
        "instrument": "voice",
        "name": "Singing",
        "levels": ["beginner", "advanced"],
    }
    assert doc["levels"] == ["beginner", "intermediate", "advanced"]
    assert doc["genre_names"] == ["Fado"]
    assert doc["_geo"] == {"lat": doc["_geo"]["lat"], "lng": doc["_geo"]["lng"]}
    assert doc["city"] == "Porto" and doc["country"] == "PT"
    assert doc["lowest_price_minor"] == 2500
    assert doc["price_per_hour_minor"] == 4000  # 60 for 90 minutes beats 25 for 30
    assert doc["photo_url"] == "/media/photos/ab/abc-small.webp"
    assert (doc["rating"], doc["review_count"], doc["next_free_at"]) == (None, 0, None)
    assert "bio" not in doc


def test_formats_a_student_can_filter_on() -> None:
    doc = build_document(_profile(), str)
    assert doc.format_choices == ("online", "student_home", "in_person")
    online = build_document(_profile(formats=["online"]), str)
    assert online.format_choices == ("online",)


def test_no_place_and_no_photo() -> None:
    doc = build_document(
        _profile(
            city_geoname_id=None,
            latitude=None,
            longitude=None,
            city_name="",
            country_code="",
            photo_key=None,
        ),
        str,
    ).as_dict()
    assert doc["_geo"] is None and doc["photo_url"] is None and doc["city"] == ""


def test_plain_text_and_excerpt() -> None:
    assert plain_text("# Hi\n\n*a*  `b`\nc") == "Hi a b c"
    assert plain_text("<script>x</script>") == "<script>x</script>"  # text, never markup
    long = "word " * 100
    cut = excerpt(long.strip(), 30)
    assert cut.endswith("…") and len(cut) <= 31 and not cut[:-1].endswith(" ")


def test_hourly_price_rounds_and_handles_no_prices() -> None:
    assert hourly_price([]) is None
    assert hourly_price([(45, 3000)]) == 4000
    assert hourly_price([(45, 1001)]) == 1335  # 1334.67 rounds up
