"""Jinja setup shared by every page: filters and globals, from the settings given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import MediaType
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template

from marketplace import vocab
from marketplace.labels import field_label
from marketplace.money import format_money
from marketplace.settings import Settings
from marketplace.web.access import principal_of
from marketplace.web.forms import submitted_values
from marketplace.web.security import csp_nonce
from marketplace.wording import minutes_words, plural

NOTICES = {
    "registered": "Welcome to Duet! Your account is ready.",
    "export_requested": "We are preparing your data. We will notify you when it is ready.",
    "account_deleted": "Your account is closed. Its personal data is being erased.",
    "logged_in": "You are logged in.",
    "logged_out": "You are logged out.",
    "profile_saved": "Your profile is saved.",
    "photo_saved": "Your photo is updated.",
    "audio_processing": "Your recording is uploaded and being converted; refresh in a moment.",
    "submitted": "Your profile is sent for review. We will let you know.",
    "account_saved": "Your account settings are saved.",
    "password_changed": "Your password is changed. Other browsers were logged out.",
    "token_revoked": "The token is revoked.",
    "role_added": "Your account has the new role.",
    "student_saved": "Your student profile is saved.",
    "moderated": "Decision recorded.",
    "phone_code_sent": "We texted you a confirmation code. Enter it below.",
    "phone_confirmed": "Your mobile number is confirmed: reminders will come by SMS.",
    "phone_removed": "Your mobile number is removed. No more text messages.",
    "blocked": "Blocked. Neither of you can send messages or book lessons with the other.",
    "unblocked": "Unblocked. You can write to each other again.",
    "made_private": "This conversation is private: notifications will not show its text.",
    "made_public": "Notifications may show the start of new messages again.",
    "reported": "Thank you. An admin will look at the message.",
    "report_handled": "The report is closed.",
}


def configure(
    settings: Settings, filters: Mapping[str, Callable[..., Any]] | None = None
) -> Callable[[JinjaTemplateEngine], None]:
    """``filters``: extra Jinja filters from higher packages (wired by the composition root)."""

    def callback(engine: JinjaTemplateEngine) -> None:
        env = engine.engine
        env.globals.update(
            vocab=vocab,
            currency=settings.marketplace.currency,
            embedded=settings.embedded,
            sms_outbox=not settings.sms.uses_twilio,
            # No Stripe keys: the demo gateway takes the payments; every page says so.
            payments_demo=not settings.payments.uses_stripe,
            notices=NOTICES,
            csp_nonce=csp_nonce,
        )
        env.filters["money"] = format_money
        env.filters["local_time"] = local_time
        env.filters["minutes"] = minutes_words
        env.filters["plural"] = plural
        env.filters["field_label"] = field_label
        env.filters.update(filters or {})

    return callback


def local_time(value: datetime | None, zone: str = "UTC") -> str:
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(zone))
    return local.strftime("%d %b %Y, %H:%M ") + (local.tzname() or zone)


def page(request: Any, template: str, status_code: int = 200, **context: Any) -> Template:
    """Render ``template`` with what every page needs (the caller, the notice to show)."""
    notice = request.query_params.get("notice")
    return Template(
        template,
        context={
            "me": principal_of(request),
            # Set before each page by messaging's hook (marketplace/messaging/pages.py).
            "unread_messages": getattr(request.state, "unread_messages", 0),
            "notice": NOTICES.get(notice) if notice else None,
            # A page answering a post (with errors) gets what was typed, and where it went.
            "submitted": submitted_values(request),
            # The same form with every value of a repeated field (checkbox groups).
            "posted_form": getattr(request.state, "submitted_form", None),
            "submitted_to": request.url.path,
            **context,
        },
        status_code=status_code,
        # Always HTML: a handler annotated ``-> Any`` would otherwise lend its default JSON
        # media type to the page, and the browser would show the page's source.
        media_type=MediaType.HTML,
    )
