"""Request and response shapes for reviews (msgspec structs; Litestar documents them).

Stars are checked by the service, not here, so the API and the page forms share one set of
messages: a rating outside 1–5 or text over the limit is a 422 naming the field.
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    rating: int
    """1 to 5 stars."""
    teaching: int | None = None
    """Optional sub-rating, 1 to 5."""
    communication: int | None = None
    punctuality: int | None = None
    text: str = ""
    """Optional, up to 2,000 characters."""


class ReplyIn(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    """1 to 2,000 characters; public, once."""


class ReportIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str
    """spam, offensive, not_about_lesson, personal_info, conflict_of_interest or other."""
    details: str = ""
    """Up to 1,000 characters; required with ``other``."""


class ModerationIn(msgspec.Struct, forbid_unknown_fields=True):
    action: str
    """hide, restore or dismiss_reports."""
    reason: str
    """Recorded with the decision, 1 to 1,000 characters."""


class SubRatingsOut(msgspec.Struct):
    teaching: int | None
    communication: int | None
    punctuality: int | None


class ReplyOut(msgspec.Struct):
    text: str
    created_at: datetime


class ReviewOut(msgspec.Struct):
    id: int
    tutor_id: int
    author: str
    """The student's first name and last initial."""
    rating: int
    sub_ratings: SubRatingsOut
    text: str
    verified_lesson: bool
    """Always true: every review comes from a completed lesson booked on Duet."""
    lesson_month: str
    """When the lesson took place, as YYYY-MM."""
    lesson_minutes: int
    status: str
    """published, or hidden by a moderator (shown only to its author, the tutor and admins)."""
    created_at: datetime
    edited_at: datetime | None
    reply: ReplyOut | None
    booking_id: int | None = None
    """Only for the lesson's student, its tutor and admins."""
    editable_until: datetime | None = None
    """Only for the author: until when the review can still be changed."""


class SubAverageOut(msgspec.Struct):
    average: float | None
    count: int


class SummaryOut(msgspec.Struct):
    tutor_id: int
    count: int
    average: float | None
    """The plain mean of the published ratings."""
    ranking_score: float | None
    """The Bayesian average search ranks by (see docs/architecture.md, "Reviews")."""
    distribution: dict[str, int]
    """Reviews per star, "1" to "5"."""
    sub_ratings: dict[str, SubAverageOut]


class ReviewPageOut(msgspec.Struct):
    summary: SummaryOut
    reviews: list[ReviewOut]
    sort: str
    page: int
    per_page: int
    total: int
    pages: int


class ReportOut(msgspec.Struct):
    id: int
    review_id: int
    reason: str
    details: str
    created_at: datetime
    resolved_at: datetime | None
    resolution: str | None


class ModerationOut(msgspec.Struct):
    id: int
    action: str
    reason: str
    admin_id: int | None
    created_at: datetime


class AdminReviewOut(msgspec.Struct):
    review: ReviewOut
    student_id: int
    open_reports: int
    reports: list[ReportOut]
    history: list[ModerationOut]
