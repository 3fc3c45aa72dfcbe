"""Tutor and student profiles: editing, completeness, media, admin review and public listing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import places, vocab
from marketplace.accounts.models import Role, User
from marketplace.audit import service as audit
from marketplace.errors import Conflict, FieldErrors, Forbidden, NotFound, ValidationFailed
from marketplace.events import TutorProfileChanged
from marketplace.media import MediaStorage, new_key
from marketplace.notifications import service as notifications
from marketplace.profiles import changes, media_processing
from marketplace.profiles.models import (
    AudioSample,
    LessonPrice,
    MediaStatus,
    ModerationDecision,
    StudentInstrument,
    StudentProfile,
    TutorInstrument,
    TutorProfile,
    TutorStatus,
)
from marketplace.profiles.schemas import StudentProfileIn, TutorProfileIn
from marketplace.text import render_markdown
from marketplace.uow import defer_job, emit

ALLOWED_DURATIONS = (30, 45, 60, 75, 90, 120)
MIN_PRICE_MINOR = 100
MAX_PRICE_MINOR = 100_000
MAX_BIO = 4000
MAX_TRAVEL_KM = 200
TRANSCODE_TASK = "profiles.transcode_audio_sample"

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- tutor profile


async def tutor_profile_for(session: AsyncSession, user: User, currency: str) -> TutorProfile:
    """The caller's tutor profile, created as a draft on first use."""
    if not user.has_role(Role.TUTOR):
        raise Forbidden("This needs a tutor account.", code="tutor_only")
    profile = await session.get(TutorProfile, user.id)
    if profile is None:
        profile = TutorProfile(
            user_id=user.id,
            display_name=user.full_name[:80],
            currency=currency,
            status=TutorStatus.DRAFT.value,
            genres=[],
            languages=[],
            formats=[],
            instruments=[],
            prices=[],
            audio_sample=None,
        )
        session.add(profile)
        await session.flush()
    return profile


def _validate(data: TutorProfileIn) -> FieldErrors:
    errors = FieldErrors()
    if not 2 <= len(data.display_name.strip()) <= 80:
        errors.add("display_name", "Enter a display name of 2 to 80 characters.")
    if len(data.headline) > 140:
        errors.add("headline", "Keep the headline to 140 characters.")
    if len(data.bio) > MAX_BIO:
        errors.add("bio", f"Keep the bio to {MAX_BIO} characters.")
    seen: set[str] = set()
    if len(data.instruments) > 8:
        errors.add("instruments", "List at most 8 instruments.")
    for i, item in enumerate(data.instruments):
        if vocab.instrument(item.instrument) is None:
            errors.add(f"instruments[{i}].instrument", f"Unknown instrument {item.instrument!r}.")
        elif item.instrument in seen:
            errors.add(f"instruments[{i}].instrument", "Listed twice.")
        seen.add(item.instrument)
        if not item.levels or any(vocab.level(level) is None for level in item.levels):
            errors.add(f"instruments[{i}].levels", "Choose the levels you teach.")
    _check_slugs(errors, "genres", data.genres, vocab.genre, "genre", limit=10)
    _check_slugs(errors, "languages", data.languages, vocab.language_name, "language", limit=10)
    _check_slugs(errors, "formats", data.formats, vocab.lesson_format, "lesson format", limit=3)
    if "student_home" in data.formats:
        if data.travel_radius_km is None or not 1 <= data.travel_radius_km <= MAX_TRAVEL_KM:
            errors.add("travel_radius_km", f"Say how far you travel (1 to {MAX_TRAVEL_KM} km).")
    elif data.travel_radius_km is not None:
        errors.add("travel_radius_km", "Only for lessons at the student's home.")
    needs_place = bool({"studio", "student_home"} & set(data.formats))
    if data.city_geoname_id is not None:
        if places.get_city(data.city_geoname_id) is None:
            errors.add("city_geoname_id", "Choose a city from the list.")
    elif needs_place:
        errors.add("city_geoname_id", "In-person lessons need your city.")
    durations: set[int] = set()
    for i, price in enumerate(data.prices):
        if price.duration_minutes not in ALLOWED_DURATIONS:
            allowed = ", ".join(map(str, ALLOWED_DURATIONS))
            errors.add(f"prices[{i}].duration_minutes", f"Choose one of {allowed} minutes.")
        elif price.duration_minutes in durations:
            errors.add(f"prices[{i}].duration_minutes", "Listed twice.")
        durations.add(price.duration_minutes)
        if not MIN_PRICE_MINOR <= price.price_minor <= MAX_PRICE_MINOR:
            errors.add(f"prices[{i}].price_minor", "Enter a price between 1 and 1000.")
    if data.trial_price_minor is not None and not (
        MIN_PRICE_MINOR <= data.trial_price_minor <= MAX_PRICE_MINOR
    ):
        errors.add("trial_price_minor", "Enter a trial price between 1 and 1000, or none.")
    return errors


