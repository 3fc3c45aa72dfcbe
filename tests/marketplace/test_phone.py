"""A mobile number is confirmed with a texted code before any SMS goes to it."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from marketplace import db
from marketplace.notifications.service import notify
from tests.conftest import run_jobs
from tests.helpers import (
    PASSWORD,
    account,
    confirm_phone,
    fetch_sql,
    register,
    run_async,
    run_sql,
    texted_code,
)
from tests.marketplace.test_pages import csrf

NUMBER = "+351912345678"


def _notify(client: TestClient[Any], headers: dict[str, str]) -> None:
    """Notify this user with an SMS text through the kernel's notify(), in its own transaction."""
    user_id = client.get("/api/v1/me", headers=headers).json()["id"]
    url = client.app.state.services.settings.database.url

    async def run() -> None:
        engine = db.create_engine(url, pooled=False)
        try:
            async with db.transaction(db.create_session_factory(engine)) as session:
                await notify(session, user_id, kind="test", title="Hello", sms_text="Lesson soon")
        finally:
            await engine.dispose()

    run_async(run())


def test_sms_go_only_to_a_confirmed_number(client: TestClient[Any]) -> None:
    me = account(client)
    _notify(client, me)  # no number at all
    assert client.put("/api/v1/me/phone", json={"phone": NUMBER}, headers=me).status_code == 202
    _notify(client, me)  # a number, not confirmed yet
    bodies = [r["body"] for r in fetch_sql(client, "SELECT body FROM sms_messages ORDER BY id")]
    assert len(bodies) == 1 and "confirmation code" in bodies[0]
    confirmed = client.post(
        "/api/v1/me/phone/confirm", json={"code": texted_code(client, NUMBER)}, headers=me
    )
    assert confirmed.status_code == 200
    _notify(client, me)
    bodies = [r["body"] for r in fetch_sql(client, "SELECT body FROM sms_messages ORDER BY id")]
    assert bodies[1:] == ["Lesson soon"]
    inbox = client.get("/api/v1/me/notifications", headers=me).json()
    assert len(inbox["items"]) == 3  # in-app notifications go out whatever the phone


def test_a_number_is_confirmed_with_the_texted_code(client: TestClient[Any]) -> None:
    me = account(client)
    assert client.get("/api/v1/me/phone", headers=me).json() == {
        "phone": None,
        "confirmed": False,
        "code_pending": False,
    }
    sent = client.put("/api/v1/me/phone", json={"phone": "+351 912 345 678"}, headers=me)
    assert sent.status_code == 202
    assert sent.json() == {"phone": NUMBER, "confirmed": False, "code_pending": True}
    code = texted_code(client, NUMBER)
    stored = fetch_sql(client, "SELECT code_hash FROM phone_numbers")
    assert code not in stored[0]["code_hash"]  # only a digest is kept

    wrong = "000000" if code != "000000" else "111111"
    refused = client.post("/api/v1/me/phone/confirm", json={"code": wrong}, headers=me)
    assert refused.status_code == 422 and "code" in refused.json()["fields"]
    assert fetch_sql(client, "SELECT attempts FROM phone_numbers")[0]["attempts"] == 1

    ok = client.post(
        "/api/v1/me/phone/confirm", json={"code": code[:3] + " " + code[3:]}, headers=me
    )
    assert ok.status_code == 200
    assert ok.json() == {"phone": NUMBER, "confirmed": True, "code_pending": False}
    again = client.post("/api/v1/me/phone/confirm", json={"code": code}, headers=me)
    assert again.status_code == 409 and again.json()["code"] == "no_code_pending"
    same = client.put("/api/v1/me/phone", json={"phone": NUMBER}, headers=me)
    assert same.status_code == 409 and same.json()["code"] == "phone_already_confirmed"


