"""Lesson notes, homework, shared files and the practice log.

Everything here belongs to one tutor–student pair: a booking's notes are visible to its tutor and
its student only (anyone else gets a 404, admins included: notes are private), and each side
sees the whole history of the pair. Only the tutor writes notes and homework; only the student
logs practice; both can share files and tick homework off.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.courses import media
from lessons.notes.models import Homework, LessonFile, LessonNote, PracticeEntry
from marketplace.errors import FieldErrors, Forbidden, NotFound, ValidationFailed
from marketplace.images import image_format
from marketplace.media import MediaStorage, new_key
from marketplace.notifications import service as notifications
from marketplace.text import render_markdown
from scheduling.models import Booking

MAX_NOTE = 20_000
FILE_KINDS = {
    "application/pdf": "file",
    "image/png": "image",
    "image/jpeg": "image",
}


@dataclass(frozen=True)
class Seat:
    booking: Booking
    role: str  # tutor or student


async def seat(session: AsyncSession, booking_id: int, user_id: int) -> Seat:
    booking = await session.get(Booking, booking_id)
    if booking is None or user_id not in (booking.tutor_id, booking.student_id):
        raise NotFound("No such lesson.", code="lesson_not_found")
    return Seat(booking, "tutor" if user_id == booking.tutor_id else "student")


def _tutor_only(s: Seat) -> None:
    if s.role != "tutor":
        raise Forbidden("Only the lesson's tutor can do this.", code="tutor_of_lesson_only")


async def save_note(session: AsyncSession, s: Seat, body: str) -> LessonNote:
    _tutor_only(s)
    if len(body) > MAX_NOTE:
        raise ValidationFailed({"body": f"Keep the notes to {MAX_NOTE} characters."})
    note = await session.get(LessonNote, s.booking.id, with_for_update=True)
    if note is None:
        note = LessonNote(booking_id=s.booking.id)
        session.add(note)
    note.body_markdown = body
    note.body_html = render_markdown(body)
    await session.flush()
    return note


async def add_homework(
    session: AsyncSession, s: Seat, title: str, details: str, due_on: date | None
) -> Homework:
    _tutor_only(s)
    errors = FieldErrors()
    if not 1 <= len(title.strip()) <= 200:
        errors.add("title", "Name the homework (at most 200 characters).")
    if len(details) > 5000:
        errors.add("details", "Keep the details to 5000 characters.")
    if due_on is not None and due_on < s.booking.starts_at.date() - timedelta(days=1):
        errors.add("due_on", "The due date cannot be before the lesson.")
    errors.raise_if_any()
    homework = Homework(
        booking_id=s.booking.id, title=title.strip(), details=details.strip(), due_on=due_on
    )
    session.add(homework)
    await session.flush()
    due = f" (due {due_on.isoformat()})" if due_on else ""
    await notifications.notify(
        session,
        s.booking.student_id,
        kind="homework_added",
        title="New homework from your tutor",
        body=f"{homework.title}{due}",
        link=f"/lessons/{s.booking.id}/notes",
    )
    return homework


async def set_homework_done(
    session: AsyncSession, user_id: int, homework_id: int, done: bool, now: datetime
) -> Homework:
    """Either side of the lesson ticks homework off (or back on)."""
    homework = await session.get(Homework, homework_id, with_for_update=True)
    if homework is None:
        raise NotFound("No such homework.", code="homework_not_found")
    await seat(session, homework.booking_id, user_id)
    homework.done_at = now if done else None
    return homework


async def add_file(
    session: AsyncSession,
    storage: MediaStorage,
    s: Seat,
    user_id: int,
    staged: Path,
    filename: str,
    content_type: str,
    max_bytes: int,
) -> LessonFile:
    """A PDF, PNG or JPEG, checked by content (422 and nothing kept when it is not)."""
    declared = content_type.split(";", 1)[0].strip().lower()
    key_for = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
    real, size = await asyncio.to_thread(_check, staged, declared, max_bytes)
    key = new_key("lesson-files", key_for[real])
    await asyncio.to_thread(_move, staged, storage.path(key))
    suffix = key_for[real]
    row = LessonFile(
        booking_id=s.booking.id,
        uploaded_by=user_id,
        key=key,
        filename=(Path(filename).name or f"file{suffix}")[:200],
        content_type=real,
        size_bytes=size,
    )
    session.add(row)
    await session.flush()
    return row


def _check(staged: Path, declared: str, max_bytes: int) -> tuple[str, int]:
    try:
        size = staged.stat().st_size
        if size > max_bytes:
            raise ValidationFailed(
                {"file": f"The file must be at most {max_bytes // 1_048_576} MB."}
            )
        if size == 0:
            raise ValidationFailed({"file": "The file is empty."})
        real = _sniff(staged, max_bytes)
        if declared not in ("", "application/octet-stream") and declared != real:
            raise ValidationFailed({"file": f"The file is declared as {declared} but is {real}."})
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return real, size


def _move(staged: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staged.replace(target)


def _sniff(path: Path, max_bytes: int) -> str:
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"%PDF-"):
        media.probe(path, "file", "application/pdf", media.Limits(max_bytes, 0))
        return "application/pdf"
    fmt = image_format(path, "file")
    if fmt == "PNG":
        return "image/png"
    if fmt == "JPEG":
        return "image/jpeg"
    raise ValidationFailed({"file": "Share a PDF (sheet music) or a PNG or JPEG image."})


async def file_for(session: AsyncSession, user_id: int, file_id: int) -> LessonFile:
    row = await session.get(LessonFile, file_id)
    if row is None:
        raise NotFound("No such file.", code="file_not_found")
    await seat(session, row.booking_id, user_id)
    return row


async def log_practice(
    session: AsyncSession,
    s: Seat,
    practiced_on: date,
    minutes: int,
    pieces: str,
    notes: str,
    today: date,
) -> PracticeEntry:
    if s.role != "student":
        raise Forbidden("Only the student logs practice.", code="student_of_lesson_only")
    errors = FieldErrors()
    if not 1 <= minutes <= 1440:
        errors.add("minutes", "Minutes practised: 1 to 1440.")
    if practiced_on > today + timedelta(days=1) or practiced_on < today - timedelta(days=366):
        errors.add("practiced_on", "Choose a day within the last year.")
    if len(pieces) > 500:
        errors.add("pieces", "Keep the pieces to 500 characters.")
    if len(notes) > 2000:
        errors.add("notes", "Keep the notes to 2000 characters.")
    errors.raise_if_any()
    entry = PracticeEntry(
        student_id=s.booking.student_id,
        tutor_id=s.booking.tutor_id,
        booking_id=s.booking.id,
        practiced_on=practiced_on,
        minutes=minutes,
        pieces=pieces.strip(),
        notes=notes.strip(),
    )
    session.add(entry)
    await session.flush()
    return entry


@dataclass
class LessonRecord:
    booking: Booking
    note: LessonNote | None
    homework: list[Homework] = field(default_factory=list)
    files: list[LessonFile] = field(default_factory=list)


@dataclass
class History:
    lessons: list[LessonRecord]
    practice: list[PracticeEntry]
    minutes_7_days: int
    minutes_30_days: int


async def history(session: AsyncSession, tutor_id: int, student_id: int) -> History:
    """Every lesson of the pair (newest first) with its notes, and the practice log."""
    bookings = list(
        await session.scalars(
            select(Booking)
            .where(Booking.tutor_id == tutor_id, Booking.student_id == student_id)
            .order_by(Booking.starts_at.desc())
            .limit(200)
        )
    )
    ids = [b.id for b in bookings]
    notes = {
        n.booking_id: n
        for n in await session.scalars(select(LessonNote).where(LessonNote.booking_id.in_(ids)))
    }
    records = {b.id: LessonRecord(b, notes.get(b.id)) for b in bookings}
    for h in await session.scalars(
        select(Homework).where(Homework.booking_id.in_(ids)).order_by(Homework.id)
    ):
        records[h.booking_id].homework.append(h)
    for f in await session.scalars(
        select(LessonFile).where(LessonFile.booking_id.in_(ids)).order_by(LessonFile.id)
    ):
        records[f.booking_id].files.append(f)
    practice = list(
        await session.scalars(
            select(PracticeEntry)
            .where(PracticeEntry.tutor_id == tutor_id, PracticeEntry.student_id == student_id)
            .order_by(PracticeEntry.practiced_on.desc(), PracticeEntry.id.desc())
            .limit(500)
        )
    )
    today = datetime.now(UTC).date()

    async def minutes_since(days: int) -> int:
        total = await session.scalar(
            select(func.coalesce(func.sum(PracticeEntry.minutes), 0)).where(
                PracticeEntry.tutor_id == tutor_id,
                PracticeEntry.student_id == student_id,
                PracticeEntry.practiced_on > today - timedelta(days=days),
            )
        )
        return int(total or 0)

    return History(
        lessons=[records[b.id] for b in bookings],
        practice=practice,
        minutes_7_days=await minutes_since(7),
        minutes_30_days=await minutes_since(30),
    )
