"""Lesson notes request and response types."""

from __future__ import annotations

from datetime import date

import msgspec


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str


class HomeworkIn(msgspec.Struct, forbid_unknown_fields=True):
    title: str
    details: str = ""
    due_on: date | None = None


class DoneIn(msgspec.Struct, forbid_unknown_fields=True):
    done: bool


class PracticeIn(msgspec.Struct, forbid_unknown_fields=True):
    practiced_on: date
    minutes: int
    pieces: str = ""
    notes: str = ""


class HomeworkOut(msgspec.Struct):
    id: int
    title: str
    details: str
    due_on: str | None
    done: bool


class FileOut(msgspec.Struct):
    id: int
    filename: str
    content_type: str
    size_bytes: int
    url: str


class LessonOut(msgspec.Struct):
    booking_id: int
    starts_at: str
    status: str
    notes_html: str
    notes_markdown: str
    homework: list[HomeworkOut]
    files: list[FileOut]


class PracticeOut(msgspec.Struct):
    id: int
    booking_id: int | None
    practiced_on: str
    minutes: int
    pieces: str
    notes: str


class NotesOut(msgspec.Struct):
    """This lesson, and the pair's whole history (newest first)."""

    booking_id: int
    role: str
    tutor_id: int
    student_id: int
    lesson: LessonOut
    history: list[LessonOut]
    practice: list[PracticeOut]
    minutes_7_days: int
    minutes_30_days: int
