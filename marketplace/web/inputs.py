"""Input every request carries, checked once for the whole app before any handler runs.

- Path ids: every ``{name:int}`` path parameter is a database id, a positive BIGINT. A number
  outside 1..2^63−1 can name no row, and passing it on would make the database driver fail
  (a 5xx); it is refused here with 422 naming the parameter.
- Text: no NUL and no lone surrogate in any text a client sends (path, query string, JSON body,
  form fields), because PostgreSQL cannot store them (see ``marketplace.text.is_storable``).
  The path and query string are checked by ``InputGuardMiddleware``; bodies where they are
  decoded, by ``CheckedRequest`` (the app's request class), so every handler is covered without
  calling anything.

Uploads are read by ``marketplace.web.uploads``; the OpenAPI document states these bounds
(``marketplace.web.api_docs``).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.enums import ScopeType
from litestar.exceptions import WebSocketException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from marketplace.errors import ValidationFailed
from marketplace.text import UNSTORABLE_MESSAGE, first_unstorable, is_storable

MIN_ID = 1
MAX_ID = 2**63 - 1  # PostgreSQL BIGINT
BAD_ID_MESSAGE = f"Not a valid id (a whole number from {MIN_ID} to {MAX_ID})."


def refuse_unstorable(value: object, where: str) -> None:
    """422 naming the first field of ``value`` whose text cannot be stored."""
    found = first_unstorable(value, where)
    if found is not None:
        raise ValidationFailed({found or "body": UNSTORABLE_MESSAGE})


def check_path_params(params: dict[str, Any]) -> None:
    problems: dict[str, str] = {}
    for name, value in params.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not MIN_ID <= value <= MAX_ID:
            problems[name] = BAD_ID_MESSAGE
        elif isinstance(value, str | PurePath) and not is_storable(str(value)):
            problems[name] = UNSTORABLE_MESSAGE
    if problems:
        raise ValidationFailed(problems)


def check_query_string(raw: bytes) -> None:
    # Cheap first: only a query that can hold a NUL (or a broken UTF-8 sequence, which decodes
    # to a replacement character and is harmless) is parsed here.
    if b"%00" not in raw and b"\x00" not in raw:
        return
    text = raw.decode("latin-1")
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="utf-8"):
        if not is_storable(name) or not is_storable(value):
            raise ValidationFailed({name if is_storable(name) else "query": UNSTORABLE_MESSAGE})


class InputGuardMiddleware(ASGIMiddleware):
    """Refuses out-of-range path ids and unstorable text in the path or query string. Runs after
    routing (Litestar applies middleware per route), so ``scope["path_params"]`` is parsed."""

    scopes = ("http", "websocket")  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        try:
            check_path_params(scope.get("path_params") or {})
            check_query_string(scope.get("query_string", b""))
        except ValidationFailed as exc:
            if scope["type"] == ScopeType.WEBSOCKET:
                raise WebSocketException(detail=exc.message, code=4422) from exc
            raise
        await next_app(scope, receive, send)


class CheckedRequest(Request[Any, Any, Any]):
    """The app's request class: a JSON body or form whose text cannot be stored is a 422 before
    any handler sees it. Litestar decodes JSON bodies through ``json()`` and pages read their
    forms through ``form()``; multipart API bodies carry only files (``uploads``)."""

    async def json(self) -> Any:
        value = await super().json()
        refuse_unstorable(value, "")
        return value

    async def form(self) -> FormMultiDict:
        form = await super().form()
        for name, value in form.multi_items():
            if not is_storable(name):
                raise ValidationFailed({"form": UNSTORABLE_MESSAGE})
            if not isinstance(value, UploadFile) and not is_storable(str(value)):
                raise ValidationFailed({name: UNSTORABLE_MESSAGE})
        return form