def _check_slugs(
    errors: FieldErrors,
    field: str,
    values: list[str],
    lookup: Callable[[str], object],
    what: str,
    limit: int,
) -> None:
    if len(values) > limit:
        errors.add(field, f"Choose at most {limit}.")
    if len(set(values)) != len(values):
        errors.add(field, "Each value may appear once.")
    for value in values:
        if lookup(value) is None:
            errors.add(field, f"Unknown {what} {value!r}.")


async def update_tutor_profile(
    session: AsyncSession, user: User, data: TutorProfileIn, currency: str
) -> TutorProfile:
    _validate(data).raise_if_any()
    profile = await tutor_profile_for(session, user, currency)
    if profile.status == TutorStatus.SUSPENDED.value:
        raise Forbidden("Your profile is suspended; contact support.", code="tutor_suspended")
    prices = [
        [p.duration_minutes, p.price_minor]
        for p in sorted(data.prices, key=lambda p: p.duration_minutes)
    ]
    if changes.needs_review(profile):
        # Name and prices of an approved profile wait for an admin; the rest goes live now.
        await changes.hold(
            session,
            profile,
            {
                "display_name": data.display_name.strip(),
                "prices": prices,
                "trial_price_minor": data.trial_price_minor,
            },
        )
    else:
        profile.display_name = data.display_name.strip()
        profile.trial_price_minor = data.trial_price_minor
        profile.prices = [LessonPrice(duration_minutes=d, price_minor=p) for d, p in prices]
    profile.headline = data.headline.strip()
    profile.bio_markdown = data.bio.strip()
    profile.bio_html = render_markdown(profile.bio_markdown)
    profile.genres = list(data.genres)
    profile.languages = list(data.languages)
    profile.formats = list(data.formats)
    profile.travel_radius_km = data.travel_radius_km
    city = places.get_city(data.city_geoname_id) if data.city_geoname_id is not None else None
    profile.city_geoname_id = city.geoname_id if city else None
    profile.city_name = city.name if city else ""
    profile.country_code = city.country_code if city else ""
    profile.latitude = city.latitude if city else None
    profile.longitude = city.longitude if city else None
    profile.instruments = [
        TutorInstrument(instrument=item.instrument, levels=_ordered_levels(item.levels), position=i)
        for i, item in enumerate(data.instruments)
    ]
    profile.updated_at = datetime.now(UTC)
    await session.flush()
    emit(session, TutorProfileChanged(profile.user_id))
    return profile


def _ordered_levels(levels: list[str]) -> list[str]:
    order = [level.slug for level in vocab.LEVELS]
    return sorted(set(levels), key=order.index)


@dataclass(frozen=True)
class Completeness:
    percent: int
    missing: list[str]

    @property
    def ready(self) -> bool:
        return not self.missing


# What a student needs to trust a profile: (label shown to the tutor, check).
_CHECKS: list[tuple[str, str]] = [
    ("photo", "a photo"),
    ("headline", "a headline"),
    ("bio", "a bio of at least 100 characters"),
    ("instruments", "at least one instrument with levels"),
    ("genres", "at least one genre"),
    ("languages", "the languages you teach in"),
    ("formats", "how you teach (online, studio, at the student's home)"),
    ("prices", "a price for at least one lesson length"),
    ("location", "your city"),
    ("audio", "an audio sample of you playing"),
]
# An admin can review a profile without the optional items.
_OPTIONAL_FOR_REVIEW = {"audio", "location", "photo"}


def _present(profile: TutorProfile) -> dict[str, bool]:
    sample = profile.audio_sample
    return {
        "photo": profile.photo_key is not None,
        "headline": len(profile.headline) >= 10,
        "bio": len(profile.bio_markdown) >= 100,
        "instruments": bool(profile.instruments),
        "genres": bool(profile.genres),
        "languages": bool(profile.languages),
        "formats": bool(profile.formats),
        "prices": bool(profile.prices),
        "location": profile.city_geoname_id is not None,
        "audio": sample is not None and sample.status == MediaStatus.READY.value,
    }


def completeness(profile: TutorProfile) -> Completeness:
    present = _present(profile)
    missing = [label for key, label in _CHECKS if not present[key]]
    return Completeness(percent=round(100 * sum(present.values()) / len(present)), missing=missing)


def missing_for_review(profile: TutorProfile) -> list[str]:
    present = _present(profile)
    return [label for key, label in _CHECKS if key not in _OPTIONAL_FOR_REVIEW and not present[key]]


