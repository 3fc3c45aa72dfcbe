"""The audit trail: what is recorded (once, with its request id), that nothing rewrites it, and
the admin page, search API and CSV export (admins only)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import TestClient

from marketplace.cli import main
from tests.helpers import (
    COMPLETE_PROFILE,
    PASSWORD,
    account,
    fetch_sql,
    login,
    register,
    run_async,
)


def _entries(client: TestClient[Any], action: str | None = None) -> list[asyncpg.Record]:
    if action is None:
        return fetch_sql(client, "SELECT * FROM audit_entries ORDER BY id")
    return fetch_sql(client, "SELECT * FROM audit_entries WHERE action = $1 ORDER BY id", action)


def _submitted_tutor(client: TestClient[Any]) -> int:
    user = register(client, "tutor")
    headers = login(client, user["email"])
    profile = {**COMPLETE_PROFILE, "formats": ["online"]}
    assert client.put("/api/v1/tutors/me/profile", json=profile, headers=headers).is_success
    assert client.post("/api/v1/tutors/me/submit", headers=headers).is_success
    tutor_id: int = user["id"]
    return tutor_id


def _moderate(
    client: TestClient[Any], admin: dict[str, str], tutor_id: int, action: str, reason: str = ""
) -> Any:
    return client.post(
        f"/api/v1/admin/tutors/{tutor_id}/moderation",
        json={"action": action, "reason": reason},
        headers=admin,
    )


def test_admin_decisions_are_recorded_once_with_actor_reason_and_request_id(
    client: TestClient[Any],
) -> None:
    admin = account(client, "admin")
    admin_id = client.get("/api/v1/me", headers=admin).json()["id"]
    tutor_id = _submitted_tutor(client)

    approved = client.post(
        f"/api/v1/admin/tutors/{tutor_id}/moderation",
        json={"action": "approve"},
        headers={**admin, "X-Request-ID": "req-approve-1"},
    )
    assert approved.status_code == 200
    assert approved.headers["x-request-id"] == "req-approve-1"
    suspended = _moderate(client, admin, tutor_id, "suspend", "Fake diplomas")
    assert suspended.status_code == 200
    generated = suspended.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)

    rows = _entries(client)
    assert [(r["action"], r["actor_id"], r["actor_role"]) for r in rows] == [
        ("tutor.approve", admin_id, "admin"),
        ("tutor.suspend", admin_id, "admin"),
    ]
    assert rows[0]["subject_kind"] == "user" and rows[0]["subject_id"] == str(tutor_id)
    assert rows[0]["request_id"] == "req-approve-1"
    assert rows[1]["reason"] == "Fake diplomas" and rows[1]["request_id"] == generated

    # A refused action records nothing (one transaction: the entry goes with the action).
    again = _moderate(client, admin, tutor_id, "suspend", "Again and again")
    assert again.status_code == 409
    no_reason = _moderate(client, admin, _submitted_tutor(client), "reject", "")
    assert no_reason.status_code == 422
    assert len(_entries(client)) == 2


def test_a_hostile_request_id_is_replaced_not_stored(client: TestClient[Any]) -> None:
    admin = account(client, "admin")
    tutor_id = _submitted_tutor(client)
    r = client.post(
        f"/api/v1/admin/tutors/{tutor_id}/moderation",
        json={"action": "approve"},
        headers={**admin, "X-Request-ID": "=cmd|' /C calc'!A0"},
    )
    assert r.status_code == 200
    stored = _entries(client, "tutor.approve")[0]["request_id"]
    assert stored == r.headers["x-request-id"] and re.fullmatch(r"[0-9a-f]{32}", stored)


def test_role_changes_are_recorded(
    client: TestClient[Any], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = register(client, "student")
    headers = login(client, user["email"])
    assert client.post("/api/v1/me/roles", json={"role": "tutor"}, headers=headers).is_success
    assert client.post("/api/v1/me/roles", json={"role": "tutor"}, headers=headers).is_success
    added = _entries(client, "user.role_added")
    assert len(added) == 1  # the second call changed nothing
    assert added[0]["actor_id"] == user["id"] and added[0]["subject_id"] == str(user["id"])

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DUET_ADMIN_PASSWORD", "an admin secret 42")
    assert main(["create-admin", "--email", user["email"]]) == 0
    assert main(["create-admin", "--email", user["email"]]) == 0  # already one: no new entry
    granted = _entries(client, "user.admin_granted")
    assert len(granted) == 1
    assert granted[0]["actor_role"] == "operator" and granted[0]["subject_id"] == str(user["id"])
    assert granted[0]["request_id"]


def test_the_database_refuses_to_change_or_delete_an_entry(client: TestClient[Any]) -> None:
    admin = account(client, "admin")
    assert _moderate(client, admin, _submitted_tutor(client), "approve").status_code == 200
    url = client.app.state.services.settings.database.url
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def attempt(statement: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    for statement in (
        "UPDATE audit_entries SET reason = 'nothing happened'",
        "DELETE FROM audit_entries",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            run_async(attempt(statement))
    assert len(_entries(client)) == 1 and _entries(client)[0]["reason"] == ""


def _seed(client: TestClient[Any]) -> tuple[dict[str, str], int, list[int]]:
    """An admin who approved three tutors and suspended one (with a formula as the reason)."""
    admin = account(client, "admin")
    admin_id = client.get("/api/v1/me", headers=admin).json()["id"]
    tutors = [_submitted_tutor(client) for _ in range(3)]
    for tutor_id in tutors:
        assert _moderate(client, admin, tutor_id, "approve").status_code == 200
    assert _moderate(client, admin, tutors[0], "suspend", '=HYPERLINK("http://x")').is_success
    return admin, admin_id, tutors


def test_search_filters_and_pages(client: TestClient[Any]) -> None:
    admin, admin_id, tutors = _seed(client)
    email = client.get("/api/v1/me", headers=admin).json()["email"]
    api = "/api/v1/admin/audit"

    everything = client.get(api, headers=admin).json()
    assert everything["total"] == 4
    assert everything["entries"][0]["action"] == "tutor.suspend"  # newest first
    assert everything["entries"][0]["actor_email"] == email

    by_email = client.get(api, params={"actor": email.upper()}, headers=admin).json()
    assert by_email["total"] == 4
    assert (
        client.get(api, params={"actor": str(admin_id + 999)}, headers=admin).json()["total"] == 0
    )
    assert (
        client.get(api, params={"actor": "nobody@example.com"}, headers=admin).json()["total"] == 0
    )
    suspend = client.get(api, params={"action": "tutor.suspend"}, headers=admin).json()
    assert suspend["total"] == 1
    family = client.get(api, params={"action": "tutor"}, headers=admin).json()
    assert family["total"] == 4
    subject = client.get(
        api, params={"subject_kind": "user", "subject_id": str(tutors[0])}, headers=admin
    ).json()
    assert [e["action"] for e in subject["entries"]] == ["tutor.suspend", "tutor.approve"]

    today = datetime.now(UTC).date()
    inside = {"from": today.isoformat(), "to": today.isoformat()}
    assert client.get(api, params=inside, headers=admin).json()["total"] == 4
    tomorrow = (today + timedelta(days=1)).isoformat()
    later = client.get(api, params={"from": tomorrow}, headers=admin).json()
    assert later["total"] == 0
    backwards = client.get(api, params={"from": tomorrow, "to": today.isoformat()}, headers=admin)
    assert backwards.status_code == 422 and "to" in backwards.json()["fields"]
    bad_actor = client.get(api, params={"actor": "robert'); drop"}, headers=admin)
    assert bad_actor.status_code == 422

    first = client.get(api, params={"per_page": 3}, headers=admin).json()
    second = client.get(api, params={"per_page": 3, "page": 2}, headers=admin).json()
    assert first["pages"] == 2 and len(first["entries"]) == 3 and len(second["entries"]) == 1
    ids = [e["id"] for e in first["entries"] + second["entries"]]
    assert len(set(ids)) == 4


def test_csv_export_is_filtered_and_safe_in_a_spreadsheet(client: TestClient[Any]) -> None:
    admin, _, _ = _seed(client)
    r = client.get("/api/v1/admin/audit/export.csv", headers=admin)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:5] == ["id", "time_utc", "actor_id", "actor_role", "action"]
    assert [row[4] for row in rows[1:]] == ["tutor.approve"] * 3 + ["tutor.suspend"]
    reason = rows[-1][7]
    assert reason == '\'=HYPERLINK("http://x")'  # shown as text, never evaluated
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    only = client.get(
        "/api/v1/admin/audit/export.csv", params={"action": "tutor.suspend"}, headers=admin
    )
    assert len(list(csv.reader(io.StringIO(only.text)))) == 2


def _page_login(client: TestClient[Any], headers: dict[str, str]) -> None:
    email = client.get("/api/v1/me", headers=headers).json()["email"]
    match = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/login").text)
    assert match
    r = client.post(
        "/login",
        data={"_csrf_token": match.group(1), "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_admin_page_searches_and_links_the_export(client: TestClient[Any]) -> None:
    admin, _, tutors = _seed(client)
    _page_login(client, admin)
    page = client.get("/admin/audit")
    assert page.status_code == 200
    assert page.text.count('data-action="tutor.approve"') == 3
    assert 'data-testid="audit-export"' in page.text
    filtered = client.get(
        "/admin/audit", params={"action": "tutor.suspend", "subject_id": str(tutors[0])}
    )
    assert filtered.text.count("data-action=") == 1
    # The reason is shown as text, escaped.
    assert "=HYPERLINK(&#34;http://x&#34;)" in filtered.text
    assert 'href="/admin/audit"' in client.get("/").text  # in the admin's menu


def test_only_admins_read_the_trail(client: TestClient[Any]) -> None:
    _seed(client)
    for role in ("student", "tutor"):
        headers = account(client, role)
        for path in ("/api/v1/admin/audit", "/api/v1/admin/audit/export.csv", "/admin/audit"):
            r = client.get(path, headers=headers)
            assert r.status_code == 403, (role, path, r.status_code)
    client.cookies.clear()
    assert client.get("/api/v1/admin/audit").status_code == 401
    assert client.get("/api/v1/admin/audit/export.csv").status_code == 401
    anonymous = client.get("/admin/audit", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 401)
    assert "tutor.approve" not in anonymous.text
