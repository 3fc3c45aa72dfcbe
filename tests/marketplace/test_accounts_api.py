from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from litestar.testing import TestClient

from marketplace.accounts.passwords import verify_password
from tests.helpers import PASSWORD, account, login, register
from tests.scheduling.helpers import sql


def test_register_login_me_logout(client: TestClient[Any]) -> None:
    user = register(client, "tutor", email="Mixed.Case@Example.com")
    assert user["email"] == "mixed.case@example.com"
    assert user["roles"] == ["tutor"]

    response = client.post(
        "/api/v1/auth/login", json={"email": "MIXED.case@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and len(body["token"]) > 30
    cookie = response.headers["set-cookie"]
    assert "duet_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {body['token']}"}

    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.json()["email"] == "mixed.case@example.com"

    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    after = client.get("/api/v1/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["code"] == "invalid_token"


def test_duplicate_email_is_409(client: TestClient[Any]) -> None:
    register(client, "student", email="dup@example.com")
    response = client.post(
        "/api/v1/auth/register",
        json={
            "email": "DUP@example.com",
            "password": PASSWORD,
            "full_name": "Other",
            "role": "student",
        },
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


def test_concurrent_registrations_create_one_account(client: TestClient[Any]) -> None:
    body = {
        "email": "race@example.com",
        "password": PASSWORD,
        "full_name": "Racer",
        "role": "student",
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = sorted(
            pool.map(
                lambda _: client.post("/api/v1/auth/register", json=body).status_code, range(4)
            )
        )
    assert codes.count(201) == 1 and codes.count(409) == 3


def test_wrong_password_and_unknown_email_look_the_same(client: TestClient[Any]) -> None:
    user = register(client)
    wrong = client.post("/api/v1/auth/login", json={"email": user["email"], "password": "nope" * 4})
    unknown = client.post(
        "/api/v1/auth/login", json={"email": "no@example.com", "password": "x" * 12}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "invalid_credentials"


def test_malformed_json_is_400(client: TestClient[Any]) -> None:
    response = client.post(
        "/api/v1/auth/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_invalid_fields_are_422_naming_each(client: TestClient[Any]) -> None:
    response = client.post(
        "/api/v1/auth/register",
        json={
            "email": "not-an-email",
            "password": "short",
            "full_name": "",
            "role": "admin",
            "time_zone": "Mars/Olympus",
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    assert set(body["fields"]) == {"email", "password", "full_name", "role", "time_zone"}


def test_wrong_types_and_missing_fields_are_422(client: TestClient[Any]) -> None:
    response = client.post("/api/v1/auth/register", json={"email": 5})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    response = client.post("/api/v1/auth/login", json={"email": "a@example.com"})
    assert response.status_code == 422
    assert "password" in response.json()["fields"]


def test_failed_registration_leaves_no_rows(client: TestClient[Any]) -> None:
    client.post(
        "/api/v1/auth/register",
        json={"email": "ok@example.com", "password": "short", "full_name": "X", "role": "student"},
    )
    response = client.post(
        "/api/v1/auth/login", json={"email": "ok@example.com", "password": "short"}
    )
    assert response.status_code == 401


def test_login_is_rate_limited(client: TestClient[Any]) -> None:
    user = register(client)
    codes = [
        client.post(
            "/api/v1/auth/login", json={"email": user["email"], "password": "wrong" * 3}
        ).status_code
        for _ in range(12)
    ]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429
    limited = client.post("/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0


def test_change_password_revokes_other_sessions(client: TestClient[Any]) -> None:
    user = register(client)
    first = login(client, user["email"])
    second = login(client, user["email"])
    wrong = client.put(
        "/api/v1/me/password",
        headers=first,
        json={"current_password": "bad" * 4, "new_password": "a brand new secret"},
    )
    assert wrong.status_code == 422 and "current_password" in wrong.json()["fields"]
    ok = client.put(
        "/api/v1/me/password",
        headers=first,
        json={"current_password": PASSWORD, "new_password": "a brand new secret"},
    )
    assert ok.status_code == 204
    # API tokens stay valid (they are revoked one by one); the password itself changed.
    assert client.get("/api/v1/me", headers=second).status_code == 200
    old = client.post("/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert old.status_code == 401
    login(client, user["email"], "a brand new secret")


def test_api_tokens_create_list_revoke(client: TestClient[Any]) -> None:
    headers = account(client)
    created = client.post("/api/v1/me/tokens", headers=headers, json={"name": "script"})
    assert created.status_code == 201
    token = created.json()
    listed = client.get("/api/v1/me/tokens", headers=headers).json()
    assert any(t["id"] == token["id"] and "token" not in t for t in listed)
    other = {"Authorization": f"Bearer {token['token']}"}
    assert client.get("/api/v1/me", headers=other).status_code == 200
    assert client.delete(f"/api/v1/me/tokens/{token['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=other).status_code == 401


def test_cannot_revoke_someone_elses_token(client: TestClient[Any]) -> None:
    alice = account(client)
    bob = account(client)
    token = client.post("/api/v1/me/tokens", headers=alice, json={"name": "a"}).json()
    response = client.delete(f"/api/v1/me/tokens/{token['id']}", headers=bob)
    assert response.status_code == 404


def test_one_account_can_be_student_and_tutor(client: TestClient[Any]) -> None:
    headers = account(client, "student")
    assert client.get("/api/v1/tutors/me/profile", headers=headers).status_code == 403
    response = client.post("/api/v1/me/roles", headers=headers, json={"role": "tutor"})
    assert sorted(response.json()["roles"]) == ["student", "tutor"]
    assert client.get("/api/v1/tutors/me/profile", headers=headers).status_code == 200
    admin = client.post("/api/v1/me/roles", headers=headers, json={"role": "admin"})
    assert admin.status_code == 422


def test_cookie_session_needs_csrf_header_for_api_writes(client: TestClient[Any]) -> None:
    user = register(client)
    client.post("/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert client.get("/api/v1/me").status_code == 200  # cookie works for reads
    refused = client.put("/api/v1/me", json={"full_name": "New", "time_zone": "UTC"})
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    client.get("/")  # a page visit sets the CSRF cookie
    token = client.cookies.get("duet_csrf")
    assert token
    ok = client.put(
        "/api/v1/me", json={"full_name": "New", "time_zone": "UTC"}, headers={"X-CSRFToken": token}
    )
    assert ok.status_code == 200 and ok.json()["full_name"] == "New"


def test_passwords_are_hashed_with_production_argon2_parameters(client: TestClient[Any]) -> None:
    # The suite hashes with cheap parameters (tests/conftest.py); the application, in a process
    # of its own, hashes with argon2id at 64 MiB, 3 passes, 4 lanes.
    script = (
        "from marketplace.accounts.passwords import hash_password\n"
        f"print(hash_password({PASSWORD!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    produced = done.stdout.strip()
    assert produced.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), produced
    assert verify_password(produced, PASSWORD) and not verify_password(produced, PASSWORD + "!")
    # An account whose hash has other parameters gets a new hash at its next login.
    user = register(client, "student")
    sql(client, "UPDATE users SET password_hash = $1 WHERE email = $2", produced, user["email"])
    login(client, user["email"])
    [row] = sql(client, "SELECT password_hash FROM users WHERE email = $1", user["email"])
    assert row["password_hash"] != produced and verify_password(row["password_hash"], PASSWORD)
