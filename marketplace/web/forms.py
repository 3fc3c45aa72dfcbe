"""Small helpers for HTML form handlers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Redirect

from marketplace.errors import DomainError

CSRF_FIELD = "_csrf_token"  # Litestar's form field for the CSRF token


async def form_data(request: Request[Any, Any, Any]) -> Any:
    """The posted form; remembered on the request so a page answering the post with errors
    shows what was typed (``page`` passes it to the template as ``submitted``)."""
    form = await request.form()
    request.state.submitted_form = form
    return form


def submitted_values(request: Request[Any, Any, Any]) -> dict[str, str] | None:
    """The text fields of the form this request posted (no files, no CSRF token), or None."""
    form = getattr(request.state, "submitted_form", None)
    if form is None:
        return None
    return {
        key: value for key, value in form.items() if isinstance(value, str) and key != CSRF_FIELD
    }


# Not about what was typed: the caller may not use this form at all, or it is gone.
_NOT_FORM_PROBLEMS = frozenset({401, 403, 404})


def form_failure(
    exc: DomainError,
    field: str | None = None,
    names: Mapping[str, str] | None = None,
    *,
    not_form_problems: frozenset[int] = _NOT_FORM_PROBLEMS,
) -> dict[str, Any]:
    """What a form page needs to show ``exc`` in place, as keyword arguments for the page's
    render: ``status_code`` (422 for invalid input, 409 for a conflict, ...), ``problem`` (the
    headline, shown at the top by ``base.html``) and ``errors`` (message by form field, shown
    under each field by the ``_form.html`` macros).

    ``names`` renames the service's fields to the form's (``starts_at`` → ``first_day``); an
    indexed one the form has no row for (``options[2]``, ``draw_rules[0].bank``) belongs to its
    list's field (``options``). A problem that names no field belongs to ``field`` when the
    form has one main field. 401/403/404 (``not_form_problems``) are re-raised: they go to the
    error page (or the login), not back to the form."""
    if exc.status_code in not_form_problems:
        raise exc
    errors: dict[str, str] = {}
    for key, message in exc.fields.items():
        name = (names or {}).get(key) or key.split("[", 1)[0]
        errors[name] = f"{errors[name]} {message}" if name in errors else message
    if not errors and field is not None:
        errors[field] = exc.message
    return {"status_code": exc.status_code, "problem": exc.message, "errors": errors}


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: never an open redirect to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def redirect(
    target: str, notice: str | None = None, cookies: list[Cookie] | None = None
) -> Redirect:
    if notice:
        target += ("&" if "?" in target else "?") + f"notice={notice}"
    return Redirect(target, status_code=303, cookies=cookies or [])