async def submit_for_review(session: AsyncSession, user: User, currency: str) -> TutorProfile:
    profile = await tutor_profile_for(session, user, currency)
    if profile.status not in (TutorStatus.DRAFT.value, TutorStatus.REJECTED.value):
        raise Conflict(
            f"Your profile is {profile.status}; only a draft or rejected profile can be submitted.",
            code="invalid_status",
        )
    if missing := missing_for_review(profile):
        raise ValidationFailed(
            {"profile": "Add " + "; ".join(missing) + "."},
            message="Your profile is not complete enough to be reviewed yet.",
        )
    profile.status = TutorStatus.PENDING.value
    profile.status_reason = ""
    profile.submitted_at = datetime.now(UTC)
    return profile


async def set_photo(
    session: AsyncSession,
    storage: MediaStorage,
    user: User,
    data: bytes,
    max_bytes: int,
    currency: str,
) -> TutorProfile:
    renditions = media_processing.photo_renditions(data, max_bytes)
    profile = await tutor_profile_for(session, user, currency)
    base = new_key("photos", "")
    for name, content in renditions.items():
        storage.save(photo_rendition_key(base, name), content)
    if changes.needs_review(profile):
        # A new photo on an approved profile waits for an admin; the approved one stays.
        await changes.hold(session, profile, {"photo_key": base}, storage)
        return profile
    old = profile.photo_key
    profile.photo_key = base
    await session.flush()
    if old:
        for name in media_processing.PHOTO_SIZES:
            storage.delete(photo_rendition_key(old, name))
    emit(session, TutorProfileChanged(profile.user_id))
    return profile


def photo_rendition_key(base: str, size: str) -> str:
    return f"{base}-{size}.webp"


async def upload_audio_sample(
    session: AsyncSession,
    storage: MediaStorage,
    user: User,
    data: bytes,
    filename: str,
    *,
    max_bytes: int,
    max_seconds: float,
    currency: str,
) -> AudioSample:
    probe = media_processing.probe_audio(data, max_bytes=max_bytes, max_seconds=max_seconds)
    profile = await tutor_profile_for(session, user, currency)
    original_key = new_key("audio/original", "")
    storage.save(original_key, data)
    sample = profile.audio_sample
    if sample is None:
        sample = AudioSample(tutor_id=profile.user_id, original_key=original_key)
        session.add(sample)
    else:
        if sample.playable_key:
            storage.delete(sample.playable_key)
        storage.delete(sample.original_key)
        sample.original_key = original_key
        sample.playable_key = None
    sample.original_filename = filename[:200]
    sample.status = MediaStatus.PROCESSING.value
    sample.duration_seconds = probe.duration_seconds
    sample.error = ""
    await session.flush()
    defer_job(session, TRANSCODE_TASK, sample.id)
    return sample


async def transcode_audio_sample(
    session: AsyncSession, storage: MediaStorage, sample_id: int
) -> None:
    """Job body: make the playable rendition. Running it twice does nothing the second time."""
    sample = await session.get(AudioSample, sample_id, with_for_update=True)
    if sample is None or sample.status != MediaStatus.PROCESSING.value:
        return
    target_key = sample.original_key.replace("audio/original/", "audio/playable/", 1)
    target_key += media_processing.PLAYABLE_SUFFIX
    try:
        duration = media_processing.transcode_to_playable(
            storage.path(sample.original_key), storage.path(target_key)
        )
    except Exception as exc:
        sample.status = MediaStatus.FAILED.value
        sample.error = "We could not convert this recording. Try another file format."
        storage.delete(target_key)
        logger.warning("audio sample %s could not be transcoded: %s", sample_id, exc)
        return
    sample.playable_key = target_key
    sample.duration_seconds = duration
    sample.status = MediaStatus.READY.value
    emit(session, TutorProfileChanged(sample.tutor_id))


async def stuck_audio_samples(session: AsyncSession, older_than: timedelta) -> list[int]:
    """Samples still processing long after upload: their job was lost (e.g. Redis was down
    when it should have been enqueued). Re-enqueueing is safe because the job is idempotent."""
    cutoff = datetime.now(UTC) - older_than
    return list(
        await session.scalars(
            select(AudioSample.id).where(
                AudioSample.status == MediaStatus.PROCESSING.value,
                AudioSample.updated_at < cutoff,
            )
        )
    )


# ---------------------------------------------------------------- admin review


async def review_queue(session: AsyncSession) -> list[TutorProfile]:
    return list(
        await session.scalars(
            select(TutorProfile)
            .where(TutorProfile.status == TutorStatus.PENDING.value)
            .order_by(TutorProfile.submitted_at)
        )
    )


