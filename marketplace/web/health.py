"""``GET /healthz``: is each dependency reachable? 200 when all are, 503 otherwise."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get

from marketplace.web.access import Access
from marketplace.web.services import Services

CHECK_TIMEOUT = 3.0


class Unhealthy(Exception):
    """A check's finding written for whoever reads /healthz: its message is shown as the detail.

    Any other exception shows only its class name, since its message may name hosts or users.
    """


@get("/healthz", access=Access.PUBLIC, tags=["operations"])
async def healthz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    services: Services = request.app.state.services
    results: dict[str, Any] = {}
    healthy = True
    for name, check in services.health_checks.items():
        try:
            detail = await asyncio.wait_for(check(), CHECK_TIMEOUT)
            results[name] = {"status": "ok", "detail": detail}
        except Unhealthy as problem:
            healthy = False
            results[name] = {"status": "error", "detail": str(problem)}
        except Exception as exc:
            healthy = False
            results[name] = {"status": "error", "detail": type(exc).__name__}
    body = {"status": "ok" if healthy else "degraded", "checks": results}
    return Response(body, status_code=200 if healthy else 503)
