"""Every lessons endpoint refuses the wrong role (403) and strangers to a resource (404)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.web.access import Access
from tests.helpers import account

PROTECTED: list[tuple[str, str, Any, Access]] = [
    ("GET", "/api/v1/tutor/courses", None, Access.TUTOR),
    ("POST", "/api/v1/tutor/courses", {"title": "x"}, Access.TUTOR),
    ("GET", "/api/v1/tutor/courses/1", None, Access.TUTOR),
    ("PUT", "/api/v1/tutor/courses/1", {"title": "x"}, Access.TUTOR),
    ("POST", "/api/v1/tutor/courses/1/modules", {"title": "x"}, Access.TUTOR),
    ("POST", "/api/v1/tutor/courses/1/items", {"title": "x"}, Access.TUTOR),
    ("POST", "/api/v1/tutor/courses/1/publish", None, Access.TUTOR),
    ("POST", "/api/v1/tutor/courses/1/items/1/upload", None, Access.TUTOR),
    ("POST", "/api/v1/tutor/courses/1/items/1/retry", None, Access.TUTOR),
    ("GET", "/api/v1/tutor/courses/1/students", None, Access.TUTOR),
    ("PUT", "/api/v1/tutor/courses/1/quizzes/1", {}, Access.TUTOR),
    ("POST", "/api/v1/tutor/courses/1/quizzes/1/questions", {"kind": "x"}, Access.TUTOR),
    ("POST", "/api/v1/courses/1/enrol", None, Access.STUDENT),
    ("POST", "/api/v1/courses/1/buy", None, Access.STUDENT),
    ("POST", "/api/v1/courses/1/refund", None, Access.STUDENT),
    ("GET", "/api/v1/me/courses", None, Access.USER),
    ("GET", "/api/v1/me/course-orders", None, Access.USER),
    ("POST", "/api/v1/courses/1/items/1/progress", {}, Access.USER),
    ("POST", "/api/v1/quizzes/1/attempts", None, Access.USER),
    ("GET", "/api/v1/quiz-attempts/1", None, Access.USER),
    ("POST", "/api/v1/quiz-attempts/1/submit", {"answers": {}}, Access.USER),
    ("GET", "/api/v1/me/certificates", None, Access.USER),
    ("POST", "/api/v1/certificates/ABC/revoke", {"reason": "xxxxx"}, Access.USER),
    ("GET", "/api/v1/bookings/1/notes", None, Access.USER),
    ("POST", "/api/v1/bookings/1/practice", {}, Access.USER),
    ("GET", "/api/v1/courses/1/discussions", None, Access.USER),
    ("POST", "/api/v1/courses/1/discussions", {"title": "x"}, Access.USER),
    ("GET", "/api/v1/courses/1/discussions/1", None, Access.USER),
    ("POST", "/api/v1/courses/1/discussions/1/posts", {"body": "x"}, Access.USER),
    ("PUT", "/api/v1/courses/1/discussions/1/pin", {"pinned": True}, Access.USER),
    ("PUT", "/api/v1/courses/1/discussions/1/lock", {"locked": True}, Access.USER),
    ("POST", "/api/v1/courses/1/discussions/attachments", None, Access.USER),
    ("PUT", "/api/v1/discussion-posts/1/answer", {"answer": True}, Access.USER),
    ("PUT", "/api/v1/discussion-posts/1/hidden", {"hidden": True}, Access.USER),
    ("POST", "/api/v1/discussion-posts/1/report", {"reason": "spam"}, Access.USER),
    ("GET", "/api/v1/discussion-posts/1/attachments/1", None, Access.USER),
]
PUBLIC = [
    "/api/v1/courses",
    "/courses",
    "/certificates/UNKNOWNCODE",
    "/api/v1/certificates/UNKNOWNCODE",
    "/.well-known/jwks.json",
    "/.well-known/duet-issuer.json",
]


@pytest.mark.parametrize(("method", "path", "body", "needed"), PROTECTED)
def test_anonymous_gets_401(
    anonymous_client: TestClient[Any], method: str, path: str, body: Any, needed: Access
) -> None:
    r = anonymous_client.request(method, path, json=body)
    assert r.status_code == 401, (path, r.text)


def test_wrong_role_gets_403(client: TestClient[Any]) -> None:
    headers = {role: account(client, role) for role in ("student", "tutor", "admin")}
    for method, path, body, needed in PROTECTED:
        if needed is Access.USER:
            continue
        for role, h in headers.items():
            r = client.request(method, path, json=body, headers=h)
            if role == needed.value:
                assert r.status_code != 403, (role, path, r.text)
            else:
                assert r.status_code == 403, (role, path, r.text)
                assert r.json()["code"] == f"{needed.value}_only"


def test_public_pages_and_documents(client: TestClient[Any]) -> None:
    for path in PUBLIC:
        r = client.get(path)
        assert r.status_code in (200, 404), path
        if "UNKNOWN" not in path:
            assert r.status_code == 200, path


def test_tutor_pages_redirect_anonymous_and_refuse_students(client: TestClient[Any]) -> None:
    for path in ["/teach/courses", "/my/courses", "/lessons/1/notes"]:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"
    student = account(client, "student")
    assert client.get("/teach/courses", headers=student).status_code == 403
