"""Server-rendered pages: forms with CSRF, errors shown in place, health and API docs."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient

from tests.helpers import PASSWORD, register


def csrf(client: TestClient[Any], path: str) -> str:
    html = client.get(path).text
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def test_signup_form_logs_in_and_shows_errors_in_place(client: TestClient[Any]) -> None:
    token = csrf(client, "/signup?role=tutor")
    bad = client.post(
        "/signup",
        data={
            "_csrf_token": token,
            "role": "tutor",
            "full_name": "Zé",
            "email": "nope",
            "password": "short",
        },
    )
    assert bad.status_code == 422
    assert "Enter a valid e-mail address." in bad.text and 'value="Zé"' in bad.text
    ok = client.post(
        "/signup",
        follow_redirects=False,
        data={
            "_csrf_token": token,
            "role": "tutor",
            "full_name": "Zé Ninguém",
            "email": "ze@example.com",
            "password": PASSWORD,
            "time_zone": "Europe/Lisbon",
        },
    )
    assert ok.status_code == 303 and ok.headers["location"].startswith("/tutor/profile")
    editor = client.get("/tutor/profile")
    assert editor.status_code == 200 and "Status: Draft" in editor.text


def test_login_form_and_safe_next(client: TestClient[Any]) -> None:
    user = register(client)
    token = csrf(client, "/login")
    wrong = client.post(
        "/login",
        data={
            "_csrf_token": token,
            "email": user["email"],
            "password": "wrong password",
            "next": "/account",
        },
    )
    assert wrong.status_code == 401 and "not correct" in wrong.text
    evil = client.post(
        "/login",
        follow_redirects=False,
        data={
            "_csrf_token": token,
            "email": user["email"],
            "password": PASSWORD,
            "next": "//evil.example/",
        },
    )
    assert evil.status_code == 303 and evil.headers["location"].startswith("/?")
    assert client.get("/account").status_code == 200


def test_editor_reports_each_bad_field(client: TestClient[Any]) -> None:
    register(client, "tutor", email="t@example.com")
    token = csrf(client, "/login")
    client.post(
        "/login", data={"_csrf_token": token, "email": "t@example.com", "password": PASSWORD}
    )
    token = csrf(client, "/tutor/profile")
    response = client.post(
        "/tutor/profile",
        data={
            "_csrf_token": token,
            "display_name": "T",
            "price_60": "lots",
            "city": "Atlantis, XX",
            "formats": ["studio"],
        },
    )
    assert response.status_code == 422
    assert "Enter an amount such as 45 or 45.50." in response.text
    assert "We do not know a city called" in response.text


def test_logout_clears_the_session(client: TestClient[Any]) -> None:
    user = register(client)
    token = csrf(client, "/login")
    client.post("/login", data={"_csrf_token": token, "email": user["email"], "password": PASSWORD})
    assert client.get("/account").status_code == 200
    client.post("/logout", data={"_csrf_token": csrf(client, "/account")})
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_unknown_page_is_a_friendly_404(client: TestClient[Any]) -> None:
    page = client.get("/no/such/page", headers={"accept": "text/html"})
    assert page.status_code == 404
    api = client.get("/api/v1/no/such/thing")
    assert api.status_code == 404 and api.json()["code"] == "not_found"


def test_healthz_and_openapi(client: TestClient[Any]) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert {name: c["status"] for name, c in health.json()["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "search": "ok",
    }
    schema = client.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/tutors/me/profile",
        "/api/v1/tutors",
        "/api/v1/tutors/{tutor_id}",
        "/healthz",
    ]:
        assert path in paths, path


def test_the_home_page_searches_and_the_old_list_leads_to_search(client: TestClient[Any]) -> None:
    html = client.get("/").text
    assert 'action="/search" role="search"' in html
    assert 'name="instrument"' in html and 'name="city"' in html
    assert 'name="format" value="online"' in html and "within 25 km" in html
    moved = client.get("/tutors?page=2", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == "/search?page=2"
