"""Request and response shapes of the messaging API (and the socket's events)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Body = Annotated[str, msgspec.Meta(max_length=20_000)]
ClientId = Annotated[str, msgspec.Meta(max_length=64)]


class StartIn(msgspec.Struct, forbid_unknown_fields=True):
    user_id: int
    body: Body
    booking_id: int | None = None
    attachment_ids: list[int] = []
    client_id: ClientId = ""


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    body: Body = ""
    booking_id: int | None = None
    attachment_ids: list[int] = []
    client_id: ClientId = ""


class ReadIn(msgspec.Struct, forbid_unknown_fields=True):
    seq: int | None = None


class PrivacyIn(msgspec.Struct, forbid_unknown_fields=True):
    private: bool


class ReportIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str
    details: Annotated[str, msgspec.Meta(max_length=5000)] = ""


class BlockIn(msgspec.Struct, forbid_unknown_fields=True):
    user_id: int


class AttachmentOut(msgspec.Struct):
    id: int
    kind: str
    mime: str
    filename: str
    size_bytes: int
    url: str
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None


class BookingOut(msgspec.Struct):
    id: int
    starts_at: datetime
    ends_at: datetime
    status: str
    link: str


class MessageOut(msgspec.Struct):
    id: int
    conversation_id: int
    seq: int
    sender_id: int
    body: str
    html: str
    created_at: datetime
    contact_flags: list[str]
    attachments: list[AttachmentOut]
    booking: BookingOut | None
    client_id: str


class PersonOut(msgspec.Struct):
    id: int
    name: str


class ConversationOut(msgspec.Struct):
    id: int
    student_id: int
    tutor_id: int
    other: PersonOut
    last_seq: int
    last_message_at: datetime | None
    last_excerpt: str
    unread: int
    private: bool
    blocked: bool
    blocked_by_me: bool | None = None
    their_read_seq: int | None = None
    my_read_seq: int | None = None
    bookings: list[BookingOut] | None = None


class ConversationsOut(msgspec.Struct):
    items: list[ConversationOut]
    unread_total: int


class MessagesOut(msgspec.Struct):
    items: list[MessageOut]
    more: bool
    their_read_seq: int


class PostedOut(msgspec.Struct):
    conversation: ConversationOut
    message: MessageOut


class UnreadOut(msgspec.Struct):
    total: int
    conversations: dict[str, int]


class ReportOut(msgspec.Struct):
    id: int
    status: str
    reason: str
    created_at: datetime


class BlockOut(msgspec.Struct):
    user_id: int
    name: str
    created_at: datetime