_TRANSITIONS = {
    "approve": (
        {TutorStatus.PENDING, TutorStatus.SUSPENDED, TutorStatus.REJECTED},
        TutorStatus.APPROVED,
    ),
    "reject": ({TutorStatus.PENDING}, TutorStatus.REJECTED),
    "suspend": ({TutorStatus.APPROVED, TutorStatus.PENDING}, TutorStatus.SUSPENDED),
}


async def moderate(
    session: AsyncSession, admin_id: int, tutor_id: int, action: str, reason: str
) -> TutorProfile:
    if action not in _TRANSITIONS:
        raise ValidationFailed({"action": "Choose approve, reject or suspend."})
    reason = reason.strip()
    if action != "approve" and not 5 <= len(reason) <= 2000:
        raise ValidationFailed({"reason": "Tell the tutor why (5 to 2000 characters)."})
    profile = await session.get(TutorProfile, tutor_id, with_for_update=True)
    if profile is None:
        raise NotFound("No such tutor.", code="tutor_not_found")
    allowed_from, target = _TRANSITIONS[action]
    if TutorStatus(profile.status) not in allowed_from:
        raise Conflict(f"A {profile.status} profile cannot be {action}d.", code="invalid_status")
    profile.status = target.value
    profile.status_reason = reason
    if target is TutorStatus.APPROVED:
        profile.approved_at = datetime.now(UTC)
    session.add(
        ModerationDecision(tutor_id=tutor_id, admin_id=admin_id, action=action, reason=reason)
    )
    await audit.record(
        session,
        action=f"tutor.{action}",
        actor_role="admin",
        actor_id=admin_id,
        subject_kind="user",
        subject_id=tutor_id,
        reason=reason,
        details={"status": target.value},
    )
    await _tell_tutor(session, tutor_id, action, reason)
    emit(session, TutorProfileChanged(tutor_id))
    return profile


# What the tutor hears about a decision: (title, body); SMS gets "Duet: " + body.
_DECISION_NOTICES = {
    "approve": (
        "Your tutor profile is approved",
        "Your tutor profile is approved. Your checklist shows what is left before students "
        "can book you (payouts, free times).",
    ),
    "reject": (
        "Changes requested to your tutor profile",
        "Your tutor profile needs changes before it can go live: {reason}",
    ),
    "suspend": ("Your tutor profile is suspended", "Your tutor profile is suspended: {reason}"),
}


async def _tell_tutor(session: AsyncSession, tutor_id: int, action: str, reason: str) -> None:
    title, body = _DECISION_NOTICES[action]
    text = body.format(reason=reason)
    await notifications.notify(
        session,
        tutor_id,
        kind=f"profile.{action}",
        title=title,
        body=text,
        link="/tutor/profile#readiness",
        sms_text=f"Duet: {text}",
    )


# ---------------------------------------------------------------- public listing


async def public_tutor(session: AsyncSession, tutor_id: int) -> TutorProfile:
    profile = await session.get(TutorProfile, tutor_id)
    if profile is None or not profile.is_public:
        raise NotFound("No such tutor.", code="tutor_not_found")
    return profile


async def public_tutors(
    session: AsyncSession, *, page: int, per_page: int
) -> tuple[list[TutorProfile], int]:
    public = TutorProfile.status == TutorStatus.APPROVED.value
    total = await session.scalar(select(func.count()).select_from(TutorProfile).where(public))
    rows = await session.scalars(
        select(TutorProfile)
        .where(public)
        .order_by(TutorProfile.approved_at.desc(), TutorProfile.user_id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), int(total or 0)


# ---------------------------------------------------------------- student profile


async def student_profile_for(session: AsyncSession, user: User) -> StudentProfile:
    profile = await session.get(StudentProfile, user.id)
    if profile is None:
        profile = StudentProfile(user_id=user.id, instruments=[])
        session.add(profile)
        await session.flush()
    return profile


async def update_student_profile(
    session: AsyncSession, user: User, data: StudentProfileIn
) -> StudentProfile:
    errors = FieldErrors()
    seen: set[str] = set()
    for i, item in enumerate(data.instruments):
        if vocab.instrument(item.instrument) is None or item.instrument in seen:
            errors.add(f"instruments[{i}].instrument", "Choose each instrument once from the list.")
        if vocab.level(item.level) is None:
            errors.add(f"instruments[{i}].level", "Choose your level.")
        seen.add(item.instrument)
    errors.raise_if_any()
    profile = await student_profile_for(session, user)
    profile.instruments = [
        StudentInstrument(instrument=i.instrument, level=i.level) for i in data.instruments
    ]
    return profile
