"""The id of the request (or job) being served, readable by services without a web type.

Set by ``marketplace.web.request_id.RequestIdMiddleware`` for every HTTP request, and for a job
by the worker from the id of the request that enqueued it
(``marketplace.observability.jobs``); code outside both (the CLI) gets a fresh id from
``current_request_id()`` the first time it asks."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_REQUEST_ID: ContextVar[str] = ContextVar("duet_request_id", default="")
# The job being run, as (task name, message id); empty outside a job.
_JOB: ContextVar[tuple[str, str] | None] = ContextVar("duet_job", default=None)
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


def request_id_if_any() -> str:
    """The id set for this request or job, or ``""``: unlike ``current_request_id`` it never
    makes one up (a worker's ticker must not tag every job it enqueues with one id)."""
    return _REQUEST_ID.get()


def set_job(task: str | None, message_id: str = "") -> None:
    _JOB.set((task, message_id) if task else None)


def current_job() -> tuple[str, str] | None:
    """(task name, message id) of the job being run, or None outside a job."""
    return _JOB.get()
