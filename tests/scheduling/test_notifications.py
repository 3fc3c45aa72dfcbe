"""Booking notices in the app and by SMS; reminders that never say anything wrong; Twilio."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace import db
from marketplace.notifications.sms import SmsError, build_sms_sender
from marketplace.settings import ConfigError, Settings, SmsSettings
from marketplace.tasks import DramatiqQueue
from marketplace.twilio_sms import TwilioSms
from scheduling import notices
from tests.conftest import run_jobs
from tests.helpers import account, confirm_phone, run_async
from tests.scheduling.helpers import approved_tutor, book, local_slot, sql, student
from tests.twilio_double import twilio_double

BERLIN = "Europe/Berlin"
MOVE = (
    "UPDATE bookings SET starts_at = $2, ends_at = $3, period = tstzrange($2, $3), "
    "blocked = tstzrange($2, $3) WHERE id = $1"
)


def _confirmed(
    client: TestClient[Any], start: datetime
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    all_day = [(d, "00:00", "24:00") for d in ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]]
    tutor_id, tutor = approved_tutor(client, windows=all_day, rules={"min_notice_minutes": 0})
    _, me = student(client)
    confirm_phone(client, me, "+351912345678")
    booking = book(client, me, tutor_id, start).json()
    assert "id" in booking, booking
    admin = account(client, "admin")
    confirmed = client.post(
        f"/api/v1/bookings/{booking['id']}/events", json={"event": "confirm"}, headers=admin
    )
    assert confirmed.status_code == 200
    return booking, me, tutor


def test_confirmation_reaches_both_sides_in_app_and_by_sms_outbox(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    _, me, tutor = _confirmed(client, local_slot(BERLIN, 3, 10))
    run_jobs(queue)
    mine = client.get("/api/v1/me/notifications", headers=me).json()
    theirs = client.get("/api/v1/me/notifications", headers=tutor).json()
    assert [n["kind"] for n in mine["items"]] == ["booking.confirm"] and mine["unread"] == 1
    assert mine["items"][0]["body"].count("WET") + mine["items"][0]["body"].count("WEST") == 1
    # Newest first: the booking, then the tutor's approval notice from their onboarding.
    assert [n["kind"] for n in theirs["items"]] == ["booking.confirm", "profile.approve"]
    sms = sql(client, "SELECT to_number, status, provider, body FROM sms_messages ORDER BY id")
    assert [(r["to_number"], r["status"], r["provider"]) for r in sms] == [
        ("+351912345678", "outbox", "outbox"),  # the confirmation code
        ("+351912345678", "outbox", "outbox"),  # the booking confirmation
    ]
    assert "confirmation code" in sms[0]["body"] and "confirmed" in sms[1]["body"].lower()
    assert client.post("/api/v1/me/notifications/read", headers=me).status_code == 204
    assert client.get("/api/v1/me/notifications", headers=me).json()["unread"] == 0


async def _sweep_reminders(url: str, now: datetime) -> list[bool]:
    engine = db.create_engine(url, pool_size=1)
    sent = []
    try:
        factory = db.create_session_factory(engine)
        async with factory() as session, session.begin():
            due = await notices.due_reminders(session, now)
        for booking_id, kind, starts in due:
            async with factory() as session, session.begin():
                sent.append(await notices.send_reminder(session, booking_id, kind, starts, now))
    finally:
        await engine.dispose()
    return sent


def test_reminders_are_sent_once_and_never_for_cancelled_or_moved_lessons(
    client: TestClient[Any], database_url: str
) -> None:
    start = local_slot(BERLIN, 3, 10)
    booking, me, _ = _confirmed(client, start)
    # 23 hours before: the 24-hour reminder, once.
    assert run_async(_sweep_reminders(database_url, start - timedelta(hours=23))) == [True]
    assert run_async(_sweep_reminders(database_url, start - timedelta(hours=22))) == []
    # A job queued for the old start time finds the lesson moved and sends nothing.
    moved_to = start + timedelta(hours=2)
    sql(
        client,
        MOVE,
        booking["id"],
        moved_to,
        moved_to + timedelta(hours=1),
    )

    async def stale_job() -> bool:
        engine = db.create_engine(database_url, pool_size=1)
        try:
            async with db.create_session_factory(engine)() as session, session.begin():
                return await notices.send_reminder(
                    session, booking["id"], "1h", start.isoformat(), start - timedelta(minutes=30)
                )
        finally:
            await engine.dispose()

    assert run_async(stale_job()) is False
    # Cancelled: nothing at all.
    assert (
        client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=me).status_code
        == 200
    )
    assert run_async(_sweep_reminders(database_url, moved_to - timedelta(minutes=30))) == []
    kinds = [r["kind"] for r in sql(client, "SELECT kind FROM notifications ORDER BY id")]
    assert kinds.count("booking.reminder_24h") == 2  # student and tutor, once each
    assert "booking.reminder_1h" not in kinds


def test_twilio_adapter_talks_to_a_local_double() -> None:
    with twilio_double() as twilio:
        sms = TwilioSms(twilio.account_sid, twilio.auth_token, "+15005550006", api_base=twilio.url)
        sid = sms.send("+351912345678", "Duet: your lesson is confirmed.")
        assert sid.startswith("SM")
        assert twilio.messages == [
            {
                "To": "+351912345678",
                "From": "+15005550006",
                "Body": "Duet: your lesson is confirmed.",
            }
        ]
        twilio.refuse_with = 400
        with pytest.raises(SmsError, match="not valid"):
            sms.send("+1", "x")
        wrong = TwilioSms(twilio.account_sid, "wrong-token", "+15005550006", api_base=twilio.url)
        with pytest.raises(SmsError):
            wrong.send("+351912345678", "x")
    unreachable = TwilioSms("AC" + "0" * 32, "t", "+15005550006", api_base=twilio.url, timeout=2)
    with pytest.raises(SmsError, match="reached"):
        unreachable.send("+351912345678", "x")


def test_twilio_settings_are_all_or_none() -> None:
    assert build_sms_sender(Settings.from_env({}).sms).name == "outbox"
    full = {
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_FROM_NUMBER": "+15005550006",
    }
    assert Settings.from_env(full).sms == SmsSettings("AC1", "t", "+15005550006")
    assert build_sms_sender(Settings.from_env(full).sms).name == "twilio"
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        Settings.from_env({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_FROM_NUMBER": "+1"})


def test_timed_jobs_complete_and_settle(client: TestClient[Any], queue: DramatiqQueue) -> None:
    booking, me, _ = _confirmed(client, local_slot(BERLIN, 3, 10))
    move = (
        "UPDATE bookings SET starts_at = $2, ends_at = $3, period = tstzrange($2, $3), "
        "blocked = tstzrange($2, $3) WHERE id = $1"
    )
    past = datetime.now(UTC) - timedelta(hours=2)
    sql(client, move, booking["id"], past, past + timedelta(hours=1))
    queue.enqueue("scheduling.sweep")
    run_jobs(queue)
    assert (
        client.get(f"/api/v1/bookings/{booking['id']}", headers=me).json()["status"] == "completed"
    )
    past = datetime.now(UTC) - timedelta(days=4)  # beyond the 72-hour dispute window
    sql(client, move, booking["id"], past, past + timedelta(hours=1))
    queue.enqueue("scheduling.sweep")
    run_jobs(queue)
    assert client.get(f"/api/v1/bookings/{booking['id']}", headers=me).json()["status"] == "settled"
    events = [r["event"] for r in sql(client, "SELECT event FROM booking_transitions ORDER BY id")]
    assert events == ["hold", "confirm", "complete", "settle"]
