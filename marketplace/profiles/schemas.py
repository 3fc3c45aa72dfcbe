"""Request and response shapes for profiles (msgspec structs; Litestar documents them)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class InstrumentIn(msgspec.Struct, forbid_unknown_fields=True):
    instrument: str
    levels: list[str]


class PriceIn(msgspec.Struct, forbid_unknown_fields=True):
    duration_minutes: int
    price_minor: int


class TutorProfileIn(msgspec.Struct, forbid_unknown_fields=True):
    """The whole editable profile; a PUT replaces every field."""

    display_name: str
    headline: str = ""
    bio: str = ""
    instruments: list[InstrumentIn] = []
    genres: list[str] = []
    languages: list[str] = []
    formats: list[str] = []
    travel_radius_km: int | None = None
    city_geoname_id: int | None = None
    prices: list[PriceIn] = []
    trial_price_minor: int | None = None


class StudentInstrumentIn(msgspec.Struct, forbid_unknown_fields=True):
    instrument: str
    level: str


class StudentProfileIn(msgspec.Struct, forbid_unknown_fields=True):
    instruments: list[StudentInstrumentIn] = []


class ModerationIn(msgspec.Struct, forbid_unknown_fields=True):
    action: str
    reason: str = ""


class DifferenceOut(msgspec.Struct):
    field: str  # display_name, photo_key, prices or trial_price_minor
    now: str
    proposed: str


class PendingChangesOut(msgspec.Struct):
    tutor_id: int
    changes: list[DifferenceOut]


class NamedOut(msgspec.Struct):
    slug: str
    name: str


class InstrumentOut(msgspec.Struct):
    slug: str
    name: str
    levels: list[NamedOut]


class PriceOut(msgspec.Struct):
    duration_minutes: int
    price_minor: int
    currency: str


class LocationOut(msgspec.Struct):
    city_geoname_id: int | None
    city: str
    country_code: str
    latitude: float | None
    longitude: float | None


class AudioSampleOut(msgspec.Struct):
    status: str
    url: str | None
    duration_seconds: float | None
    error: str


class PhotoOut(msgspec.Struct):
    large: str
    medium: str
    small: str


class CompletenessOut(msgspec.Struct):
    percent: int
    missing: list[str]


class TutorOut(msgspec.Struct):
    id: int
    display_name: str
    headline: str
    bio_html: str
    instruments: list[InstrumentOut]
    genres: list[NamedOut]
    languages: list[NamedOut]
    formats: list[NamedOut]
    travel_radius_km: int | None
    location: LocationOut
    prices: list[PriceOut]
    trial_price_minor: int | None
    photo: PhotoOut | None
    audio_sample: AudioSampleOut | None


class MyTutorProfileOut(TutorOut):
    status: str
    status_reason: str
    bio: str
    completeness: CompletenessOut
    submitted_at: datetime | None
    approved_at: datetime | None


class TutorPage(msgspec.Struct):
    items: list[TutorOut]
    page: int
    per_page: int
    total: int


class StudentProfileOut(msgspec.Struct):
    instruments: list[StudentInstrumentIn]
