"""What stands between a tutor and being bookable: a checklist shown on the tutor's own pages.

Search owns it because search decides who students can find (``service.is_searchable``): the
profile must be approved, priced, and have a payout account that may receive money; to be
booked the tutor also needs free time. Each step carries its state and a link to fix it, so the
tutor is never told "your profile is public" while students cannot find them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.profiles import service as profiles
from marketplace.profiles.models import TutorProfile, TutorStatus
from marketplace.web.fragments import Fragment
from payouts import accounts as payout_accounts
from search.availability import HORIZON_DAYS, free_time
from search.service import is_searchable


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    state: str  # one sentence: where this step stands
    link: str = ""  # where to fix it (empty when done or nothing to do)
    link_text: str = ""
    required: bool = True  # False: recommended, not needed to be found


@dataclass(frozen=True)
class Readiness:
    steps: list[Step]
    searchable: bool  # students can find the tutor in search
    bookable: bool  # ... and there is free time to book

    @property
    def missing(self) -> list[Step]:
        return [s for s in self.steps if s.required and not s.done]

    @property
    def headline(self) -> str:
        if self.bookable:
            return "Students can find you in search and book a lesson."
        if self.searchable:
            return "Students can find you in search, but have no free time to book."
        left = len(self.missing)
        return (
            f"Students cannot find you yet: {left} step{'' if left == 1 else 's'} to go."
            if left
            else "Students cannot find you yet."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "searchable": self.searchable,
            "bookable": self.bookable,
            "headline": self.headline,
            "steps": [
                {
                    "key": s.key,
                    "title": s.title,
                    "done": s.done,
                    "required": s.required,
                    "state": s.state,
                    "link": s.link,
                }
                for s in self.steps
            ],
        }


async def tutor_readiness(
    session: AsyncSession, profile: TutorProfile, now: datetime | None = None
) -> Readiness:
    now = now or datetime.now(UTC)
    payable = profile.user_id in await payout_accounts.payout_ready(session, [profile.user_id])
    durations = [p.duration_minutes for p in profile.prices] or [60]
    free = (await free_time(session, {profile.user_id: durations}, now)).get(profile.user_id)
    has_free_time = free is not None and free.next_free_at is not None
    searchable = is_searchable(profile, payable)
    steps = [
        _profile_step(profile),
        _review_step(profile),
        Step(
            "payouts",
            "Set up payouts",
            payable,
            "Your payout account can receive lesson payments."
            if payable
            else "Students pay through Duet; you need a payout account before anyone can book.",
            "" if payable else "/tutor/earnings",
            "Set up payouts",
        ),
        Step(
            "availability",
            "Open times for lessons",
            has_free_time,
            "Students can pick from your free times."
            if has_free_time
            else f"You have no free times in the next {HORIZON_DAYS} days, so nobody can book.",
            "/tutor/availability",
            "Edit your times" if has_free_time else "Set your availability",
        ),
        Step(
            "photo",
            "Add a photo",
            profile.photo_key is not None,
            "Your photo is on your profile."
            if profile.photo_key
            else "Profiles with a photo are chosen far more often.",
            "" if profile.photo_key else "/tutor/profile#photo",
            "Upload a photo",
            required=False,
        ),
        _audio_step(profile),
    ]
    return Readiness(steps=steps, searchable=searchable, bookable=searchable and has_free_time)


def _profile_step(profile: TutorProfile) -> Step:
    missing = profiles.missing_for_review(profile)
    return Step(
        "profile",
        "Complete your profile",
        not missing,
        "Headline, bio, instruments, styles, languages, formats and prices are filled in."
        if not missing
        else "Still missing: " + "; ".join(missing) + ".",
        "" if not missing else "/tutor/profile#profile-form",
        "Edit your profile",
    )


_REVIEW_STATE = {
    TutorStatus.DRAFT: ("Send your profile for review when it is complete.", "Send for review"),
    TutorStatus.PENDING: ("An admin is reviewing your profile; you will be notified.", ""),
    TutorStatus.APPROVED: ("Your profile is approved.", ""),
    TutorStatus.REJECTED: ("Changes were requested: {reason}", "Fix and resend"),
    TutorStatus.SUSPENDED: ("Your profile is suspended: {reason}", ""),
}


def _review_step(profile: TutorProfile) -> Step:
    status = TutorStatus(profile.status)
    state, action = _REVIEW_STATE[status]
    return Step(
        "review",
        "Get approved",
        status is TutorStatus.APPROVED,
        state.format(reason=profile.status_reason),
        "/tutor/profile#status" if action else "",
        action,
    )


def _audio_step(profile: TutorProfile) -> Step:
    sample = profile.audio_sample
    ready = sample is not None and sample.playable_key is not None
    if ready:
        state = "Students can hear you play."
    elif sample is not None and sample.status == "processing":
        state = "Your recording is being converted."
    else:
        state = "A short recording lets students hear you play before they book."
    return Step(
        "audio",
        "Add a recording",
        ready,
        state,
        "" if ready else "/tutor/profile#audio",
        "Upload a recording",
        required=False,
    )


async def _load(
    request: Any, session: AsyncSession, subject: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    profile = await session.get(TutorProfile, int(subject["tutor_id"]))
    if profile is None:
        return None
    return {"readiness": await tutor_readiness(session, profile)}


# On the tutor's own profile editor (slot "tutor_editor"), wired by the composition root.
FRAGMENT = Fragment("search/_readiness.html", _load)
