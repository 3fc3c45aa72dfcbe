"""Small helpers for HTML form handlers."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Redirect

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
