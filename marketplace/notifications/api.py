"""The in-app notification list: JSON API and page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from marketplace.notifications import service
from marketplace.notifications.models import Notification
from marketplace.web.access import Access, require_principal
from marketplace.web.forms import redirect
from marketplace.web.services import Services
from marketplace.web.templating import page


class NotificationOut(msgspec.Struct):
    id: int
    kind: str
    title: str
    body: str
    link: str
    created_at: datetime
    read: bool


class NotificationsOut(msgspec.Struct):
    items: list[NotificationOut]
    unread: int


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def notification_out(n: Notification) -> NotificationOut:
    return NotificationOut(
        n.id, n.kind, n.title, n.body, n.link, n.created_at, n.read_at is not None
    )


class NotificationController(Controller):
    path = "/api/v1/me/notifications"
    tags = ["account"]

    @get("/", access=Access.USER)
    async def list_notifications(self, request: Request[Any, Any, Any]) -> NotificationsOut:
        async with _services(request).sessions() as session:
            rows, unread = await service.notifications_for(session, require_principal(request).id)
        return NotificationsOut([notification_out(n) for n in rows], unread)

    @post("/{notification_id:int}/read", access=Access.USER, status_code=204)
    async def read(self, request: Request[Any, Any, Any], notification_id: FromPath[int]) -> None:
        async with _services(request).transaction() as session:
            await service.mark_read(session, require_principal(request).id, notification_id)

    @post("/read", access=Access.USER, status_code=204)
    async def read_all(self, request: Request[Any, Any, Any]) -> None:
        async with _services(request).transaction() as session:
            await service.mark_read(session, require_principal(request).id, None)


@get("/notifications", access=Access.USER, include_in_schema=False)
async def notifications_page(request: Request[Any, Any, Any]) -> Template:
    services = _services(request)
    user_id = require_principal(request).id
    async with services.sessions() as session:
        rows, unread = await service.notifications_for(session, user_id)
        outbox = (
            await service.outbox_for(session, user_id)
            if not services.settings.sms.uses_twilio
            else []
        )
    return page(request, "notifications/list.html", items=rows, unread=unread, outbox=outbox)


@post("/notifications/read", access=Access.USER, include_in_schema=False)
async def notifications_read(request: Request[Any, Any, Any]) -> Response[Any]:
    async with _services(request).transaction() as session:
        await service.mark_read(session, require_principal(request).id, None)
    return redirect("/notifications")


ROUTES = [NotificationController, notifications_page, notifications_read]
