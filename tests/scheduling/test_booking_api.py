"""Booking through the API: holds, 409/422 answers, idempotency, roles, cancel, reschedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar.testing import TestClient
from sqlalchemy import event

from tests.helpers import account
from tests.scheduling.helpers import approved_tutor, book, iso, local_slot, sql, student

BERLIN = "Europe/Berlin"


def test_slots_are_utc_pairs_in_the_tutor_local_window(client: TestClient[Any]) -> None:
    tutor_id, _ = approved_tutor(client, windows=[("MO", "17:00", "19:00")])
    start = datetime.now(UTC)
    response = client.get(
        f"/api/v1/tutors/{tutor_id}/slots",
        params={"from": iso(start), "to": iso(start + timedelta(days=14)), "duration": 60},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["time_zone"] == BERLIN and body["duration_minutes"] == 60
    assert len(body["slots"]) == 2 * 3  # two Mondays, 17:00 17:30 18:00
    for slot in body["slots"]:
        starts = datetime.fromisoformat(slot["starts_at"])
        assert starts.utcoffset() == timedelta(0)
        local = starts.astimezone(ZoneInfo(BERLIN))
        assert local.weekday() == 0 and (local.hour, local.minute) in {(17, 0), (17, 30), (18, 0)}
        assert datetime.fromisoformat(slot["ends_at"]) - starts == timedelta(hours=1)
    wrong = client.get(f"/api/v1/tutors/{tutor_id}/slots", params={"duration": 45})
    assert wrong.status_code == 422 and wrong.json()["code"] == "duration_not_offered"
    assert client.get("/api/v1/tutors/999999/slots").status_code == 404


def test_student_holds_a_slot_and_it_is_gone_for_others(client: TestClient[Any]) -> None:
    tutor_id, tutor = approved_tutor(client)
    _, alice = student(client)
    _, bob = student(client, "America/New_York")
    slot = local_slot(BERLIN, 3, 10)
    held = book(client, alice, tutor_id, slot)
    assert held.status_code == 201, held.text
    body = held.json()
    assert body["status"] == "held" and body["starts_at"].startswith(iso(slot)[:16])
    expires = datetime.fromisoformat(body["hold_expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=14) < expires <= timedelta(minutes=15)
    taken = book(client, bob, tutor_id, slot)
    assert taken.status_code == 409 and taken.json()["code"] == "slot_taken"
    overlapping = book(client, bob, tutor_id, slot + timedelta(minutes=30))
    assert overlapping.status_code == 409
    day = client.get(
        f"/api/v1/tutors/{tutor_id}/slots",
        params={"from": iso(slot - timedelta(hours=1)), "to": iso(slot + timedelta(hours=2))},
    ).json()["slots"]
    assert iso(slot) not in [s["starts_at"].replace("+00:00", "Z") for s in day]
    # The tutor sees the hold among their lessons.
    assert [b["id"] for b in client.get("/api/v1/bookings", headers=tutor).json()] == [body["id"]]


def test_slots_not_offered_are_422_with_the_reason(client: TestClient[Any]) -> None:
    tutor_id, tutor = approved_tutor(
        client, windows=[(d, "09:00", "12:00") for d in ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]]
    )
    _, me = student(client)
    cases = {
        "too_soon": (datetime.now(UTC) + timedelta(minutes=20), 60),
        "too_far": (local_slot(BERLIN, 90, 10), 60),
        "outside_availability": (local_slot(BERLIN, 3, 15), 60),
        "off_grid": (local_slot(BERLIN, 3, 10, 10), 60),
        "duration_not_offered": (local_slot(BERLIN, 3, 10), 45),
    }
    for code, (when, minutes) in cases.items():
        response = book(client, me, tutor_id, when, minutes)
        assert response.status_code == 422, (code, response.text)
        assert response.json()["code"] == code, response.text
        assert response.json()["message"]
    off = client.post(
        "/api/v1/tutors/me/availability/time-off",
        json={
            "starts_at": iso(local_slot(BERLIN, 4, 0)),
            "ends_at": iso(local_slot(BERLIN, 5, 0)),
            "reason": "Concert",
        },
        headers=tutor,
    )
    assert off.status_code == 201, off.text
    busy = book(client, me, tutor_id, local_slot(BERLIN, 4, 10))
    assert busy.status_code == 422 and busy.json()["code"] == "outside_availability"
    naive = client.post(
        "/api/v1/bookings",
        json={"tutor_id": tutor_id, "starts_at": "2030-01-01T10:00:00", "duration_minutes": 60},
        headers=me,
    )
    assert naive.status_code == 422


def test_idempotency_key_makes_one_booking(client: TestClient[Any]) -> None:
    tutor_id, _ = approved_tutor(client)
    _, me = student(client)
    slot = local_slot(BERLIN, 2, 11)
    first = book(client, me, tutor_id, slot, **{"Idempotency-Key": "click-1"})
    again = book(client, me, tutor_id, slot, **{"Idempotency-Key": "click-1"})
    assert first.status_code == 201 and again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert len(client.get("/api/v1/bookings", headers=me).json()) == 1
    other = book(client, me, tutor_id, slot + timedelta(hours=2), **{"Idempotency-Key": "click-1"})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"


def test_roles_and_ownership(client: TestClient[Any]) -> None:
    tutor_id, tutor = approved_tutor(client)
    _, me = student(client)
    _, stranger = student(client)
    other_tutor = account(client, "tutor")
    refused = book(client, tutor, tutor_id, local_slot(BERLIN, 2, 10))
    assert refused.status_code == 403 and refused.json()["code"] == "student_only"
    windows = {"windows": [{"weekday": "MO", "start": "09:00", "end": "10:00"}]}
    assert (
        client.put("/api/v1/tutors/me/availability/weekly", json=windows, headers=me).status_code
        == 403
    )
    booking = book(client, me, tutor_id, local_slot(BERLIN, 2, 10)).json()
    for headers in (stranger, other_tutor):
        assert client.get(f"/api/v1/bookings/{booking['id']}", headers=headers).status_code == 404
        cancel = client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=headers)
        assert cancel.status_code == 404
    assert client.get(f"/api/v1/bookings/{booking['id']}", headers=tutor).status_code == 200
    # A tutor's own availability is theirs alone: someone else's override id is 404.
    override = client.post(
        "/api/v1/tutors/me/availability/overrides",
        json={
            "date": (datetime.now(UTC) + timedelta(days=5)).date().isoformat(),
            "kind": "unavailable",
        },
        headers=tutor,
    ).json()
    assert (
        client.delete(
            f"/api/v1/tutors/me/availability/overrides/{override['id']}", headers=other_tutor
        ).status_code
        == 404
    )


def _confirm(client: TestClient[Any], booking_id: int) -> None:
    admin = account(client, "admin")
    response = client.post(
        f"/api/v1/bookings/{booking_id}/events", json={"event": "confirm"}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "confirmed"


def test_cancellation_refunds_follow_the_policy(client: TestClient[Any]) -> None:
    all_day = [(d, "00:00", "24:00") for d in ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]]
    tutor_id, tutor = approved_tutor(client, windows=all_day)
    _, me = student(client)
    early = book(client, me, tutor_id, local_slot(BERLIN, 5, 10)).json()
    soon = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=3)
    soon += timedelta(minutes=-soon.minute % 30)
    late = book(client, me, tutor_id, soon).json()
    by_tutor = book(client, me, tutor_id, local_slot(BERLIN, 6, 10)).json()
    for b in (early, late, by_tutor):
        assert "id" in b, b
        _confirm(client, b["id"])
    quote = client.get(f"/api/v1/bookings/{late['id']}/refund-quote", headers=me).json()
    assert quote["refund_minor"] == 0 and quote["event"] == "student_cancel"
    cancelled = client.post(
        f"/api/v1/bookings/{early['id']}/cancel", json={"reason": "ill"}, headers=me
    ).json()
    assert cancelled["status"] == "cancelled_by_student" and cancelled["refund_minor"] == 4500
    late_cancel = client.post(f"/api/v1/bookings/{late['id']}/cancel", json={}, headers=me).json()
    assert late_cancel["refund_minor"] == 0
    waived = client.post(
        f"/api/v1/bookings/{late['id']}/events", json={"event": "waive_fee"}, headers=tutor
    ).json()
    assert waived["refund_minor"] == 4500 and waived["status"] == "cancelled_by_student"
    tutor_cancel = client.post(
        f"/api/v1/bookings/{by_tutor['id']}/cancel", json={}, headers=tutor
    ).json()
    assert tutor_cancel["status"] == "cancelled_by_tutor" and tutor_cancel["refund_minor"] == 4500
    again = client.post(f"/api/v1/bookings/{early['id']}/cancel", json={}, headers=me)
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    assert again.json()["fields"]["status"] == "cancelled_by_student"
    # The freed slot can be booked again.
    assert book(client, me, tutor_id, local_slot(BERLIN, 5, 10)).status_code == 201


def test_reschedule_is_proposed_and_accepted(client: TestClient[Any]) -> None:
    tutor_id, tutor = approved_tutor(client)
    _, me = student(client)
    booking = book(client, me, tutor_id, local_slot(BERLIN, 3, 10)).json()
    new_time = local_slot(BERLIN, 4, 15)
    proposed = client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"starts_at": iso(new_time)},
        headers=me,
    )
    assert proposed.status_code == 201, proposed.text
    request_id = proposed.json()["reschedule"]["id"]
    own = client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule/{request_id}/accept", headers=me
    )
    assert own.status_code == 403
    accepted = client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule/{request_id}/accept", headers=tutor
    )
    assert accepted.status_code == 200, accepted.text
    assert datetime.fromisoformat(accepted.json()["starts_at"]) == new_time
    assert accepted.json()["reschedule"] is None
    # The old time is free again.
    assert book(client, student(client)[1], tutor_id, local_slot(BERLIN, 3, 10)).status_code == 201


def test_weekly_series_keeps_local_time_and_is_all_or_nothing(client: TestClient[Any]) -> None:
    tutor_id, _ = approved_tutor(client, rules={"booking_window_days": 120})
    _, me = student(client)
    _, other = student(client)
    first = local_slot(BERLIN, 2, 17)
    series = client.post(
        "/api/v1/bookings/series",
        json={"tutor_id": tutor_id, "starts_at": iso(first), "duration_minutes": 60, "weeks": 12},
        headers=me,
    )
    assert series.status_code == 201, series.text
    lessons = series.json()
    assert len(lessons) == 12 and len({b["series_id"] for b in lessons}) == 1
    for b in lessons:
        local = datetime.fromisoformat(b["starts_at"]).astimezone(ZoneInfo(BERLIN))
        assert (local.hour, local.minute) == (17, 0)  # across any DST change in between
    # Another student's series clashing in week 3 is refused before anything is held.
    clash = client.post(
        "/api/v1/bookings/series",
        json={
            "tutor_id": tutor_id,
            "starts_at": iso(first - timedelta(weeks=2) + timedelta(minutes=30)),
            "duration_minutes": 60,
            "weeks": 4,
        },
        headers=other,
    )
    assert clash.status_code in (409, 422)
    assert client.get("/api/v1/bookings", headers=other).json() == []
    too_long = client.post(
        "/api/v1/bookings/series",
        json={"tutor_id": tutor_id, "starts_at": iso(first), "duration_minutes": 60, "weeks": 13},
        headers=other,
    )
    assert too_long.status_code == 422


def test_series_clash_names_the_weeks(client: TestClient[Any]) -> None:
    tutor_id, _ = approved_tutor(client)
    _, me = student(client)
    _, other = student(client)
    first = local_slot(BERLIN, 2, 17)
    assert book(client, other, tutor_id, first + timedelta(weeks=2)).status_code == 201
    clash = client.post(
        "/api/v1/bookings/series",
        json={"tutor_id": tutor_id, "starts_at": iso(first), "duration_minutes": 60, "weeks": 4},
        headers=me,
    )
    assert clash.status_code == 409 and clash.json()["code"] == "series_clash"
    assert list(clash.json()["fields"]) == [(first + timedelta(weeks=2)).isoformat()]
    assert client.get("/api/v1/bookings", headers=me).json() == []


def test_hold_expires_and_frees_the_slot(client: TestClient[Any]) -> None:
    from tests.helpers import run_async

    tutor_id, _ = approved_tutor(client)
    _, me = student(client)
    _, other = student(client)
    slot = local_slot(BERLIN, 3, 10)
    booking = book(client, me, tutor_id, slot).json()
    sql(
        client,
        "UPDATE bookings SET hold_expires_at = now() - interval '1 minute' WHERE id = $1",
        booking["id"],
    )
    # Another student may take it at once: the stale hold is expired on the way.
    assert book(client, other, tutor_id, slot).status_code == 201
    assert client.get(f"/api/v1/bookings/{booking['id']}", headers=me).json()["status"] == "expired"
    # ...and the sweep job expires the others.
    late = book(client, me, tutor_id, local_slot(BERLIN, 4, 10)).json()
    sql(
        client,
        "UPDATE bookings SET hold_expires_at = now() - interval '1 minute' WHERE id = $1",
        late["id"],
    )
    services = client.app.state.services
    from scheduling.changes import run_timed_transitions

    async def sweep() -> dict[str, int]:
        from marketplace import db

        engine = db.create_engine(services.settings.database.url, pool_size=1)
        try:
            async with db.create_session_factory(engine)() as session, session.begin():
                return await run_timed_transitions(session, dispute_window=timedelta(hours=72))
        finally:
            await engine.dispose()

    assert run_async(sweep())["expire"] == 1
    assert client.get(f"/api/v1/bookings/{late['id']}", headers=me).json()["status"] == "expired"
    paid_late = client.post(
        f"/api/v1/bookings/{late['id']}/events",
        json={"event": "confirm"},
        headers=account(client, "admin"),
    )
    assert paid_late.status_code == 409 and paid_late.json()["fields"]["status"] == "expired"


def test_a_hold_is_few_round_trips(client: TestClient[Any]) -> None:
    """Each statement is a round trip, and round trips are most of a hold's cost: the token
    lookup is one statement outside any transaction (on the pool without the pre-ping), then
    one transaction of four: the checks and the tutor, the calendar, the booking, its
    transition row. Lapsed holds are looked for by the checks; the locking read that ends them
    runs only when there is one."""
    tutor_id, _ = approved_tutor(client)
    _, me = student(client)
    book(client, me, tutor_id, local_slot(BERLIN, 3, 10))  # the token's use is now recorded
    services = client.app.state.services
    engines = [services.engine.sync_engine, services.hot_engine.sync_engine]
    seen: list[tuple[str, bool]] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        in_transaction = conn.connection.driver_connection.is_in_transaction()
        seen.append((statement.split()[0], in_transaction))

    for engine in engines:
        event.listen(engine, "after_cursor_execute", record)
    try:
        held = book(client, me, tutor_id, local_slot(BERLIN, 4, 10))
    finally:
        for engine in engines:
            event.remove(engine, "after_cursor_execute", record)
    assert held.status_code == 201, held.text
    assert held.json()["student"]["name"] and held.json()["tutor"]["name"]
    assert seen == [
        ("SELECT", False),  # the token
        ("SELECT", True),  # the checks and the tutor
        ("SELECT", True),  # the calendar
        ("INSERT", True),
        ("INSERT", True),
    ]


def test_a_lapsed_hold_of_the_student_in_a_later_week_of_a_series_is_ended(
    client: TestClient[Any],
) -> None:
    """The hold's checks look for lapsed holds across every week of a series, on the student's
    side too (their own lapsed hold with another tutor at the same time)."""
    first_tutor, _ = approved_tutor(client)
    second_tutor, _ = approved_tutor(client)
    _, me = student(client)
    first = local_slot(BERLIN, 3, 10)
    lapsed = book(client, me, first_tutor, first + timedelta(weeks=2)).json()
    sql(
        client,
        "UPDATE bookings SET hold_expires_at = now() - interval '1 minute' WHERE id = $1",
        lapsed["id"],
    )
    series = client.post(
        "/api/v1/bookings/series",
        json={
            "tutor_id": second_tutor,
            "starts_at": iso(first),
            "duration_minutes": 60,
            "weeks": 3,
        },
        headers=me,
    )
    assert series.status_code == 201, series.text
    assert client.get(f"/api/v1/bookings/{lapsed['id']}", headers=me).json()["status"] == "expired"


def test_the_token_lookup_survives_a_database_restart(client: TestClient[Any]) -> None:
    """The lookup's pool does not ping before lending a connection: one that died is dropped
    and the lookup tried again, so the first request after a restart still succeeds."""
    _, me = student(client)
    assert client.get("/api/v1/bookings", headers=me).status_code == 200
    sql(
        client,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    assert client.get("/api/v1/bookings", headers=me).status_code == 200
