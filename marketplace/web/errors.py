"""Every error becomes ``{"code", "message", "fields"}`` for the API, or a page for browsers."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote, urlsplit

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from marketplace.errors import DomainError, NotAuthenticated, RateLimited
from marketplace.labels import correction_message, field_label
from marketplace.web.forms import safe_next

logger = logging.getLogger(__name__)

_JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/calendar/", "/media/")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_MISSING_PARAMETER = re.compile(r"Missing required \w+ parameter '([^']+)'")
_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


def wants_json(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    if path.startswith(_JSON_PREFIXES):
        return True
    return "application/json" in request.headers.get("accept", "") and "text/html" not in (
        request.headers.get("accept", "")
    )


def error_response(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    if wants_json(request):
        return Response(
            {"code": code, "message": message, "fields": fields or {}},
            status_code=status,
            media_type=MediaType.JSON,
            headers=headers,
        )
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={quote(target)}", status_code=303)
    return Template(
        "error.html",
        context={
            "status": status,
            "code": code,
            "message": message,
            "fields": {field_label(k): v for k, v in (fields or {}).items() if v != message},
            "back": _form_page(request),
        },
        status_code=status,
        headers=headers,
        media_type=MediaType.HTML,
    )


def _form_page(request: Request[Any, Any, Any]) -> str | None:
    """The same-site page a failed post came from, to go back to (the browser keeps what was
    typed there when it returns through its history)."""
    if request.method in ("GET", "HEAD"):
        return None
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.headers.get("host", "") or not referer.path:
        return None
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""), "") or None


def domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    if isinstance(exc, NotAuthenticated) and wants_json(request):
        headers = {"WWW-Authenticate": 'Bearer realm="duet"'}
    return error_response(request, exc.status_code, exc.code, exc.message, exc.fields, headers)


def validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    fields: dict[str, str] = {}
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "Invalid value."))
        key = str(item.get("key") or "body")
        if key == "data":
            if match := _MISSING_FIELD.search(message) or _UNKNOWN_FIELD.search(message):
                key = match.group(1)
            else:
                key = "body"
        fields[key] = message
    if match := _MISSING_PARAMETER.search(exc.detail or ""):
        fields[match.group(1)] = "This parameter is required."
    if fields:
        return error_response(request, 422, "validation_failed", correction_message(fields), fields)
    return error_response(request, 400, "bad_request", exc.detail)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    code = _HTTP_CODES.get(status, "error")
    message = exc.detail
    if status == 400 and "JSON" in message:
        code, message = "malformed_json", "The request body is not valid JSON."
    elif status == 404:
        message = "Nothing lives at this address."
    elif status == 405:
        message = "This address does not accept that method."
    elif status == 403 and "CSRF" in message:
        code, message = "csrf_failed", "Your form expired. Reload the page and try again."
    return error_response(request, status, code, message, headers=exc.headers)


def server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        "Something went wrong on our side. It has been logged; please try again.",
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: server_error,
}
