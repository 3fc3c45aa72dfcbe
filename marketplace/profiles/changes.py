"""Edits to an approved profile that need another review before they go live.

The rule (docs/architecture.md, "Profiles and review"): on an approved profile, the display
name, the photo and the prices (lesson prices and the trial price) are held for an admin, while
the approved version stays live; everything else goes live at once. The tutor sees what waits;
the admin review queue shows each held change as "now → proposed"; approving applies them all,
rejecting (with a reason) discards them; the tutor is notified either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import money
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.events import TutorProfileChanged
from marketplace.media import MediaStorage
from marketplace.notifications import service as notifications
from marketplace.profiles import media_processing
from marketplace.profiles.models import (
    LessonPrice,
    ModerationDecision,
    PendingProfileChange,
    TutorProfile,
    TutorStatus,
)
from marketplace.uow import emit

REVIEWED_FIELDS = ("display_name", "photo_key", "prices", "trial_price_minor")
LABELS = {
    "display_name": "Display name",
    "photo_key": "Photo",
    "prices": "Lesson prices",
    "trial_price_minor": "Trial lesson price",
}


def needs_review(profile: TutorProfile) -> bool:
    return profile.status == TutorStatus.APPROVED.value


def live_values(profile: TutorProfile) -> dict[str, Any]:
    return {
        "display_name": profile.display_name,
        "photo_key": profile.photo_key,
        "prices": [[p.duration_minutes, p.price_minor] for p in profile.prices],
        "trial_price_minor": profile.trial_price_minor,
    }


async def pending_of(session: AsyncSession, tutor_id: int) -> PendingProfileChange | None:
    return await session.get(PendingProfileChange, tutor_id)


async def hold(
    session: AsyncSession,
    profile: TutorProfile,
    proposed: dict[str, Any],
    storage: MediaStorage | None = None,
) -> dict[str, Any]:
    """Keep the reviewed fields of ``proposed`` that differ from the live profile as pending
    (a value set back to the live one drops out); returns the pending changes."""
    live = live_values(profile)
    row = await pending_of(session, profile.user_id)
    changes = dict(row.changes) if row else {}
    for field, value in proposed.items():
        replaced = changes.get(field)
        if value == live[field]:
            changes.pop(field, None)
        else:
            changes[field] = value
        if field == "photo_key" and replaced and replaced != changes.get(field) and storage:
            _delete_photo(storage, replaced)  # an earlier photo that was never approved
    if row is None and changes:
        session.add(PendingProfileChange(tutor_id=profile.user_id, changes=changes))
    elif row is not None and changes:
        row.changes = changes
    elif row is not None:
        await session.delete(row)
    await session.flush()
    return changes


async def review_queue(session: AsyncSession) -> list[tuple[TutorProfile, PendingProfileChange]]:
    rows = await session.execute(
        select(TutorProfile, PendingProfileChange)
        .join(PendingProfileChange, PendingProfileChange.tutor_id == TutorProfile.user_id)
        .order_by(PendingProfileChange.updated_at)
    )
    return [(row[0], row[1]) for row in rows]


@dataclass(frozen=True)
class Difference:
    field: str
    label: str
    now: str
    proposed: str
    photo_now: str | None = None  # media keys, for the queue to show both photos
    photo_proposed: str | None = None


def differences(profile: TutorProfile, changes: dict[str, Any]) -> list[Difference]:
    live = live_values(profile)
    out = []
    for field in REVIEWED_FIELDS:
        if field not in changes:
            continue
        if field == "photo_key":
            out.append(
                Difference(
                    field,
                    LABELS[field],
                    "current photo" if live[field] else "no photo",
                    "new photo",
                    photo_now=live[field],
                    photo_proposed=changes[field],
                )
            )
            continue
        out.append(
            Difference(
                field,
                LABELS[field],
                _show(field, live[field], profile.currency),
                _show(field, changes[field], profile.currency),
            )
        )
    return out


def _show(field: str, value: Any, currency: str) -> str:
    if field == "prices":
        return ", ".join(f"{d} min {money.format_money(p, currency)}" for d, p in value) or "none"
    if field == "trial_price_minor":
        return money.format_money(value, currency) if value else "none"
    return str(value)


async def decide(
    session: AsyncSession,
    storage: MediaStorage,
    admin_id: int,
    tutor_id: int,
    action: str,
    reason: str,
) -> TutorProfile:
    """Approve (apply every pending change) or reject (discard them, with a reason)."""
    if action not in ("approve", "reject"):
        raise ValidationFailed({"action": "Choose approve or reject."})
    reason = reason.strip()
    if action == "reject" and not 5 <= len(reason) <= 2000:
        raise ValidationFailed({"reason": "Tell the tutor why (5 to 2000 characters)."})
    profile = await session.get(TutorProfile, tutor_id, with_for_update=True)
    row = await pending_of(session, tutor_id)
    if profile is None or row is None:
        raise NotFound("This tutor has no changes waiting.", code="no_pending_changes")
    if profile.status != TutorStatus.APPROVED.value:
        raise Conflict("Only an approved profile's changes are reviewed.", code="invalid_status")
    changes = dict(row.changes)
    if action == "approve":
        _apply(profile, changes, storage)
        title = "Your profile changes are live"
        text = "Your profile changes are approved and live."
    else:
        if changes.get("photo_key"):
            _delete_photo(storage, changes["photo_key"])
        title = "Your profile changes were not approved"
        text = f"Your profile changes were not approved: {reason}"
    await session.delete(row)
    session.add(
        ModerationDecision(
            tutor_id=tutor_id,
            admin_id=admin_id,
            action=action,
            reason=f"Profile changes ({', '.join(LABELS[f] for f in changes)}). {reason}".strip(),
        )
    )
    await notifications.notify(
        session,
        tutor_id,
        kind=f"profile.changes_{action}",
        title=title,
        body=text,
        link="/tutor/profile",
        sms_text=f"Duet: {text}",
    )
    await session.flush()
    emit(session, TutorProfileChanged(tutor_id))
    return profile


def _apply(profile: TutorProfile, changes: dict[str, Any], storage: MediaStorage) -> None:
    if "display_name" in changes:
        profile.display_name = changes["display_name"]
    if "prices" in changes:
        profile.prices = [
            LessonPrice(duration_minutes=d, price_minor=p) for d, p in changes["prices"]
        ]
    if "trial_price_minor" in changes:
        profile.trial_price_minor = changes["trial_price_minor"]
    if "photo_key" in changes:
        old = profile.photo_key
        profile.photo_key = changes["photo_key"]
        if old:
            _delete_photo(storage, old)


def _delete_photo(storage: MediaStorage, base: str) -> None:
    for size in media_processing.PHOTO_SIZES:
        storage.delete(f"{base}-{size}.webp")
