"""Every request gets an id: the client's ``X-Request-ID`` when sane, else a new one. It is
sent back in ``X-Request-ID`` and stored with what the request records (the audit trail)."""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.observability import tracing
from marketplace.request_context import accepted_request_id, set_request_id

HEADER = "x-request-id"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET):
            await self.app(scope, receive, send)
            return
        sent = None
        for name, value in scope.get("headers", []):
            if name == HEADER.encode():
                sent = value.decode("latin-1")
                break
        request_id = accepted_request_id(sent)
        set_request_id(request_id)
        tracing.tag_request_span(scope, request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)[HEADER] = request_id
            await send(message)

        # A socket's frames go straight on: only an HTTP response start carries the header.
        await self.app(scope, receive, send_with_id if scope["type"] == ScopeType.HTTP else send)
