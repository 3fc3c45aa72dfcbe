"""Every endpoint declares who may call it, and refuses everyone else."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.web.access import Access
from tests.helpers import account

# (method, path, body) of every protected JSON endpoint, with the lowest role that may call it.
PROTECTED: list[tuple[str, str, Any, Access]] = [
    ("GET", "/api/v1/me", None, Access.USER),
    ("PUT", "/api/v1/me", {"full_name": "X", "time_zone": "UTC"}, Access.USER),
    ("PUT", "/api/v1/me/password", {"current_password": "a", "new_password": "b"}, Access.USER),
    ("POST", "/api/v1/me/roles", {"role": "nonsense"}, Access.USER),
    ("GET", "/api/v1/me/tokens", None, Access.USER),
    ("POST", "/api/v1/me/tokens", {"name": "x"}, Access.USER),
    ("DELETE", "/api/v1/me/tokens/999", None, Access.USER),
    ("POST", "/api/v1/auth/logout", None, Access.USER),
    ("GET", "/api/v1/tutors/me/profile", None, Access.TUTOR),
    ("PUT", "/api/v1/tutors/me/profile", {"display_name": "Tutor"}, Access.TUTOR),
    ("POST", "/api/v1/tutors/me/submit", None, Access.TUTOR),
    ("POST", "/api/v1/tutors/me/photo", None, Access.TUTOR),
    ("POST", "/api/v1/tutors/me/audio-sample", None, Access.TUTOR),
    ("GET", "/api/v1/students/me/profile", None, Access.STUDENT),
    ("PUT", "/api/v1/students/me/profile", {"instruments": []}, Access.STUDENT),
    ("GET", "/api/v1/admin/tutors/pending", None, Access.ADMIN),
    ("POST", "/api/v1/admin/tutors/1/moderation", {"action": "approve"}, Access.ADMIN),
    ("POST", "/api/v1/bookings/1/checkout", None, Access.STUDENT),
    ("GET", "/api/v1/payments/1", None, Access.USER),
    ("POST", "/api/v1/payments/1/attempt", None, Access.STUDENT),
    ("GET", "/api/v1/tutors/me/payouts", None, Access.TUTOR),
    ("POST", "/api/v1/tutors/me/payouts/onboarding", None, Access.TUTOR),
    ("POST", "/api/v1/tutors/me/payouts/refresh", None, Access.TUTOR),
    ("POST", "/api/v1/tutors/me/payouts/dashboard-link", None, Access.TUTOR),
    ("GET", "/api/v1/tutors/me/earnings", None, Access.TUTOR),
    ("GET", "/api/v1/admin/payments", None, Access.ADMIN),
    ("POST", "/api/v1/admin/payments/1/refunds", {"amount_minor": 1, "reason": "x"}, Access.ADMIN),
    ("GET", "/api/v1/conversations", None, Access.USER),
    ("POST", "/api/v1/conversations", {"user_id": 999_999, "body": "x"}, Access.USER),
    ("GET", "/api/v1/conversations/unread", None, Access.USER),
    ("GET", "/api/v1/conversations/999", None, Access.USER),
    ("GET", "/api/v1/conversations/999/messages", None, Access.USER),
    ("POST", "/api/v1/conversations/999/messages", {"body": "x"}, Access.USER),
    ("POST", "/api/v1/conversations/999/attachments", None, Access.USER),
    ("GET", "/api/v1/conversations/999/attachments/1", None, Access.USER),
    ("POST", "/api/v1/conversations/999/read", {}, Access.USER),
    ("PUT", "/api/v1/conversations/999/privacy", {"private": True}, Access.USER),
    ("POST", "/api/v1/messages/999/report", {"reason": "spam"}, Access.USER),
    ("GET", "/api/v1/me/blocks", None, Access.USER),
    ("POST", "/api/v1/me/blocks", {"user_id": 999_999}, Access.USER),
    ("DELETE", "/api/v1/me/blocks/999999", None, Access.USER),
    ("GET", "/api/v1/admin/reports", None, Access.ADMIN),
    ("POST", "/api/v1/admin/reports/1/handle", {"outcome": "resolved"}, Access.ADMIN),
    ("POST", "/api/v1/courses/1/buy", None, Access.STUDENT),
    ("POST", "/api/v1/courses/1/refund", None, Access.STUDENT),
    ("GET", "/api/v1/me/course-orders", None, Access.USER),
    ("POST", "/api/v1/me/data-exports", None, Access.USER),
    ("GET", "/api/v1/me/data-exports", None, Access.USER),
    ("GET", "/api/v1/me/data-exports/999", None, Access.USER),
    ("GET", "/api/v1/me/data-exports/999/download", None, Access.USER),
    ("GET", "/api/v1/me/deletion", None, Access.USER),
    ("POST", "/api/v1/me/deletion", {"password": "not mine"}, Access.USER),
]
ROLES = ["student", "tutor", "admin"]


def _allowed(role: str, needed: Access) -> bool:
    return needed is Access.USER or needed.value == role


def test_every_route_declares_access(client: TestClient[Any]) -> None:
    undeclared = [
        f"{sorted(getattr(handler, 'http_methods', ['WS']))} {route.path}"
        for route in client.app.routes
        for handler in getattr(route, "route_handlers", [])
        if "access" not in handler.opt
        and not route.path.startswith("/schema")
        and set(getattr(handler, "http_methods", [])) != {"OPTIONS"}  # Litestar's own preflight
    ]
    assert undeclared == []


@pytest.mark.parametrize(("method", "path", "body", "needed"), PROTECTED)
def test_anonymous_gets_401(
    anonymous_client: TestClient[Any], method: str, path: str, body: Any, needed: Access
) -> None:
    response = anonymous_client.request(method, path, json=body)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_role_matrix(client: TestClient[Any]) -> None:
    headers = {role: account(client, role) for role in ROLES}
    for method, path, body, needed in PROTECTED:
        if path.endswith("/logout"):
            continue  # would end the session the rest of the matrix uses
        for role in ROLES:
            response = client.request(method, path, json=body, headers=headers[role])
            if _allowed(role, needed):
                assert response.status_code != 403, (role, method, path, response.text)
            else:
                assert response.status_code == 403, (role, method, path, response.text)
                assert response.json()["code"] == f"{needed.value}_only"


def test_pages_redirect_anonymous_to_login_and_refuse_wrong_role(client: TestClient[Any]) -> None:
    for path in [
        "/account",
        "/account/delete",
        "/tutor/profile",
        "/admin/tutors",
        "/tutor/earnings",
        "/checkout/1",
        "/messages",
        "/admin/reports",
    ]:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"
    student = account(client, "student")
    assert client.get("/tutor/profile", headers=student).status_code == 403
    assert client.get("/admin/tutors", headers=student).status_code == 403
    assert client.get("/admin/payments", headers=student).status_code == 403
    assert client.get("/tutor/earnings", headers=student).status_code == 403
    assert client.get("/admin/reports", headers=student).status_code == 403


def test_page_forms_require_csrf(client: TestClient[Any]) -> None:
    response = client.post("/login", data={"email": "a@example.com", "password": "x"})
    assert response.status_code == 403


def test_media_routes_are_public_but_private_files_need_a_link(client: TestClient[Any]) -> None:
    """``/media`` declares public access: the public prefixes need nothing, and a private file
    needs a valid signed link (a session alone is not enough, nor is it required)."""
    media_routes = [
        (route.path, handler.opt.get("access"))
        for route in client.app.routes
        for handler in getattr(route, "route_handlers", [])
        if route.path.startswith("/media")
        and set(getattr(handler, "http_methods", [])) != {"OPTIONS"}
    ]
    assert {path for path, _ in media_routes} == {
        "/media/photos/{file_path:path}",
        "/media/audio/playable/{file_path:path}",
        "/media/private/{expires:str}/{signature:str}/{key:path}",
    }
    assert {access for _, access in media_routes} == {Access.PUBLIC}
    headers = {role: account(client, role) for role in ROLES}
    for who in [{}, *headers.values()]:
        forged = client.get("/media/private/9999999999/forged/course-media/x.mp4", headers=who)
        assert forged.status_code == 403 and forged.json()["code"] == "media_link_invalid"
        assert client.get("/media/course-media/x.mp4", headers=who).status_code == 404
