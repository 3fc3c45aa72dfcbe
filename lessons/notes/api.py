"""Lesson notes over HTTP: the JSON API, the page at /lessons/{id}/notes and file downloads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.params import FromPath, JSONBody
from litestar.response import File, Template

from lessons._web import me, services_of
from lessons.notes import service
from lessons.notes.schemas import (
    DoneIn,
    FileOut,
    HomeworkIn,
    HomeworkOut,
    LessonOut,
    NoteIn,
    NotesOut,
    PracticeIn,
    PracticeOut,
)
from marketplace.errors import DomainError, ValidationFailed
from marketplace.web.access import Access
from marketplace.web.forms import form_data, form_failure, redirect
from marketplace.web.templating import NOTICES, page
from marketplace.web.uploads import FileForm, PageForm, form_file, stage_upload

NOTICES.update(
    {
        "notes_saved": "The lesson notes are saved.",
        "homework_added": "Homework added.",
        "homework_updated": "Homework updated.",
        "file_shared": "The file is shared.",
        "practice_logged": "Practice logged. Keep it up!",
    }
)


def lesson_out(record: service.LessonRecord) -> LessonOut:
    b = record.booking
    return LessonOut(
        booking_id=b.id,
        starts_at=b.starts_at.isoformat(),
        status=b.status,
        notes_html=record.note.body_html if record.note else "",
        notes_markdown=record.note.body_markdown if record.note else "",
        homework=[
            HomeworkOut(
                h.id,
                h.title,
                h.details,
                h.due_on.isoformat() if h.due_on else None,
                bool(h.done_at),
            )
            for h in record.homework
        ],
        files=[
            FileOut(f.id, f.filename, f.content_type, f.size_bytes, f"/lessons/{b.id}/files/{f.id}")
            for f in record.files
        ],
    )


async def notes_out(session: Any, seat: service.Seat) -> NotesOut:
    b = seat.booking
    found = await service.history(session, b.tutor_id, b.student_id)
    this = next((r for r in found.lessons if r.booking.id == b.id), service.LessonRecord(b, None))
    return NotesOut(
        booking_id=b.id,
        role=seat.role,
        tutor_id=b.tutor_id,
        student_id=b.student_id,
        lesson=lesson_out(this),
        history=[lesson_out(r) for r in found.lessons],
        practice=[
            PracticeOut(
                p.id, p.booking_id, p.practiced_on.isoformat(), p.minutes, p.pieces, p.notes
            )
            for p in found.practice
        ],
        minutes_7_days=found.minutes_7_days,
        minutes_30_days=found.minutes_30_days,
    )


class NotesController(Controller):
    path = "/api/v1"
    tags = ["lesson notes"]

    @get("/bookings/{booking_id:int}/notes", access=Access.USER)
    async def show(self, request: Request[Any, Any, Any], booking_id: FromPath[int]) -> NotesOut:
        """This lesson's notes, homework and files, and the pair's history and practice log.
        Only the lesson's tutor and student (404 for anyone else)."""
        async with services_of(request).sessions() as session:
            seat = await service.seat(session, booking_id, me(request).id)
            return await notes_out(session, seat)

    @put("/bookings/{booking_id:int}/notes", access=Access.USER)
    async def save(
        self, request: Request[Any, Any, Any], booking_id: FromPath[int], data: JSONBody[NoteIn]
    ) -> NotesOut:
        """The tutor's notes (Markdown); 403 for the student."""
        async with services_of(request).transaction() as session:
            seat = await service.seat(session, booking_id, me(request).id)
            await service.save_note(session, seat, data.body)
            return await notes_out(session, seat)

    @post("/bookings/{booking_id:int}/homework", access=Access.USER, status_code=201)
    async def homework(
        self,
        request: Request[Any, Any, Any],
        booking_id: FromPath[int],
        data: JSONBody[HomeworkIn],
    ) -> NotesOut:
        async with services_of(request).transaction() as session:
            seat = await service.seat(session, booking_id, me(request).id)
            await service.add_homework(session, seat, data.title, data.details, data.due_on)
            return await notes_out(session, seat)

    @post("/homework/{homework_id:int}/done", access=Access.USER, status_code=200)
    async def done(
        self, request: Request[Any, Any, Any], homework_id: FromPath[int], data: JSONBody[DoneIn]
    ) -> HomeworkOut:
        async with services_of(request).transaction() as session:
            h = await service.set_homework_done(
                session, me(request).id, homework_id, data.done, datetime.now(UTC)
            )
            return HomeworkOut(
                h.id,
                h.title,
                h.details,
                h.due_on.isoformat() if h.due_on else None,
                bool(h.done_at),
            )

    @post(
        "/bookings/{booking_id:int}/files",
        access=Access.USER,
        status_code=201,
        request_max_body_size=64 * 1024 * 1024,
    )
    async def share_file(
        self, request: Request[Any, Any, Any], booking_id: FromPath[int], data: FileForm
    ) -> FileOut:
        """Multipart field ``file``: a PDF, PNG or JPEG."""
        row = await _share(request, booking_id, data.file)
        return FileOut(
            row.id,
            row.filename,
            row.content_type,
            row.size_bytes,
            f"/lessons/{booking_id}/files/{row.id}",
        )

    @post("/bookings/{booking_id:int}/practice", access=Access.USER, status_code=201)
    async def practice(
        self,
        request: Request[Any, Any, Any],
        booking_id: FromPath[int],
        data: JSONBody[PracticeIn],
    ) -> PracticeOut:
        """The student's practice log; 403 for the tutor."""
        async with services_of(request).transaction() as session:
            seat = await service.seat(session, booking_id, me(request).id)
            p = await service.log_practice(
                session,
                seat,
                data.practiced_on,
                data.minutes,
                data.pieces,
                data.notes,
                datetime.now(UTC).date(),
            )
            return PracticeOut(
                p.id, p.booking_id, p.practiced_on.isoformat(), p.minutes, p.pieces, p.notes
            )


