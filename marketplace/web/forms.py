"""Small helpers for HTML form handlers."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Redirect


async def form_data(request: Request[Any, Any, Any]) -> Any:
    return await request.form()


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
