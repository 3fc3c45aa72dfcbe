"""Tutor onboarding: an Express account, Account Links, status from account.updated."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.helpers import account
from tests.payouts.flow import Env, drain
from tests.scheduling.helpers import approved_tutor, book, local_slot, sql, student


def test_onboarding_makes_a_tutor_bookable_and_searchable(env: Env) -> None:
    double = env.double
    assert double is not None
    tutor_id, tutor = approved_tutor(env.client, payouts=False)
    status = env.client.get("/api/v1/tutors/me/payouts", headers=tutor).json()
    assert status["connected"] is False and status["mode"] == "stripe"
    link = env.client.post("/api/v1/tutors/me/payouts/onboarding", headers=tutor)
    assert link.status_code == 201, link.text
    assert link.json()["url"].startswith(double.url + "/setup/")
    again = env.client.post("/api/v1/tutors/me/payouts/onboarding", headers=tutor).json()
    assert again["url"] != link.json()["url"]  # a fresh link each time (refresh_url)
    [created] = double.of_kind("account")
    assert created["type"] == "express" and created["metadata"]["duet_tutor"] == str(tutor_id)
    status = env.client.get("/api/v1/tutors/me/payouts", headers=tutor).json()
    assert status["connected"] and not status["payouts_enabled"]
    assert "external_account" in status["requirements"]

    _, me = student(env.client)
    refused = book(env.client, me, tutor_id, local_slot("Europe/Berlin", 3, 10))
    assert refused.status_code == 409 and refused.json()["code"] == "payouts_not_enabled"

    newer = double.complete_onboarding(created["id"])
    older = dict(newer, id="evt_older", created=newer["created"] - 60)
    older["data"] = {"object": dict(created, payouts_enabled=False, charges_enabled=False)}
    double.take()
    double.deliver(env.client, [newer, older])  # the older one arrives last: ignored
    drain(env)
    status = env.client.get("/api/v1/tutors/me/payouts", headers=tutor).json()
    assert status["payouts_enabled"] and status["requirements"] == []
    assert book(env.client, me, tutor_id, local_slot("Europe/Berlin", 3, 10)).status_code == 201
    hits = env.client.get("/api/v1/tutors/search").json()["hits"]
    assert tutor_id in [hit["id"] for hit in hits]  # indexed once payouts were enabled

    dashboard = env.client.post("/api/v1/tutors/me/payouts/dashboard-link", headers=tutor)
    assert dashboard.status_code == 201 and "/express/" in dashboard.json()["url"]
    keys = [key for method, path, key in double.requests if method == "POST"]
    assert len(keys) == len(set(keys))  # each link had its own key; the account one key


def test_the_return_url_rechecks_the_account(env: Env) -> None:
    double = env.double
    assert double is not None
    tutor_id, tutor = approved_tutor(env.client, payouts=False)
    env.client.post("/api/v1/tutors/me/payouts/onboarding", headers=tutor)
    [created] = double.of_kind("account")
    double.complete_onboarding(created["id"])
    double.take()  # the webhook is late; the return re-reads the account from Stripe
    refreshed = env.client.post("/api/v1/tutors/me/payouts/refresh", headers=tutor).json()
    assert refreshed["payouts_enabled"] is True
    assert sql(env.client, "SELECT payouts_enabled FROM connected_accounts")[0][0] is True
    assert tutor_id


def test_payout_endpoints_are_for_tutors_and_admin_pages_for_admins(
    client: TestClient[Any],
) -> None:
    student_headers = account(client, "student")
    tutor_headers = account(client, "tutor")
    for path in ["/api/v1/tutors/me/payouts", "/api/v1/tutors/me/earnings"]:
        assert client.get(path).status_code == 401
        assert client.get(path, headers=student_headers).status_code == 403
        assert client.get(path, headers=tutor_headers).status_code == 200
    assert client.get("/api/v1/admin/payments", headers=tutor_headers).status_code == 403
    assert client.get("/admin/payments", headers=tutor_headers).status_code == 403
    assert client.get("/tutor/earnings", headers=student_headers).status_code == 403
    admin = account(client, "admin")
    assert client.get("/api/v1/admin/payments", headers=admin).json()["ledger_totals"] == {}
    assert client.get("/tutor/earnings", headers=tutor_headers).status_code == 200
    assert client.get("/admin/payments", headers=admin).status_code == 200