def test_guessing_is_bounded_and_codes_expire(client: TestClient[Any]) -> None:
    me = account(client)
    assert client.put("/api/v1/me/phone", json={"phone": NUMBER}, headers=me).status_code == 202
    code = texted_code(client, NUMBER)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        response = client.post("/api/v1/me/phone/confirm", json={"code": wrong}, headers=me)
        assert response.status_code == 422
    locked = client.post("/api/v1/me/phone/confirm", json={"code": code}, headers=me)
    assert locked.status_code == 409 and locked.json()["code"] == "too_many_attempts"
    assert client.get("/api/v1/me/phone", headers=me).json()["code_pending"] is False

    assert client.put("/api/v1/me/phone", json={"phone": NUMBER}, headers=me).status_code == 202
    fresh = texted_code(client, NUMBER)
    run_sql(client, "UPDATE phone_numbers SET code_expires_at = now() - interval '1 second'")
    expired = client.post("/api/v1/me/phone/confirm", json={"code": fresh}, headers=me)
    assert expired.status_code == 409 and expired.json()["code"] == "code_expired"


def test_bad_numbers_rate_limits_changes_and_removal(client: TestClient[Any]) -> None:
    me = account(client)
    for bad in ["12345", "+1", "call me"]:
        response = client.put("/api/v1/me/phone", json={"phone": bad}, headers=me)
        assert response.status_code == 422 and "phone" in response.json()["fields"]
    assert client.put("/api/v1/me/phone", json={}, headers=me).status_code == 422

    confirm_phone(client, me, NUMBER)
    changed = client.put("/api/v1/me/phone", json={"phone": "+442079460123"}, headers=me)
    assert changed.status_code == 202 and changed.json()["confirmed"] is False  # new number

    for _ in range(3):  # five codes an hour in all: two were sent above
        assert (
            client.put("/api/v1/me/phone", json={"phone": "+442079460123"}, headers=me).status_code
            == 202
        )
    limited = client.put("/api/v1/me/phone", json={"phone": "+442079460123"}, headers=me)
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"

    assert client.delete("/api/v1/me/phone", headers=me).status_code == 204
    assert client.delete("/api/v1/me/phone", headers=me).status_code == 404
    assert client.get("/api/v1/me/phone", headers=me).json()["phone"] is None


def test_anonymous_callers_are_refused(client: TestClient[Any]) -> None:
    assert client.get("/api/v1/me/phone").status_code == 401
    assert client.put("/api/v1/me/phone", json={"phone": NUMBER}).status_code == 401
    assert client.post("/api/v1/me/phone/confirm", json={"code": "123456"}).status_code == 401
    assert client.delete("/api/v1/me/phone").status_code == 401


def test_one_users_code_does_not_confirm_another_users_number(client: TestClient[Any]) -> None:
    alice, bob = account(client), account(client)
    assert client.put("/api/v1/me/phone", json={"phone": NUMBER}, headers=alice).status_code == 202
    code = texted_code(client, NUMBER)
    assert client.put("/api/v1/me/phone", json={"phone": NUMBER}, headers=bob).status_code == 202
    bobs = texted_code(client, NUMBER)
    if bobs != code:
        response = client.post("/api/v1/me/phone/confirm", json={"code": code}, headers=bob)
        assert response.status_code == 422
    assert client.get("/api/v1/me/phone", headers=alice).json()["confirmed"] is False


def test_account_page_confirms_a_number_and_the_outbox_shows_the_text(
    client: TestClient[Any], queue: Any
) -> None:
    user = register(client)
    token = csrf(client, "/login")
    client.post("/login", data={"_csrf_token": token, "email": user["email"], "password": PASSWORD})
    token = csrf(client, "/account")
    bad = client.post("/account/phone", data={"_csrf_token": token, "phone": "nope"})
    assert bad.status_code == 422 and "valid mobile number" in bad.text
    sent = client.post(
        "/account/phone", data={"_csrf_token": token, "phone": NUMBER}, follow_redirects=False
    )
    assert sent.status_code == 303
    page = client.get("/account")
    assert "not confirmed yet" in page.text and 'name="code"' in page.text
    run_jobs(queue)
    inbox = client.get("/notifications").text
    assert "SMS outbox" in inbox and "confirmation code" in inbox
    wrong = client.post("/account/phone/confirm", data={"_csrf_token": token, "code": "99999x"})
    assert wrong.status_code == 422 and "not right" in wrong.text
    done = client.post(
        "/account/phone/confirm",
        data={"_csrf_token": token, "code": texted_code(client, NUMBER)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "phone_confirmed" in done.headers["location"]
    assert ">confirmed<" in client.get("/account").text
    removed = client.post(
        "/account/phone/remove", data={"_csrf_token": token}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert fetch_sql(client, "SELECT count(*) AS n FROM phone_numbers")[0]["n"] == 0
