"""Every review endpoint refuses the anonymous (401) and the wrong role (403)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.web.access import Access
from tests.helpers import account

# (method, path, body, the role needed); ids need not exist: the role is checked first.
PROTECTED: list[tuple[str, str, Any, Access]] = [
    ("POST", "/api/v1/lessons/1/review", {"rating": 5}, Access.STUDENT),
    ("GET", "/api/v1/lessons/1/review", None, Access.USER),
    ("PUT", "/api/v1/reviews/1", {"rating": 5}, Access.STUDENT),
    ("POST", "/api/v1/reviews/1/reply", {"text": "x"}, Access.TUTOR),
    ("POST", "/api/v1/reviews/1/reports", {"reason": "spam"}, Access.USER),
    ("GET", "/api/v1/tutors/me/reviews", None, Access.TUTOR),
    ("GET", "/api/v1/admin/reviews", None, Access.ADMIN),
    ("GET", "/api/v1/admin/reviews/1", None, Access.ADMIN),
    ("POST", "/api/v1/admin/reviews/1/moderation", {"action": "hide", "reason": "x"}, Access.ADMIN),
]
PAGES = [
    ("/lessons/1/review", Access.STUDENT),
    ("/reviews/1/report", Access.USER),
    ("/tutor/reviews", Access.TUTOR),
    ("/admin/reviews", Access.ADMIN),
]


@pytest.mark.parametrize(("method", "path", "body", "needed"), PROTECTED)
def test_anonymous_gets_401(
    anonymous_client: TestClient[Any], method: str, path: str, body: Any, needed: Access
) -> None:
    response = anonymous_client.request(method, path, json=body)
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_role_matrix(client: TestClient[Any]) -> None:
    headers = {role: account(client, role) for role in ("student", "tutor", "admin")}
    for method, path, body, needed in PROTECTED:
        for role, auth in headers.items():
            response = client.request(method, path, json=body, headers=auth)
            if needed is Access.USER or needed.value == role:
                assert response.status_code != 403, (role, method, path, response.text)
            else:
                assert response.status_code == 403, (role, method, path, response.text)
                assert response.json()["code"] == f"{needed.value}_only"
    for path, needed in PAGES:
        anonymous = client.get(path, follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
        for role, auth in headers.items():
            status = client.get(path, headers=auth).status_code
            allowed = needed is Access.USER or needed.value == role
            assert (status != 403) if allowed else (status == 403), (role, path, status)


def test_public_reads_need_no_account(client: TestClient[Any]) -> None:
    assert client.get("/api/v1/reviews/1").status_code == 404
    assert client.get("/api/v1/tutors/1/reviews").status_code == 404
