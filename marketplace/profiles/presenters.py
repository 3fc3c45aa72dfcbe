"""Profile models → response structs (shared by the JSON API and the pages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marketplace import vocab
from marketplace.media import MediaStorage
from marketplace.profiles.models import AudioSample, MediaStatus, TutorProfile
from marketplace.profiles.schemas import (
    AudioSampleOut,
    CompletenessOut,
    InstrumentOut,
    LocationOut,
    MyTutorProfileOut,
    NamedOut,
    PhotoOut,
    PriceOut,
    TutorOut,
)
from marketplace.profiles.service import completeness, photo_rendition_key


def _named(slugs: list[str], lookup: Callable[[str], object]) -> list[NamedOut]:
    out = []
    for slug in slugs:
        found = lookup(slug)
        name = found if isinstance(found, str) else getattr(found, "name", slug)
        out.append(NamedOut(slug=slug, name=name))
    return out


def photo_out(profile: TutorProfile, storage: MediaStorage) -> PhotoOut | None:
    if not profile.photo_key:
        return None
    return PhotoOut(
        large=storage.url(photo_rendition_key(profile.photo_key, "large")),
        medium=storage.url(photo_rendition_key(profile.photo_key, "medium")),
        small=storage.url(photo_rendition_key(profile.photo_key, "small")),
    )


def audio_out(sample: AudioSample | None, storage: MediaStorage) -> AudioSampleOut | None:
    if sample is None:
        return None
    ready = sample.status == MediaStatus.READY.value and sample.playable_key
    return AudioSampleOut(
        status=sample.status,
        url=storage.url(sample.playable_key) if ready and sample.playable_key else None,
        duration_seconds=sample.duration_seconds,
        error=sample.error,
    )


def tutor_out(profile: TutorProfile, storage: MediaStorage) -> TutorOut:
    return TutorOut(**_tutor_fields(profile, storage))


def _tutor_fields(profile: TutorProfile, storage: MediaStorage) -> dict[str, Any]:
    return {
        "id": profile.user_id,
        "display_name": profile.display_name,
        "headline": profile.headline,
        "bio_html": profile.bio_html,
        "instruments": [
            InstrumentOut(
                slug=item.instrument,
                name=_term_name(vocab.instrument(item.instrument), item.instrument),
                levels=_named(item.levels, vocab.level),
            )
            for item in profile.instruments
        ],
        "genres": _named(profile.genres, vocab.genre),
        "languages": _named(profile.languages, vocab.language_name),
        "formats": _named(profile.formats, vocab.lesson_format),
        "travel_radius_km": profile.travel_radius_km,
        "location": LocationOut(
            city_geoname_id=profile.city_geoname_id,
            city=profile.city_name,
            country_code=profile.country_code,
            latitude=profile.latitude,
            longitude=profile.longitude,
        ),
        "prices": [
            PriceOut(
                duration_minutes=p.duration_minutes,
                price_minor=p.price_minor,
                currency=profile.currency,
            )
            for p in profile.prices
        ],
        "trial_price_minor": profile.trial_price_minor,
        "photo": photo_out(profile, storage),
        "audio_sample": audio_out(profile.audio_sample, storage),
    }


def _term_name(term: vocab.Term | None, fallback: str) -> str:
    return term.name if term else fallback


def my_tutor_out(profile: TutorProfile, storage: MediaStorage) -> MyTutorProfileOut:
    done = completeness(profile)
    return MyTutorProfileOut(
        **_tutor_fields(profile, storage),
        status=profile.status,
        status_reason=profile.status_reason,
        bio=profile.bio_markdown,
        completeness=CompletenessOut(percent=done.percent, missing=done.missing),
        submitted_at=profile.submitted_at,
        approved_at=profile.approved_at,
    )
