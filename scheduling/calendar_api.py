"""JSON API for calendars: the private ICS feed, per-user feed settings, imported calendars."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from marketplace.web.access import Access, require_principal
from marketplace.web.uploads import DataForm, read_upload
from scheduling import calendars
from scheduling._web import load_me, services_of
from scheduling.schemas import CalendarIn, CalendarOut, FeedOut

# Litestar adds "; charset=utf-8" to text media types itself.
ICS = "text/calendar"


class CalendarFeedController(Controller):
    path = "/api/v1/me/calendar-feed"
    tags = ["calendar"]

    @get("/", access=Access.USER)
    async def show(self, request: Request[Any, Any, Any]) -> FeedOut:
        async with services_of(request).sessions() as session:
            feed = await calendars.active_feed(session, require_principal(request).id)
        return FeedOut(
            active=feed is not None, url=None, created_at=feed.created_at if feed else None
        )

    @post("/", access=Access.USER, status_code=HTTP_201_CREATED)
    async def create(self, request: Request[Any, Any, Any]) -> FeedOut:
        """A new private address (the old one stops working). The URL is shown only now."""
        services = services_of(request)
        async with services.transaction() as session:
            feed, secret = await calendars.create_feed(session, require_principal(request).id)
        return FeedOut(
            active=True,
            url=calendars.feed_url(services.settings.web.base_url, secret),
            created_at=feed.created_at,
        )

    @delete("/", access=Access.USER, status_code=HTTP_204_NO_CONTENT)
    async def revoke(self, request: Request[Any, Any, Any]) -> None:
        async with services_of(request).transaction() as session:
            await calendars.revoke_feeds(session, require_principal(request).id)


class ExternalCalendarController(Controller):
    path = "/api/v1/tutors/me/calendars"
    tags = ["calendar"]

    @get("/", access=Access.TUTOR)
    async def list_calendars(self, request: Request[Any, Any, Any]) -> list[CalendarOut]:
        async with services_of(request).sessions() as session:
            return await calendars.calendar_outs(session, require_principal(request).id)

    @post("/", access=Access.TUTOR, status_code=202)
    async def add_url(
        self, request: Request[Any, Any, Any], data: JSONBody[CalendarIn]
    ) -> CalendarOut:
        """Subscribe to an ICS URL; fetched in the background and refreshed periodically."""
        async with services_of(request).transaction() as session:
            item = await calendars.add_url_calendar(
                session, require_principal(request).id, data.name, data.url
            )
            return (await calendars.calendar_outs(session, item.tutor_id, only=item.id))[0]

    @get("/{calendar_id:int}", access=Access.TUTOR)
    async def show_calendar(
        self, request: Request[Any, Any, Any], calendar_id: FromPath[int]
    ) -> CalendarOut:
        """One imported calendar: poll ``status`` after an upload or a new URL."""
        async with services_of(request).sessions() as session:
            return await calendars.calendar_out(session, require_principal(request).id, calendar_id)

    @post("/upload", access=Access.TUTOR, status_code=202)
    async def upload(
        self, request: Request[Any, Any, Any], data: DataForm
    ) -> Response[CalendarOut]:
        """Import busy times from an .ics file (multipart field ``data``). The file is checked
        for size and event count at once and read by a job: poll the calendar until its
        ``status`` is ``ok`` or ``failing``."""
        services = services_of(request)
        limits = calendars.read_limits(services.settings.scheduling)
        content = await read_upload(data.data, limits.max_bytes, "data")
        async with services.transaction() as session:
            me = await load_me(session, request)
            item = await calendars.import_upload(
                session, me, data.data.filename or "Uploaded calendar", content, limits
            )
            out = await calendars.calendar_out(session, me.id, item.id)
        return Response(out, status_code=202, headers={"Location": f"{self.path}/{out.id}"})

    @post("/{calendar_id:int}/refresh", access=Access.TUTOR, status_code=202)
    async def refresh(self, request: Request[Any, Any, Any], calendar_id: FromPath[int]) -> None:
        async with services_of(request).transaction() as session:
            await calendars.request_refresh(session, require_principal(request).id, calendar_id)

    @delete("/{calendar_id:int}", access=Access.TUTOR, status_code=HTTP_204_NO_CONTENT)
    async def remove(self, request: Request[Any, Any, Any], calendar_id: FromPath[int]) -> None:
        async with services_of(request).transaction() as session:
            await calendars.delete_calendar(session, require_principal(request).id, calendar_id)


@get("/calendar/{feed:str}", access=Access.PUBLIC, media_type=ICS, include_in_schema=False)
async def calendar_feed(request: Request[Any, Any, Any], feed: FromPath[str]) -> Response[bytes]:
    """The private ICS feed: the token in the address is the only credential."""
    token = feed.removesuffix(".ics")
    async with services_of(request).sessions() as session:
        body = await calendars.feed_ics(session, token)
    return Response(body, media_type=ICS, headers={"Cache-Control": "private, max-age=300"})


ROUTES = [CalendarFeedController, ExternalCalendarController, calendar_feed]
