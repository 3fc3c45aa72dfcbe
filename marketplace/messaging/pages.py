"""Messaging pages: the inbox, a conversation (live), writing to someone new, and the header
badge every page shows. Forms work without JavaScript; ``messaging.js`` makes them live."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from marketplace.accounts.models import User
from marketplace.errors import DomainError, NotFound
from marketplace.messaging import api, live, service
from marketplace.messaging.service import Viewer
from marketplace.profiles.models import TutorProfile
from marketplace.reports.models import REASON_LABELS, ReportReason
from marketplace.web.access import Access, principal_of, require_principal
from marketplace.web.forms import form_data, form_failure, redirect
from marketplace.web.services import Services
from marketplace.web.templating import page

REASONS = [(r.value, REASON_LABELS[r]) for r in ReportReason]
_NO_HEADER = ("/api/", "/static/", "/media/", "/calendar/", "/healthz", "/schema", "/ws/")


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


async def header_counts(request: Request[Any, Any, Any]) -> None:
    """Before each page: the unread-message count for the header badge."""
    user = principal_of(request)
    if user is None or request.method != "GET" or request.url.path.startswith(_NO_HEADER):
        return
    async with _services(request).sessions() as session:
        request.state.unread_messages = await service.unread_total(session, user.id)


@get("/messages", access=Access.USER, include_in_schema=False)
async def inbox_page(
    request: Request[Any, Any, Any],
    q: Annotated[str, QueryParameter(max_length=100)] = "",
) -> Template:
    me = require_principal(request)
    async with _services(request).sessions() as session:
        rows = await service.inbox(session, me.id, q=q, limit=100)
    return page(request, "messaging/inbox.html", rows=rows, q=q)


@get("/messages/{conversation_id:int}", access=Access.USER, include_in_schema=False)
async def conversation_page(
    request: Request[Any, Any, Any],
    conversation_id: FromPath[int],
    before: Annotated[int | None, QueryParameter(ge=1)] = None,
    booking: Annotated[int | None, QueryParameter(ge=1)] = None,
) -> Template:
    return await _conversation(request, conversation_id, before=before, booking=booking)


async def _conversation(
    request: Request[Any, Any, Any],
    conversation_id: int,
    *,
    before: int | None = None,
    booking: int | None = None,
    status_code: int = 200,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    services = _services(request)
    viewer = api.viewer_of(request)
    thread, messages = await api.thread_with_messages(
        services, viewer, conversation_id, before_seq=before, limit=50
    )
    if not thread.as_admin and before is None and thread.unread:
        _, total = await live.read(services, viewer, conversation_id, None)
        thread.my_read_seq = thread.conversation.last_seq
        request.state.unread_messages = total  # the header badge, now that this is read
    async with services.sessions() as session:
        other_is_tutor = (
            await session.get(TutorProfile, thread.conversation.tutor_id)
        ) is not None and thread.other.id == thread.conversation.tutor_id
        names = await service.names(
            session, [thread.conversation.student_id, thread.conversation.tutor_id]
        )
    return page(
        request,
        "messaging/conversation.html",
        status_code=status_code,
        thread=thread,
        items=messages.items,
        more=messages.more,
        names=names,
        other_is_tutor=other_is_tutor,
        reasons=REASONS,
        problem=problem,
        errors=errors or {},
        booking=booking,
        max_chars=services.settings.messaging.max_message_chars,
    )


@post(
    "/messages/{conversation_id:int}",
    access=Access.USER,
    include_in_schema=False,
    media_type=MediaType.HTML,
)
async def send_page(request: Request[Any, Any, Any], conversation_id: FromPath[int]) -> Any:
    services = _services(request)
    viewer = api.viewer_of(request)
    form = await form_data(request)
    body = str(form.get("body", ""))
    try:
        attachment_ids = []
        upload = form.get("file")
        if isinstance(upload, UploadFile) and upload.filename:
            attachment = await api.upload_attachment(services, viewer, conversation_id, upload)
            attachment_ids.append(attachment.id)
        posted = await live.send(
            services,
            viewer,
            conversation_id,
            body,
            booking_id=_booking(form.get("booking_id")),
            attachment_ids=attachment_ids,
            client_id=str(form.get("client_id", ""))[:64],
        )
    except DomainError as exc:
        # An attachment's problem is the file field's; a message's problem is its text's.
        failure = form_failure(exc, "body", names={"data": "file", "attachment_ids": "file"})
        return await _conversation(request, conversation_id, **failure)
    return redirect(f"/messages/{conversation_id}#m{posted.message.seq}")


def _booking(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


@get("/messages/new", access=Access.USER, include_in_schema=False, media_type=MediaType.HTML)
async def new_page(
    request: Request[Any, Any, Any],
    to: Annotated[int, QueryParameter(ge=1)],
    booking: Annotated[int | None, QueryParameter(ge=1)] = None,
) -> Any:
    """Where a "Message" button leads: the existing thread, or a first message to write."""
    return await _new(request, to, booking)


async def _new(
    request: Request[Any, Any, Any],
    to: int,
    booking: int | None,
    *,
    status_code: int = 200,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
) -> Any:
    services = _services(request)
    viewer = api.viewer_of(request)
    async with services.sessions() as session:
        existing, _, tutor_id = await service.open_with(session, viewer, to, services.booking_facts)
        other = await session.get(User, to)
        tutor = await session.get(TutorProfile, tutor_id)
    if existing is not None and problem is None:
        suffix = f"?booking={booking}" if booking else ""
        return redirect(f"/messages/{existing.id}{suffix}")
    assert other is not None
    return page(
        request,
        "messaging/new.html",
        status_code=status_code,
        other=other,
        tutor=tutor if tutor is not None and tutor.user_id == to else None,
        booking=booking,
        problem=problem,
        errors=errors or {},
        max_chars=services.settings.messaging.max_message_chars,
    )


@post("/messages/new", access=Access.USER, include_in_schema=False, media_type=MediaType.HTML)
async def start_page(request: Request[Any, Any, Any]) -> Any:
    services = _services(request)
    viewer = api.viewer_of(request)
    form = await form_data(request)
    to = _booking(form.get("to"))
    if to is None:
        raise NotFound("No such person.", code="user_not_found")
    body = str(form.get("body", ""))
    booking = _booking(form.get("booking_id"))
    try:
        posted, _ = await live.start(
            services,
            viewer,
            to,
            body,
            booking_id=booking,
            client_id=str(form.get("client_id", ""))[:64],
        )
    except DomainError as exc:
        return await _new(request, to, booking, **form_failure(exc, "body"))
    return redirect(f"/messages/{posted.conversation_id}#m{posted.message.seq}")


@post("/messages/{conversation_id:int}/block", access=Access.USER, include_in_schema=False)
async def block_page(request: Request[Any, Any, Any], conversation_id: FromPath[int]) -> Any:
    services = _services(request)
    viewer = api.viewer_of(request)
    other = await _other(services, viewer, conversation_id)
    await api.block_user(services, viewer.id, other)
    return redirect(f"/messages/{conversation_id}", notice="blocked")


@post("/messages/{conversation_id:int}/unblock", access=Access.USER, include_in_schema=False)
async def unblock_page(request: Request[Any, Any, Any], conversation_id: FromPath[int]) -> Any:
    services = _services(request)
    viewer = api.viewer_of(request)
    other = await _other(services, viewer, conversation_id)
    await api.unblock_user(services, viewer.id, other)
    return redirect(f"/messages/{conversation_id}", notice="unblocked")


@post("/messages/{conversation_id:int}/privacy", access=Access.USER, include_in_schema=False)
async def privacy_page(request: Request[Any, Any, Any], conversation_id: FromPath[int]) -> Any:
    services = _services(request)
    form = await form_data(request)
    private = str(form.get("private", "")) == "on"
    try:
        await api.set_privacy(services, api.viewer_of(request), conversation_id, private)
    except DomainError as exc:
        return await _conversation(request, conversation_id, **form_failure(exc, "private"))
    return redirect(
        f"/messages/{conversation_id}", notice="made_private" if private else "made_public"
    )


@post(
    "/messages/{conversation_id:int}/report/{message_id:int}",
    access=Access.USER,
    include_in_schema=False,
)
async def report_page(
    request: Request[Any, Any, Any], conversation_id: FromPath[int], message_id: FromPath[int]
) -> Response[Any]:
    form = await form_data(request)
    try:
        await api.report_message(
            _services(request),
            api.viewer_of(request),
            message_id,
            str(form.get("reason", "")),
            str(form.get("details", "")),
        )
    except DomainError as exc:
        return await _conversation(request, conversation_id, **form_failure(exc, "reason"))
    return redirect(f"/messages/{conversation_id}", notice="reported")


async def _other(services: Services, viewer: Viewer, conversation_id: int) -> int:
    async with services.sessions() as session:
        thread = await service.thread(session, conversation_id, viewer)
    if thread.as_admin:
        raise NotFound("No such conversation.", code="conversation_not_found")
    return thread.other.id


ROUTES = [
    inbox_page,
    new_page,
    start_page,
    conversation_page,
    send_page,
    block_page,
    unblock_page,
    privacy_page,
    report_page,
]
