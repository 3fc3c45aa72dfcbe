"""Security headers on every kind of response, and what the session and CSRF cookies carry."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.app import create_app
from marketplace.media_links import PUBLIC_PREFIXES
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from marketplace.web.security import SecurityHeaders, content_security_policy, request_nonce
from tests.helpers import PASSWORD, register

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def _directives(policy: str) -> dict[str, list[str]]:
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def _assert_secure_headers(response: Any) -> dict[str, list[str]]:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    permissions = response.headers["permissions-policy"]
    assert "camera=(self)" in permissions and "microphone=(self)" in permissions
    assert "geolocation=()" in permissions
    return _directives(response.headers["content-security-policy"])


@pytest.fixture
def https_client(settings: Settings, queue: DramatiqQueue) -> Iterator[TestClient[Any]]:
    https = replace(settings, web=replace(settings.web, base_url="https://duet.example"))
    with TestClient(create_app(https, queue=queue), base_url="https://duet.example") as client:
        yield client


def test_every_kind_of_response_carries_the_headers(
    client: TestClient[Any], settings: Settings
) -> None:
    photo = settings.media.root / PUBLIC_PREFIXES[0] / "h.png"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes(b"\x89PNG\r\n\x1a\n")
    responses = {
        "page": client.get("/"),
        "form page": client.get("/login"),
        "api": client.get("/api/v1/vocabulary"),
        "health": client.get("/healthz"),
        "static": client.get("/static/duet.css"),
        "package static": client.get("/static/reviews/reviews.css"),
        "media": client.get(f"/media/{PUBLIC_PREFIXES[0].rstrip('/')}/h.png"),
        "missing page": client.get("/no/such/page", headers={"Accept": "text/html"}),
        "api error": client.get("/api/v1/me"),
        "wrong method": client.delete("/login"),
    }
    expected_status = {"missing page": 404, "api error": 401, "wrong method": 405}
    for kind, response in responses.items():
        assert response.status_code == expected_status.get(kind, 200), kind
        csp = _assert_secure_headers(response)
        assert csp["script-src"] == ["'self'"], kind
        assert csp["style-src"] == ["'self'"], kind
        assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"], kind
        assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"], kind
        assert csp["frame-src"] == ["'none'"], kind  # the demo gateway needs no frame
        assert "strict-transport-security" not in response.headers, kind  # BASE_URL is http
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], kind


def test_hsts_only_when_the_base_url_is_https(https_client: TestClient[Any]) -> None:
    for path in ("/", "/api/v1/vocabulary", "/static/duet.css", "/nowhere"):
        response = https_client.get(path)
        assert response.headers["strict-transport-security"] == "max-age=31536000", path


def test_stripe_is_allowed_only_when_stripe_takes_payments(settings: Settings) -> None:
    stripe = replace(settings, payments=replace(settings.payments, stripe_secret_key="sk_test_x"))
    for configured, allowed in ((settings, False), (stripe, True)):
        message: dict[str, Any] = {"type": "http.response.start", "status": 200, "headers": []}
        asyncio.run(SecurityHeaders(configured)(message, {}))  # type: ignore[arg-type]
        headers = dict(message["headers"])
        csp = _directives(headers[b"content-security-policy"].decode())
        assert ("https://js.stripe.com" in csp["script-src"]) is allowed
        assert ("https://hooks.stripe.com" in csp["frame-src"]) is allowed
        assert ("https://api.stripe.com" in csp["connect-src"]) is allowed
        assert ('"https://js.stripe.com"' in headers[b"permissions-policy"].decode()) is allowed
        assert "'unsafe-inline'" not in headers[b"content-security-policy"].decode()


def test_a_nonce_asked_for_by_a_page_is_in_that_response_only(settings: Settings) -> None:
    hook = SecurityHeaders(settings)
    asking: dict[str, Any] = {"type": "http"}
    nonce = request_nonce(asking)  # type: ignore[arg-type]
    assert nonce == request_nonce(asking)  # type: ignore[arg-type]  # one per request
    policies = []
    for scope in (asking, {"type": "http"}):
        message: dict[str, Any] = {"type": "http.response.start", "headers": []}
        asyncio.run(hook(message, scope))  # type: ignore[arg-type]
        policies.append(dict(message["headers"])[b"content-security-policy"].decode())
    assert f"'nonce-{nonce}'" in _directives(policies[0])["script-src"]
    assert "nonce" not in policies[1]
    assert content_security_policy(None) == policies[1]


def test_a_handlers_own_policy_wins(settings: Settings) -> None:
    """Private attachments send a sandboxing policy of their own; it is kept, not doubled."""
    own = (b"content-security-policy", b"sandbox; default-src 'none'")
    message: dict[str, Any] = {"type": "http.response.start", "headers": [own]}
    asyncio.run(SecurityHeaders(settings)(message, {}))  # type: ignore[arg-type]
    policies = [v for k, v in message["headers"] if k == b"content-security-policy"]
    assert policies == [own[1]]


def _cookie_attributes(response: Any, name: str) -> str:
    lines = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert lines, f"no {name} cookie"
    return lines[-1].lower()


def _log_in(client: TestClient[Any]) -> tuple[Any, Any]:
    user = register(client)
    page = client.get("/login")
    api = client.post("/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert api.status_code == 200
    return page, api


def test_cookies_on_plain_http_are_not_secure_but_http_only_and_lax(
    client: TestClient[Any],
) -> None:
    page, api = _log_in(client)
    session = _cookie_attributes(api, "duet_session")
    assert "httponly" in session and "samesite=lax" in session and "secure" not in session
    csrf = _cookie_attributes(page, "duet_csrf")
    # Not HttpOnly on purpose: the payment form and live messages send it back as X-CSRFToken.
    assert "samesite=lax" in csrf and "secure" not in csrf


def test_cookies_are_secure_when_the_base_url_is_https(https_client: TestClient[Any]) -> None:
    page, api = _log_in(https_client)
    assert "; secure" in _cookie_attributes(api, "duet_session")
    assert "; secure" in _cookie_attributes(page, "duet_csrf")
    logout = https_client.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {api.json()['token']}"}
    )
    assert "; secure" in _cookie_attributes(logout, "duet_session")


def test_secure_cookies_follows_base_url_unless_set() -> None:
    def secure(env: dict[str, str]) -> bool:
        return Settings.from_env(env).web.cookies_secure

    assert not secure({})
    assert secure({"BASE_URL": "https://duet.example"})
    assert secure({"SECURE_COOKIES": "true"})  # e.g. https served on another name
    assert not secure({"BASE_URL": "https://duet.example", "SECURE_COOKIES": "false"})
