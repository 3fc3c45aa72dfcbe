"""Course request and response types."""

from __future__ import annotations

import msgspec


class CourseIn(msgspec.Struct, forbid_unknown_fields=True):
    title: str
    instrument: str
    level: str
    language: str
    summary: str = ""
    description: str = ""
    price_minor: int = 0


class ModuleIn(msgspec.Struct, forbid_unknown_fields=True):
    title: str


class ItemIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    title: str
    module_id: int
    required: bool = True
    body: str = ""


class ItemUpdateIn(msgspec.Struct, forbid_unknown_fields=True):
    title: str
    required: bool = True
    body: str = ""


class MoveIn(msgspec.Struct, forbid_unknown_fields=True):
    direction: str  # up or down


class ModuleOrderIn(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    items: list[int]


class OrderIn(msgspec.Struct, forbid_unknown_fields=True):
    """The whole course order: modules in order, each with its items in order."""

    modules: list[ModuleOrderIn]


class ProgressIn(msgspec.Struct, forbid_unknown_fields=True):
    position_seconds: float | None = None
    completed: bool | None = None


class MediaOut(msgspec.Struct):
    id: int
    kind: str
    status: str
    progress_percent: int
    error: str
    duration_seconds: float | None
    filename: str
    url: str | None
    hls_url: str | None


class ItemOut(msgspec.Struct):
    id: int
    kind: str
    title: str
    required: bool
    position: int
    module_id: int
    body_html: str = ""
    media: MediaOut | None = None
    quiz_id: int | None = None
    completed: bool | None = None
    position_seconds: float | None = None


class ModuleOut(msgspec.Struct):
    id: int
    title: str
    position: int
    items: list[ItemOut]


class CourseSummaryOut(msgspec.Struct):
    id: int
    title: str
    summary: str
    instrument: str
    level: str
    language: str
    price_minor: int
    currency: str
    free: bool
    tutor_id: int
    tutor_name: str
    status: str
    published_at: str | None
    items: int
    url: str


class CourseOut(msgspec.Struct):
    id: int
    title: str
    summary: str
    description_html: str
    instrument: str
    level: str
    language: str
    price_minor: int
    currency: str
    free: bool
    tutor_id: int
    tutor_name: str
    status: str
    modules: list[ModuleOut]


class CoursePage(msgspec.Struct):
    items: list[CourseSummaryOut]
    page: int
    per_page: int
    total: int


class EnrolmentOut(msgspec.Struct):
    id: int
    course_id: int
    course_title: str
    source: str
    enrolled_at: str
    progress_percent: int
    completed_at: str | None
    continue_item_id: int | None
    certificate_code: str | None
    order_id: int | None = None
    """The purchase that granted a bought course (its refund is asked for on the course)."""
    refundable: bool = False
    """Whether ``POST /api/v1/courses/{id}/refund`` would be accepted now."""
    refundable_until: str | None = None
    refund_refusal: str = ""
    """Why a bought course cannot be refunded now (empty when it can, or was not bought)."""
    ended_at: str | None = None
    end_reason: str = ""


class CourseOrderOut(msgspec.Struct):
    id: int
    course_id: int
    title: str
    status: str
    """open, paid, disputed, refunded, charged_back or cancelled."""
    price_minor: int
    currency: str
    payment_id: int | None
    paid_at: str | None
    refundable_until: str | None
    settled: bool
    closed_reason: str
