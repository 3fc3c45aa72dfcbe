"""``GET /metrics``: the Prometheus exposition, for a scraper holding ``METRICS_TOKEN``.

The route exists only when the token is set (otherwise 404). A request without
``Authorization: Bearer <METRICS_TOKEN>`` gets 401 with ``WWW-Authenticate: Bearer``, plain
text, never the log-in page. Litestar's ``PrometheusController`` is not used because it can
neither check a token nor add the gauges read at scrape time (queue depth, bookings and
payments by state); its ``PrometheusMiddleware`` is, for request latency by route.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from marketplace.observability.metrics import Scraper
from marketplace.web.access import Access

PATH = "/metrics"


def metrics_route(token: str, scraper: Scraper) -> HTTPRouteHandler:
    expected = f"Bearer {token}".encode()

    @get(PATH, access=Access.PUBLIC, include_in_schema=False, cache_control=None)
    async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
        sent = request.headers.get("authorization", "").encode("latin-1", "replace")
        if not hmac.compare_digest(sent, expected):
            return Response(
                b"Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.\n",
                status_code=401,
                media_type="text/plain; charset=utf-8",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
            )
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(
            await scraper.render(),
            media_type=CONTENT_TYPE_LATEST,
            headers={"Cache-Control": "no-store"},
        )

    return metrics_endpoint


def prometheus_middleware() -> Any:
    """Litestar's request metrics: ``duet_http_requests_total``, ``..._request_duration_seconds``
    (a histogram), ``..._requests_in_progress`` and ``..._requests_error_total``, labelled by
    method, route template (``/api/v1/bookings/{booking_id}``, never the raw path) and
    status. HTTP only: a WebSocket's "duration" would be the whole conversation."""
    from litestar.enums import ScopeType
    from litestar.plugins.prometheus import PrometheusConfig

    from marketplace.observability.metrics import BUCKETS

    return PrometheusConfig(
        app_name="duet",
        prefix="duet_http",
        group_path=True,
        buckets=list(BUCKETS),
        exclude=[f"^{PATH}$"],
        scopes={ScopeType.HTTP},
    ).middleware