async def _share(request: Request[Any, Any, Any], booking_id: int, upload: UploadFile) -> Any:
    services = services_of(request)
    async with services.sessions() as session:
        await service.seat(session, booking_id, me(request).id)
    limit = services.settings.courses.max_file_bytes
    path, _ = await stage_upload(upload, services.storage, limit)
    async with services.transaction() as session:
        seat = await service.seat(session, booking_id, me(request).id)
        return await service.add_file(
            session,
            services.storage,
            seat,
            me(request).id,
            path,
            getattr(upload, "filename", "") or "",
            getattr(upload, "content_type", "") or "",
            limit,
        )


# ---------------------------------------------------------------- pages


@get("/lessons/{booking_id:int}/notes", access=Access.USER, include_in_schema=False)
async def notes_page(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Template:
    return await _page(request, booking_id)


async def _page(
    request: Request[Any, Any, Any],
    booking_id: int,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Template:
    async with services_of(request).sessions() as session:
        seat = await service.seat(session, booking_id, me(request).id)
        out = await notes_out(session, seat)
    return page(
        request,
        "lessons/notes.html",
        status_code=status_code,
        n=out,
        starts_at=seat.booking.starts_at,
        zone=me(request).time_zone,
        today=datetime.now(UTC).date().isoformat(),
        errors=errors or {},
        problem=problem,
    )


async def _form_action(
    request: Request[Any, Any, Any],
    booking_id: int,
    action: Any,
    notice: str,
    field: str | None = None,
) -> Any:
    """``field``: the form's main field, where a problem that names none is shown."""
    try:
        await action()
    except DomainError as exc:
        return await _page(request, booking_id, **form_failure(exc, field))
    return redirect(f"/lessons/{booking_id}/notes", notice)


@post("/lessons/{booking_id:int}/notes", access=Access.USER, include_in_schema=False)
async def save_notes_form(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Any:
    form = await form_data(request)

    async def action() -> None:
        async with services_of(request).transaction() as session:
            seat = await service.seat(session, booking_id, me(request).id)
            await service.save_note(session, seat, form.get("body", ""))

    return await _form_action(request, booking_id, action, "notes_saved", "body")


def _date(raw: str, field: str) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed({field: "Enter a date."}) from None


@post("/lessons/{booking_id:int}/homework", access=Access.USER, include_in_schema=False)
async def homework_form(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Any:
    form = await form_data(request)

    async def action() -> None:
        due = _date(form.get("due_on", ""), "due_on")
        async with services_of(request).transaction() as session:
            seat = await service.seat(session, booking_id, me(request).id)
            await service.add_homework(
                session, seat, form.get("title", ""), form.get("details", ""), due
            )

    return await _form_action(request, booking_id, action, "homework_added", "title")


@post(
    "/lessons/{booking_id:int}/homework/{homework_id:int}",
    access=Access.USER,
    include_in_schema=False,
)
async def homework_done_form(
    request: Request[Any, Any, Any], booking_id: FromPath[int], homework_id: FromPath[int]
) -> Any:
    form = await form_data(request)

    async def action() -> None:
        async with services_of(request).transaction() as session:
            await service.set_homework_done(
                session, me(request).id, homework_id, form.get("done") == "1", datetime.now(UTC)
            )

    return await _form_action(request, booking_id, action, "homework_updated")


@post(
    "/lessons/{booking_id:int}/files",
    access=Access.USER,
    include_in_schema=False,
    request_max_body_size=64 * 1024 * 1024,
)
async def file_form(
    request: Request[Any, Any, Any], booking_id: FromPath[int], data: PageForm
) -> Any:
    async def action() -> None:
        await _share(request, booking_id, form_file(data, "file"))

    return await _form_action(request, booking_id, action, "file_shared", "file")


@post("/lessons/{booking_id:int}/practice", access=Access.USER, include_in_schema=False)
async def practice_form(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Any:
    form = await form_data(request)

    async def action() -> None:
        day = _date(form.get("practiced_on", ""), "practiced_on") or datetime.now(UTC).date()
        raw = form.get("minutes", "").strip()
        if not raw.isdigit():
            raise ValidationFailed({"minutes": "Minutes practised: a whole number."})
        async with services_of(request).transaction() as session:
            seat = await service.seat(session, booking_id, me(request).id)
            await service.log_practice(
                session,
                seat,
                day,
                int(raw),
                form.get("pieces", ""),
                form.get("notes", ""),
                datetime.now(UTC).date(),
            )

    return await _form_action(request, booking_id, action, "practice_logged", "minutes")


@get("/lessons/{booking_id:int}/files/{file_id:int}", access=Access.USER, include_in_schema=False)
async def download(
    request: Request[Any, Any, Any], booking_id: FromPath[int], file_id: FromPath[int]
) -> Response[Any]:
    """Shared files are served only to the lesson's tutor and student."""
    services = services_of(request)
    async with services.sessions() as session:
        row = await service.file_for(session, me(request).id, file_id)
    return File(
        path=services.storage.path(row.key),
        filename=row.filename,
        media_type=row.content_type,
        content_disposition_type="attachment",
    )


ROUTES = [
    NotesController,
    notes_page,
    save_notes_form,
    homework_form,
    homework_done_form,
    file_form,
    practice_form,
    download,
]
