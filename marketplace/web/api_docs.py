"""The OpenAPI document says what the app really answers, derived in one place.

Litestar documents a ``{status_code, detail}`` 400 for any operation with inputs; the app
sends ``{code, message, fields}`` (``marketplace.web.errors``) with other statuses too.
``document_errors`` gives every operation the error answers it can give, as the ``ErrorBody``
schema, from what the route declares:

- 401 everywhere: a dead bearer token is refused on any operation, and a non-public one needs a
  login;
- 403 when ``access`` is not public (wrong role, or a cookie call without its CSRF header);
- 400 and 422 when it takes input (malformed body or query, a field that is wrong);
- 404 when it has path parameters or a body (a row named there may not exist or not be yours);
- 409 for POST, PUT, PATCH and DELETE (the current state forbids it);
- 413 when it takes a body (past the body size limit);
- anything else a handler can answer (429, 402, 503, or a 403/404 the rules above miss) is listed
  in its route's ``errors=(...)``.

``DocumentedOpenAPIConfig`` adds what Litestar cannot know from the signatures: every integer
path parameter is an id, 1..2^63−1 (``marketplace.web.inputs`` refuses any other), and an answer
without a body (204, 202 with nothing) documents no content.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from http import HTTPStatus
from typing import Any

import msgspec
from litestar.constants import RESERVED_KWARGS
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import OpenAPI
from litestar.routes import BaseRoute, HTTPRoute

from marketplace.web.access import UNSAFE_METHODS, Access
from marketplace.web.inputs import MAX_ID, MIN_ID


class ErrorBody(msgspec.Struct):
    """Every error the API answers."""

    code: str
    message: str
    fields: dict[str, str]


# What each status means here, with example codes (docs/api.md has the full list).
MEANING = {
    400: "The request could not be read (`malformed_json`, `bad_request`).",
    401: "Not logged in, or the bearer token is not valid (`not_authenticated`, "
    "`invalid_token`, `invalid_credentials`).",
    402: "The card was declined (`card_declined`).",
    403: "Logged in but not allowed (`student_only`, `tutor_only`, `admin_only`, `csrf_failed`, "
    "or a rule of this operation).",
    404: "Nothing there, or not yours to see (`not_found` and specific `*_not_found` codes).",
    409: "The current state does not allow it (`conflict`, `illegal_transition`, ...).",
    413: "The body is larger than this operation accepts (`payload_too_large`).",
    422: "A field is wrong; `fields` names each one (`validation_failed` and specific codes).",
    429: "Too many attempts; `Retry-After` says how long to wait (`rate_limited`).",
    503: "A service this needs is down (`search_unavailable`, `payment_provider_unavailable`).",
}


def _takes_input(route: HTTPRoute, handler: HTTPRouteHandler) -> bool:
    if route.path_parameters:
        return True
    dependencies = set(handler.resolve_dependencies())
    names = set(handler.parsed_fn_signature.parameters) - dependencies
    return "data" in names or bool(names - RESERVED_KWARGS)


def error_statuses(route: HTTPRoute, handler: HTTPRouteHandler) -> set[int]:
    """The error statuses an operation can answer (see the module docstring for the rules)."""
    statuses = {401, *handler.opt.get("errors", ())}
    if handler.opt.get("access") not in (Access.PUBLIC, None):
        statuses.add(403)
    takes_body = "data" in handler.parsed_fn_signature.parameters
    if _takes_input(route, handler):
        statuses |= {400, 422}
    if route.path_parameters or takes_body:
        statuses.add(404)
    if takes_body:
        statuses.add(413)
    if set(handler.http_methods) & UNSAFE_METHODS:
        statuses.add(409)
    return statuses


def document_errors(routes: Iterable[BaseRoute]) -> None:
    """Give every documented operation its error answers (replacing Litestar's 400)."""
    for route in routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.include_in_schema:
                continue
            responses = dict(handler.responses or {})
            for status in sorted(error_statuses(route, handler)):
                responses.setdefault(
                    status,
                    ResponseSpec(
                        data_container=ErrorBody,
                        description=MEANING.get(status, HTTPStatus(status).phrase),
                        generate_examples=False,
                    ),
                )
            handler.responses = responses


@dataclass
class DocumentedOpenAPI(OpenAPI):
    """The document as Litestar builds it, with the facts it cannot see added on output."""

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if isinstance(operation, dict):
                    _bound_path_ids(operation)
                    _no_content_for_empty_answers(operation)
        return schema


def _bound_path_ids(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if parameter.get("in") == "path" and schema.get("type") == "integer":
            schema.update(minimum=MIN_ID, maximum=MAX_ID)


def _no_content_for_empty_answers(operation: dict[str, Any]) -> None:
    for status, response in operation.get("responses", {}).items():
        if status == "204":
            response.pop("content", None)


@dataclass
class DocumentedOpenAPIConfig(OpenAPIConfig):
    def to_openapi_schema(self) -> OpenAPI:
        base = super().to_openapi_schema()
        return DocumentedOpenAPI(**{f.name: getattr(base, f.name) for f in fields(base)})
