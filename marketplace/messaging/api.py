"""The messaging JSON API: conversations, messages, attachments, read cursors, blocks, reports."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace.attachments import service as attachments
from marketplace.errors import ValidationFailed
from marketplace.messaging import live, safety, service
from marketplace.messaging.presenters import (
    attachment_out,
    inbox_out,
    message_out,
    thread_out,
)
from marketplace.messaging.schemas import (
    AttachmentOut,
    BlockIn,
    BlockOut,
    ConversationOut,
    ConversationsOut,
    MessageIn,
    MessagesOut,
    PostedOut,
    PrivacyIn,
    ReadIn,
    ReportIn,
    ReportOut,
    StartIn,
    UnreadOut,
)
from marketplace.messaging.service import Viewer
from marketplace.reports import service as reports
from marketplace.reports.service import Subject
from marketplace.web.access import Access, require_principal
from marketplace.web.attachment_files import attachment_response
from marketplace.web.services import Services
from marketplace.web.uploads import DataForm

ATTACHMENT_BODY_LIMIT = 64 * 1024 * 1024


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def viewer_of(request: Request[Any, Any, Any]) -> Viewer:
    p = require_principal(request)
    return Viewer(p.id, p.roles, p.is_admin)


async def thread_with_messages(
    services: Services, viewer: Viewer, conversation_id: int, **page: Any
) -> tuple[service.Thread, MessagesOut]:
    async with services.sessions() as session:
        thread = await service.thread(session, conversation_id, viewer, services.booking_facts)
        rows, more = await service.messages(session, conversation_id, **page)
        files = await service.attachments_of(session, [m.id for m in rows])
    bookings = {b.id: b for b in thread.bookings}
    items = [message_out(m, files.get(m.id, []), bookings.get(m.booking_id or 0)) for m in rows]
    return thread, MessagesOut(items, more, thread.their_read_seq)


class ConversationController(Controller):
    path = "/api/v1/conversations"
    tags = ["messaging"]

    @get("/", access=Access.USER)
    async def list_conversations(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str, QueryParameter(max_length=100)] = "",
        page: Annotated[int, QueryParameter(ge=1, le=1000)] = 1,
    ) -> ConversationsOut:
        """Your conversations, newest first; ``q`` searches names and message text."""
        me = require_principal(request).id
        async with _services(request).sessions() as session:
            rows = await service.inbox(session, me, q=q, limit=50, offset=(page - 1) * 50)
            total = await service.unread_total(session, me)
        return ConversationsOut([inbox_out(r) for r in rows], total)

    @post("/", access=Access.USER, errors=(429,), status_code=201)
    async def start(
        self, request: Request[Any, Any, Any], data: JSONBody[StartIn]
    ) -> Response[PostedOut]:
        """Write to a tutor (or a student who booked you): in your thread with them, made if
        needed. 201 when the thread is new, 200 when it existed."""
        services = _services(request)
        viewer = viewer_of(request)
        posted, created = await live.start(
            services,
            viewer,
            data.user_id,
            data.body,
            booking_id=data.booking_id,
            attachment_ids=data.attachment_ids,
            client_id=data.client_id,
        )
        async with services.sessions() as session:
            thread = await service.thread(session, posted.conversation_id, viewer)
        out = PostedOut(
            thread_out(thread), message_out(posted.message, posted.attachments, posted.booking)
        )
        return Response(out, status_code=201 if created else 200)

    @get("/unread", access=Access.USER)
    async def unread(self, request: Request[Any, Any, Any]) -> UnreadOut:
        """Unread messages in total and per conversation (the header badge)."""
        me = require_principal(request).id
        async with _services(request).sessions() as session:
            total = await service.unread_total(session, me)
            per = await service.unread_by_conversation(session, me)
        return UnreadOut(total, {str(k): v for k, v in per.items()})

    @get("/{conversation_id:int}", access=Access.USER)
    async def show(
        self, request: Request[Any, Any, Any], conversation_id: FromPath[int]
    ) -> ConversationOut:
        services = _services(request)
        async with services.sessions() as session:
            thread = await service.thread(
                session, conversation_id, viewer_of(request), services.booking_facts
            )
        return thread_out(thread)

    @get("/{conversation_id:int}/messages", access=Access.USER)
    async def list_messages(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[int],
        after_seq: Annotated[int | None, QueryParameter(ge=0)] = None,
        before_seq: Annotated[int | None, QueryParameter(ge=1)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> MessagesOut:
        """The newest messages, older ones with ``before_seq``, or everything after
        ``after_seq`` (catch-up after a dropped connection; repeat while ``more``)."""
        _, out = await thread_with_messages(
            _services(request),
            viewer_of(request),
            conversation_id,
            after_seq=after_seq,
            before_seq=before_seq,
            limit=limit,
        )
        return out

    @post("/{conversation_id:int}/messages", access=Access.USER, errors=(429,), status_code=201)
    async def send(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[int],
        data: JSONBody[MessageIn],
    ) -> Response[Any]:
        """Post a message. The same ``client_id`` again returns the first message (200)."""
        posted = await live.send(
            _services(request),
            viewer_of(request),
            conversation_id,
            data.body,
            booking_id=data.booking_id,
            attachment_ids=data.attachment_ids,
            client_id=data.client_id,
        )
        out = message_out(posted.message, posted.attachments, posted.booking)
        return Response(out, status_code=200 if posted.duplicate else 201)

    @post(
        "/{conversation_id:int}/attachments",
        access=Access.USER,
        errors=(429,),
        status_code=201,
        request_max_body_size=ATTACHMENT_BODY_LIMIT,
    )
    async def upload(
        self, request: Request[Any, Any, Any], conversation_id: FromPath[int], data: DataForm
    ) -> AttachmentOut:
        """Multipart field ``data``: a PDF, JPEG/PNG/WebP image or short audio. Send its id in
        ``attachment_ids`` with the message; unsent uploads are removed after a day."""
        services = _services(request)
        viewer = viewer_of(request)
        attachment = await upload_attachment(services, viewer, conversation_id, data.data)
        return attachment_out(conversation_id, attachment)

    @get(
        "/{conversation_id:int}/attachments/{attachment_id:int}",
        access=Access.USER,
        media_type="application/octet-stream",
    )
    async def download(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[int],
        attachment_id: FromPath[int],
    ) -> Response[bytes]:
        services = _services(request)
        async with services.sessions() as session:
            await service.thread(session, conversation_id, viewer_of(request))
            attachment = await service.attachment_in(session, conversation_id, attachment_id)
        return attachment_response(request, services.private_storage, attachment)

    @post("/{conversation_id:int}/read", access=Access.USER)
    async def read(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[int],
        data: JSONBody[ReadIn],
    ) -> UnreadOut:
        """Mark read up to ``seq`` (default: everything). The cursor never moves back."""
        services = _services(request)
        viewer = viewer_of(request)
        await live.read(services, viewer, conversation_id, data.seq)
        async with services.sessions() as session:
            total = await service.unread_total(session, viewer.id)
            per = await service.unread_by_conversation(session, viewer.id)
        return UnreadOut(total, {str(k): v for k, v in per.items()})

    @put("/{conversation_id:int}/privacy", access=Access.USER)
    async def privacy(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[int],
        data: JSONBody[PrivacyIn],
    ) -> ConversationOut:
        """Private: notifications and SMS never carry the text of its messages."""
        services = _services(request)
        viewer = viewer_of(request)
        await set_privacy(services, viewer, conversation_id, data.private)
        async with services.sessions() as session:
            thread = await service.thread(session, conversation_id, viewer)
        return thread_out(thread)


class MessageReportController(Controller):
    path = "/api/v1/messages"
    tags = ["messaging"]

    @post("/{message_id:int}/report", access=Access.USER, errors=(429,), status_code=201)
    async def report(
        self, request: Request[Any, Any, Any], message_id: FromPath[int], data: JSONBody[ReportIn]
    ) -> ReportOut:
        """Report a message you received, with a reason; an admin will look at it."""
        report = await report_message(
            _services(request), viewer_of(request), message_id, data.reason, data.details
        )
        return ReportOut(report.id, report.status, report.reason, report.created_at)


class BlockController(Controller):
    path = "/api/v1/me/blocks"
    tags = ["messaging"]

    @get("/", access=Access.USER)
    async def list_blocks(self, request: Request[Any, Any, Any]) -> list[BlockOut]:
        async with _services(request).sessions() as session:
            rows = await safety.blocks_of(session, require_principal(request).id)
        return [BlockOut(b.blocked_id, name, b.created_at) for b, name in rows]

    @post("/", access=Access.USER, status_code=204)
    async def block(self, request: Request[Any, Any, Any], data: JSONBody[BlockIn]) -> None:
        """No more messages between you, and no bookings. They are not told."""
        await block_user(_services(request), require_principal(request).id, data.user_id)

    @delete("/{user_id:int}", access=Access.USER, status_code=204)
    async def unblock(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> None:
        await unblock_user(_services(request), require_principal(request).id, user_id)


# ------------------------------------------------------------------ shared with the pages


async def upload_attachment(
    services: Services, viewer: Viewer, conversation_id: int, upload: UploadFile
) -> Any:
    limit = services.settings.messaging.max_attachment_bytes
    await live.limit_uploads(services, viewer.id)
    data = await upload.read(limit + 1)
    async with services.transaction() as session:
        thread = await service.thread(session, conversation_id, viewer)
        if thread.as_admin:
            raise service.Blocked("Admins do not write in conversations.")
        if thread.blocked:
            raise service.Blocked("You cannot message this person.")
        if len(data) > limit:
            raise ValidationFailed({"data": f"The file must be at most {limit // 1_048_576} MB."})
        return await attachments.store(
            session,
            services.private_storage,
            viewer.id,
            data,
            upload.filename or "attachment",
            max_bytes=limit,
            max_audio_seconds=services.settings.messaging.max_attachment_audio_seconds,
        )


async def set_privacy(
    services: Services, viewer: Viewer, conversation_id: int, private: bool
) -> None:
    async with services.transaction() as session:
        conversation = await service.set_private(session, conversation_id, viewer.id, private)
    await live.conversation_changed(
        services,
        conversation_id,
        [conversation.student_id, conversation.tutor_id],
        private=private,
    )


async def report_message(
    services: Services, viewer: Viewer, message_id: int, reason: str, details: str
) -> Any:
    await services.limiter.check(
        f"reports:{viewer.id}", limit=20, window_seconds=3600, what="reports in an hour"
    )
    async with services.transaction() as session:
        message = await service.message_in(session, message_id, viewer.id)
        subject = Subject(
            kind="message",
            id=message.id,
            context_kind=service.CONTEXT_KIND,
            context_id=message.conversation_id,
            author_id=message.sender_id,
            excerpt=message.body or "(attachments only)",
            link=f"/messages/{message.conversation_id}#m{message.seq}",
        )
        report, _ = await reports.file_report(session, viewer.id, subject, reason, details)
    return report


async def block_user(services: Services, me: int, other: int) -> None:
    async with services.transaction() as session:
        await safety.block(session, me, other)
        conversation = await service.find_pair(session, me, other)
    if conversation is not None:
        await live.conversation_changed(services, conversation.id, [me, other], blocked=True)


async def unblock_user(services: Services, me: int, other: int) -> None:
    async with services.transaction() as session:
        await safety.unblock(session, me, other)
        conversation = await service.find_pair(session, me, other)
        still = await safety.is_blocked(session, me, other)
    if conversation is not None:
        await live.conversation_changed(services, conversation.id, [me, other], blocked=still)


ROUTES = [ConversationController, MessageReportController, BlockController]
