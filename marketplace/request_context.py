"""The id of the request (or job) being served, readable by services without a web type.

Set by ``marketplace.web.request_id.RequestIdMiddleware`` for every HTTP request; code outside a
request (jobs, the CLI) gets a fresh id from ``current_request_id()`` the first time it asks."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_REQUEST_ID: ContextVar[str] = ContextVar("duet_request_id", default="")
_ACCEPTED = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(sent: str | None) -> str:
    """``sent`` when it is a sane id (1-64 of letters, digits, ``._:-``), else a new one: an id
    from outside is kept so a proxy's id ties its log to ours, but never stored unchecked."""
    if sent and _ACCEPTED.match(sent):
        return sent
    return new_request_id()


def set_request_id(value: str) -> None:
    _REQUEST_ID.set(value)


def current_request_id() -> str:
    value = _REQUEST_ID.get()
    if not value:
        value = new_request_id()
        _REQUEST_ID.set(value)
    return value
