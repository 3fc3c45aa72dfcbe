"""Name, photo and price edits of an approved profile wait for review; the rest goes live."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.helpers import COMPLETE_PROFILE, account, login, register
from tests.media_factory import png

ME = "/api/v1/tutors/me"
PROFILE = {**COMPLETE_PROFILE, "formats": ["online"]}


def approved_tutor(client: TestClient[Any]) -> tuple[int, dict[str, str], dict[str, str]]:
    tutor = register(client, "tutor")
    headers = login(client, tutor["email"])
    assert client.put(f"{ME}/profile", json=PROFILE, headers=headers).is_success
    assert client.post(f"{ME}/submit", headers=headers).is_success
    admin = account(client, "admin")
    moderated = client.post(
        f"/api/v1/admin/tutors/{tutor['id']}/moderation", json={"action": "approve"}, headers=admin
    )
    assert moderated.status_code == 200
    return tutor["id"], headers, admin


def test_reviewed_fields_wait_while_the_approved_version_stays_live(
    client: TestClient[Any],
) -> None:
    tutor_id, headers, admin = approved_tutor(client)
    edited = {
        **PROFILE,
        "display_name": "Ana S. — best teacher, call me",
        "headline": "Fado guitarist and singer teaching in Porto and online",
        "prices": [{"duration_minutes": 60, "price_minor": 9900}],
    }
    saved = client.put(f"{ME}/profile", json=edited, headers=headers)
    assert saved.status_code == 200, saved.text
    public = client.get(f"/api/v1/tutors/{tutor_id}").json()
    assert public["display_name"] == "Ana Sousa"  # held
    assert public["headline"] == edited["headline"]  # live at once
    assert [p["price_minor"] for p in public["prices"]] == [2500, 4500]
    photo = client.post(
        f"{ME}/photo", files={"data": ("me.png", png(400, 400), "image/png")}, headers=headers
    )
    assert photo.status_code == 200
    assert client.get(f"/api/v1/tutors/{tutor_id}").json()["photo"] is None

    mine = client.get(f"{ME}/changes", headers=headers).json()
    assert {c["field"] for c in mine["changes"]} == {"display_name", "photo_key", "prices"}
    waiting = client.get("/api/v1/admin/tutors/changes", headers=admin).json()
    assert isinstance(waiting, list), waiting
    name = next(c for c in waiting[0]["changes"] if c["field"] == "display_name")
    assert waiting[0]["tutor_id"] == tutor_id
    assert name == {"field": "display_name", "now": "Ana Sousa", "proposed": edited["display_name"]}
    prices = next(c for c in waiting[0]["changes"] if c["field"] == "prices")
    assert prices["now"] == "30 min €25, 60 min €45" and prices["proposed"] == "60 min €99"

    # The wrong role cannot see or decide them.
    assert client.get("/api/v1/admin/tutors/changes", headers=headers).status_code == 403
    decide = f"/api/v1/admin/tutors/{tutor_id}/changes"
    assert client.post(decide, json={"action": "approve"}, headers=headers).status_code == 403
    # Rejecting needs a reason, then discards everything and tells the tutor why.
    assert client.post(decide, json={"action": "reject"}, headers=admin).status_code == 422
    rejected = client.post(
        decide, json={"action": "reject", "reason": "No contact offers in names."}, headers=admin
    )
    assert rejected.status_code == 200
    assert client.get(f"{ME}/changes", headers=headers).json()["changes"] == []
    assert client.get(f"/api/v1/tutors/{tutor_id}").json()["display_name"] == "Ana Sousa"
    notes = client.get("/api/v1/me/notifications", headers=headers).json()
    assert "No contact offers in names." in str(notes)

    # Approving applies them.
    edited["display_name"] = "Ana Sousa Pereira"
    assert client.put(f"{ME}/profile", json=edited, headers=headers).status_code == 200
    assert client.post(decide, json={"action": "approve"}, headers=admin).status_code == 200
    live = client.get(f"/api/v1/tutors/{tutor_id}").json()
    assert live["display_name"] == "Ana Sousa Pereira"
    assert [p["price_minor"] for p in live["prices"]] == [9900]
    assert client.post(decide, json={"action": "approve"}, headers=admin).status_code == 404


def test_setting_a_field_back_withdraws_its_change(client: TestClient[Any]) -> None:
    _, headers, _ = approved_tutor(client)
    renamed = {**PROFILE, "display_name": "Ana Maria Sousa"}
    client.put(f"{ME}/profile", json=renamed, headers=headers)
    assert len(client.get(f"{ME}/changes", headers=headers).json()["changes"]) == 1
    client.put(f"{ME}/profile", json=PROFILE, headers=headers)
    assert client.get(f"{ME}/changes", headers=headers).json()["changes"] == []


def test_the_admin_queue_page_shows_the_difference(client: TestClient[Any]) -> None:
    _, headers, admin = approved_tutor(client)
    client.put(f"{ME}/profile", json={**PROFILE, "display_name": "Ana Maria"}, headers=headers)
    html = client.get("/admin/tutors", headers=admin).text
    assert "Changes to approved profiles" in html
    assert "<del>Ana Sousa</del>" in html and "<ins>Ana Maria</ins>" in html
    editor = client.get("/tutor/profile", headers=headers).text
    assert "Waiting for review" in editor and "<strong>Ana Maria</strong>" in editor
