"""Personal data: the export, the account deletion and the retention purge, on real PostgreSQL."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table

import marketplace.app  # noqa: F401 - every package's models join the metadata
from marketplace.app import build_queue
from marketplace.db import Base
from marketplace.privacy import erasure
from marketplace.privacy import jobs as privacy_jobs
from marketplace.privacy.registry import BY_TABLE, USER_COLUMNS_WITHOUT_FOREIGN_KEY
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue, build_broker
from tests.conftest import run_jobs
from tests.helpers import PASSWORD, confirm_phone, fetch_sql, login, register, run_async
from tests.media_factory import png
from tests.payouts.flow import Env, paid_booking, settle
from tests.scheduling.helpers import approved_tutor

STUDENT_NAME = "Wilhelmina Okonkwo-Frost"
STUDENT_EMAIL = "wilhelmina.frost@example.org"
STUDENT_PHONE = "+351912345678"
SECRET_LINE = "my practice room is behind the bakery on Rua Augusta"
TUTOR_LINE = "Bring the Czerny book and a pencil next time"
CALENDAR = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nEND:VCALENDAR\r\n"


# --- the registry covers the schema --------------------------------------------------------


def user_columns(metadata: MetaData) -> dict[str, set[str]]:
    """Columns that name a user: a foreign key to ``users.id``, or to a column that is itself
    one (a profile's key), followed to any depth."""
    user_like = {("users", "id")}
    found: dict[str, set[str]] = {}
    grew = True
    while grew:
        grew = False
        for table in metadata.tables.values():
            for column in table.columns:
                for fk in column.foreign_keys:
                    target = (fk.column.table.name, fk.column.name)
                    if target in user_like and (table.name, column.name) not in user_like:
                        if column.primary_key or column.unique:
                            user_like.add((table.name, column.name))
                            grew = True
                        found.setdefault(table.name, set()).add(column.name)
                        if (table.name, column.name) not in user_like:
                            user_like.add((table.name, column.name))
                            grew = True
    return found


def uncovered(metadata: MetaData) -> list[str]:
    naming = set(user_columns(metadata)) - {"users"}
    naming |= set(USER_COLUMNS_WITHOUT_FOREIGN_KEY)
    return sorted(naming - set(BY_TABLE))


def test_every_table_naming_a_user_is_in_the_registry() -> None:
    assert uncovered(Base.metadata) == []
    # Every registry entry is a real table (a renamed table must be renamed here too).
    assert set(BY_TABLE) <= set(Base.metadata.tables)


def test_a_new_table_pointing_at_users_is_caught() -> None:
    copy = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(copy)
    Table(
        "practice_goals",
        copy,
        Column("id", Integer, primary_key=True),
        Column("student_id", ForeignKey("users.id")),
    )
    Table(
        "tutor_badges",
        copy,
        Column("id", Integer, primary_key=True),
        Column("tutor_id", ForeignKey("tutor_profiles.user_id")),
    )
    assert uncovered(copy) == ["practice_goals", "tutor_badges"]


# --- helpers -------------------------------------------------------------------------------


def demo_env(client: TestClient[Any], queue: DramatiqQueue) -> Env:
    return Env(client, queue, None)  # the demo gateway: payments complete locally


def named_student(client: TestClient[Any]) -> tuple[int, dict[str, str]]:
    user = register(client, "student", full_name=STUDENT_NAME, email=STUDENT_EMAIL)
    return user["id"], login(client, STUDENT_EMAIL)


def talk(client: TestClient[Any], me: dict[str, str], tutor: dict[str, str], tutor_id: int) -> int:
    started = client.post(
        "/api/v1/conversations", json={"user_id": tutor_id, "body": SECRET_LINE}, headers=me
    )
    assert started.status_code == 201, started.text
    cid = int(started.json()["conversation"]["id"])
    answer = client.post(
        f"/api/v1/conversations/{cid}/messages", json={"body": TUTOR_LINE}, headers=tutor
    )
    assert answer.status_code == 201, answer.text
    return cid


def attach(client: TestClient[Any], me: dict[str, str], cid: int) -> None:
    upload = client.post(
        f"/api/v1/conversations/{cid}/attachments",
        files={"data": ("my-scales.png", png(300, 200))},
        headers=me,
    )
    assert upload.status_code == 201, upload.text
    sent = client.post(
        f"/api/v1/conversations/{cid}/messages",
        json={"body": "", "attachment_ids": [upload.json()["id"]]},
        headers=me,
    )
    assert sent.status_code == 201, sent.text


def export_zip(client: TestClient[Any], queue: DramatiqQueue, headers: dict[str, str]) -> Any:
    asked = client.post("/api/v1/me/data-exports", headers=headers)
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "pending"
    run_jobs(queue)
    ready = client.get(f"/api/v1/me/data-exports/{asked.json()['id']}", headers=headers).json()
    assert ready["status"] == "ready", ready
    got = client.get(ready["download_url"], headers=headers)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/zip")
    return ready, zipfile.ZipFile(io.BytesIO(got.content))


def scan(client: TestClient[Any], needle: str) -> list[str]:
    """Tables where any row's text (every column, JSON and arrays included) contains
    ``needle``, case-insensitively."""
    tables = fetch_sql(
        client,
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename <> 'alembic_version'",
    )
    hits = []
    for row in tables:
        name = row["tablename"]
        count = fetch_sql(
            client,
            f'SELECT count(*) AS n FROM "{name}" t WHERE t::text ILIKE $1',  # noqa: S608
            f"%{needle}%",
        )[0]["n"]
        if count:
            hits.append(name)
    return hits


# --- export --------------------------------------------------------------------------------


def test_export_holds_my_data_and_files_and_nothing_private_of_others(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    env = demo_env(client, queue)
    booking, payment, tutor_id, tutor, _ = paid_booking(env)
    _, me = named_student(client)
    cid = talk(client, me, tutor, tutor_id)
    attach(client, me, cid)
    photo = client.post(
        "/api/v1/tutors/me/photo",
        files={"data": ("me.png", png(800, 600), "image/png")},
        headers=tutor,
    )
    assert photo.status_code == 200, photo.text
    calendar = client.post(
        "/api/v1/tutors/me/calendars/upload",
        files={"data": ("busy.ics", CALENDAR, "text/calendar")},
        headers=tutor,
    )
    assert calendar.status_code == 202, calendar.text
    # Someone else's conversation with the same tutor stays out of my export.
    _, stranger = approved_tutor(client)
    other = register(client, "student")
    other_headers = login(client, other["email"])
    client.post(
        "/api/v1/conversations",
        json={"user_id": tutor_id, "body": "a line nobody else may read"},
        headers=other_headers,
    )

    ready, archive = export_zip(client, queue, me)
    # A second request while one is built is refused; once it is ready, a new one may start.
    asked = client.post("/api/v1/me/data-exports", headers=me)
    assert asked.status_code == 202
    again = client.post("/api/v1/me/data-exports", headers=me)
    assert again.status_code == 409 and again.json()["code"] == "export_in_progress"
    run_jobs(queue)

    names = archive.namelist()
    document = json.loads(archive.read("data.json"))
    text = json.dumps(document)
    tables = document["tables"]
    assert tables["users"][0]["email"] == STUDENT_EMAIL
    assert "password_hash" not in tables["users"][0]
    assert all("token_hash" not in row for row in tables["auth_tokens"])
    bodies = {m["body"] for m in tables["messages"]}
    assert SECRET_LINE in bodies and TUTOR_LINE in bodies  # both sides of my conversation
    assert "a line nobody else may read" not in text
    assert [c["id"] for c in tables["conversations"]] == [cid]
    assert tables["attachments"][0]["filename"] == "my-scales.png"
    assert any(n.startswith("files/attachments/") and n.endswith("my-scales.png") for n in names)
    assert len(tables["audit_entries"]) == 1  # the export request itself
    # The tutor's e-mail address and other accounts' rows are not mine to take.
    tutor_email = fetch_sql(client, "SELECT email FROM users WHERE id = $1", tutor_id)[0][0]
    assert tutor_email not in text
    assert other["email"] not in text
    assert "README.txt" in names

    # The tutor's export: the lesson, its payment, their ledger lines, the photo.
    _, tutor_zip = export_zip(client, queue, tutor)
    tutor_doc = json.loads(tutor_zip.read("data.json"))["tables"]
    assert [b["id"] for b in tutor_doc["bookings"]] == [booking["id"]]
    assert [p["id"] for p in tutor_doc["payments"]] == [payment["id"]]
    assert all("client_secret" not in p for p in tutor_doc["payments"])
    assert tutor_doc["ledger_entries"] and all(
        e["party_id"] == tutor_id for e in tutor_doc["ledger_entries"]
    )
    # An approved tutor's new photo waits for review; it is theirs all the same.
    assert "files/photo-pending.webp" in tutor_zip.namelist()
    ics = tutor_zip.read(f"files/calendars/{calendar.json()['id']}.ics")
    assert ics == CALENDAR

    # Nobody else downloads it, not even knowing its number; anonymous callers are told to log in.
    url = ready["download_url"]
    assert client.get(url, headers=stranger).status_code == 404
    assert client.get(url, headers=other_headers).status_code == 404
    assert client.get(f"/api/v1/me/data-exports/{ready['id']}", headers=tutor).status_code == 404
    assert client.get(url).status_code == 401
    # The owner is told, with a link to the page that has the download.
    notes = client.get("/api/v1/me/notifications", headers=me).json()["items"]
    assert any(n["kind"] == "data_export" and n["link"] == "/account#your-data" for n in notes)


def test_an_expired_export_is_gone(client: TestClient[Any], queue: DramatiqQueue) -> None:
    _, me = named_student(client)
    ready, _ = export_zip(client, queue, me)
    key = fetch_sql(client, "SELECT file_key FROM data_exports")[0][0]
    fetch_sql(client, "UPDATE data_exports SET expires_at = now() - interval '1 minute'")
    refused = client.get(ready["download_url"], headers=me)
    assert refused.status_code == 410 and refused.json()["code"] == "export_expired"
    run_async(privacy_jobs.purge(queue.context()))
    assert fetch_sql(client, "SELECT status, file_key FROM data_exports")[0] == ("expired", None)
    assert not (client.app.state.services.settings.messaging.private_root / key).exists()


# --- deletion ------------------------------------------------------------------------------


def test_deletion_is_refused_while_a_paid_lesson_is_ahead(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    env = demo_env(client, queue)
    booking, _, _, tutor, me = paid_booking(env, days=5)
    wrong = client.post("/api/v1/me/deletion", json={"password": "not it at all"}, headers=me)
    assert wrong.status_code == 422 and "password" in wrong.json()["fields"]
    for headers in (me, tutor):
        refused = client.post("/api/v1/me/deletion", json={"password": PASSWORD}, headers=headers)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "future_lesson"
        assert "Cancel it first" in refused.json()["message"]
    # The student is told what cancelling gives back under the policy (free until 24 h before).
    status = client.get("/api/v1/me/deletion", headers=me).json()
    assert status["status"] == "blocked"
    assert "you get €45 of €45 back" in status["blockers"][0]["message"]
    assert any("ledger" in line for line in status["keeps"])
    # Nothing changed: the account still works.
    assert client.get("/api/v1/me", headers=me).status_code == 200
    # Cancelled with the policy's refund, the account may go.
    cancelled = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": ""}, headers=me
    )
    assert cancelled.status_code == 200, cancelled.text
    run_jobs(queue)
    deleted = client.post("/api/v1/me/deletion", json={"password": PASSWORD}, headers=me)
    assert deleted.status_code == 202, deleted.text
    assert deleted.json()["status"] == "pending"
    # Closed at once: the token no longer works.
    assert client.get("/api/v1/me", headers=me).status_code == 401


def erased_setup(
    client: TestClient[Any], queue: DramatiqQueue
) -> tuple[int, dict[str, str], int, dict[str, str], int]:
    """A student with a phone, a settled paid lesson, a conversation (with an attachment) and a
    review; returns (student id, headers, tutor id, tutor headers, conversation id)."""
    env = demo_env(client, queue)
    tutor_id, tutor = approved_tutor(client)
    me_id, me = named_student(client)
    confirm_phone(client, me, STUDENT_PHONE)
    from tests.payouts.flow import checkout, hold, pay

    booking = hold(env, me, tutor_id)
    pay(env, checkout(env, me, booking["id"]))
    settle(env, booking["id"])
    cid = talk(client, me, tutor, tutor_id)
    attach(client, me, cid)
    run_jobs(queue)  # notifications and texts about the messages
    review = client.post(
        f"/api/v1/lessons/{booking['id']}/review",
        json={"rating": 5, "text": f"{SECRET_LINE}, and she was great"},
        headers=me,
    )
    assert review.status_code in (200, 201), review.text
    return me_id, me, tutor_id, tutor, cid


def test_after_erasure_the_database_holds_nothing_of_the_person(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    me_id, me, _, tutor, cid = erased_setup(client, queue)
    before = {n: scan(client, n) for n in (STUDENT_NAME, STUDENT_EMAIL, STUDENT_PHONE)}
    assert all(before.values()), before  # the scan does find them while they are there
    ledger = fetch_sql(client, "SELECT count(*), sum(abs(amount_minor)) FROM ledger_entries")[0]
    files_before = fetch_sql(
        client, "SELECT storage_key FROM attachments WHERE owner_id = $1", me_id
    )
    private_root = client.app.state.services.settings.messaging.private_root
    assert files_before and (private_root / files_before[0][0]).exists()

    deleted = client.post("/api/v1/me/deletion", json={"password": PASSWORD}, headers=me)
    assert deleted.status_code == 202, deleted.text
    run_jobs(queue)

    for needle in (STUDENT_NAME, STUDENT_EMAIL, STUDENT_PHONE, SECRET_LINE, "Okonkwo"):
        assert scan(client, needle) == [], needle
    assert not (private_root / files_before[0][0]).exists()
    # What accounting needs stays whole: the same ledger legs and amounts, still balanced.
    assert fetch_sql(client, "SELECT count(*), sum(abs(amount_minor)) FROM ledger_entries")[0] == (
        ledger
    )
    assert fetch_sql(client, "SELECT sum(amount_minor) FROM ledger_entries")[0][0] == 0
    row = fetch_sql(client, "SELECT full_name, email, is_active FROM users WHERE id = $1", me_id)[0]
    assert row["full_name"] == "Former member" and not row["is_active"]
    assert row["email"].endswith(".invalid")
    # The tutor keeps their side of the conversation; the student shows as a former member.
    thread = client.get(f"/api/v1/conversations/{cid}/messages", headers=tutor)
    assert thread.status_code == 200, thread.text
    assert TUTOR_LINE in thread.text and SECRET_LINE not in thread.text
    page = client.get(f"/messages/{cid}", headers=tutor)
    assert page.status_code == 200 and "Former member" in page.text
    # The review's stars stay with the tutor, its text is gone.
    stars = fetch_sql(client, "SELECT rating, body FROM reviews WHERE student_id = $1", me_id)
    assert [tuple(r) for r in stars] == [(5, "")]
    # Nobody can log in as them, with the old address or the placeholder.
    for email in (STUDENT_EMAIL, row["email"]):
        refused = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert refused.status_code == 401
    entries = fetch_sql(
        client, "SELECT action FROM audit_entries WHERE subject_id = $1 ORDER BY id", str(me_id)
    )
    assert [e[0] for e in entries] == ["account.deletion_requested", "account.erased"]


def test_a_failure_half_way_leaves_the_account_whole_and_a_rerun_finishes(
    client: TestClient[Any], queue: DramatiqQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    me_id, me, _, tutor, cid = erased_setup(client, queue)
    deleted = client.post("/api/v1/me/deletion", json={"password": PASSWORD}, headers=me)
    assert deleted.status_code == 202
    queue.broker.flush_all()  # run the job by hand below instead
    messages_before = fetch_sql(client, "SELECT id, body FROM messages ORDER BY id")

    real_scrub = erasure.scrub_mentions

    async def fails_half_way(*args: Any) -> int:
        await real_scrub(*args)  # the statements ran and the scrub did its work: then it breaks
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(erasure, "scrub_mentions", fails_half_way)
    with pytest.raises(RuntimeError):
        run_async(privacy_jobs.erase_account(queue.context(), me_id))
    # Nothing of it stayed: name, messages, phone and files are all still there.
    row = fetch_sql(client, "SELECT full_name, email FROM users WHERE id = $1", me_id)[0]
    assert tuple(row) == (STUDENT_NAME, STUDENT_EMAIL)
    assert fetch_sql(client, "SELECT id, body FROM messages ORDER BY id") == messages_before
    assert scan(client, STUDENT_PHONE)
    keys = fetch_sql(client, "SELECT storage_key FROM attachments WHERE owner_id = $1", me_id)
    private_root = client.app.state.services.settings.messaging.private_root
    assert keys and all((private_root / k[0]).exists() for k in keys)
    state = fetch_sql(client, "SELECT attempts, last_error, erased_at FROM account_deletions")[0]
    assert tuple(state) == (1, "RuntimeError", None)

    monkeypatch.setattr(erasure, "scrub_mentions", real_scrub)
    run_async(privacy_jobs.erase_account(queue.context(), me_id))
    assert scan(client, STUDENT_NAME) == [] and scan(client, SECRET_LINE) == []
    assert not any((private_root / k[0]).exists() for k in keys)
    erased = fetch_sql(client, "SELECT * FROM users WHERE id = $1", me_id)[0]
    # Running it again is harmless: nothing changes, nothing is recorded twice.
    run_async(privacy_jobs.erase_account(queue.context(), me_id))
    assert fetch_sql(client, "SELECT * FROM users WHERE id = $1", me_id)[0] == erased
    assert (
        fetch_sql(client, "SELECT count(*) FROM audit_entries WHERE action = 'account.erased'")[0][
            0
        ]
        == 1
    )
    assert TUTOR_LINE in client.get(f"/api/v1/conversations/{cid}/messages", headers=tutor).text


def test_erasing_a_tutor_spares_a_namesake(client: TestClient[Any], queue: DramatiqQueue) -> None:
    """Names are not unique: every test tutor is "Ana Sousa". Only the deleted one loses it."""
    gone_id, gone = approved_tutor(client)
    kept_id, _ = approved_tutor(client)
    deleted = client.post("/api/v1/me/deletion", json={"password": PASSWORD}, headers=gone)
    assert deleted.status_code == 202, deleted.text
    run_jobs(queue)
    names = dict(
        fetch_sql(client, "SELECT user_id, display_name FROM tutor_profiles ORDER BY user_id")
    )
    assert names == {gone_id: "Former member", kept_id: "Ana Sousa"}
    status = fetch_sql(client, "SELECT status FROM tutor_profiles WHERE user_id = $1", gone_id)
    assert status[0][0] == "suspended"
    assert client.get(f"/api/v1/tutors/{gone_id}").status_code == 404
    left = fetch_sql(client, "SELECT count(*) FROM availability_rules WHERE tutor_id = $1", gone_id)
    assert left[0][0] == 0


# --- pages ---------------------------------------------------------------------------------


def _csrf(client: TestClient[Any], path: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


def test_the_account_page_offers_the_export_and_the_deletion(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    register(client, "student", full_name=STUDENT_NAME, email=STUDENT_EMAIL)
    token = _csrf(client, "/login")
    client.post("/login", data={"_csrf_token": token, "email": STUDENT_EMAIL, "password": PASSWORD})
    page = client.get("/account")
    assert 'id="your-data"' in page.text and "Download my data" in page.text
    asked = client.post("/account/data-export", data={"_csrf_token": _csrf(client, "/account")})
    assert asked.status_code == 200 and "being prepared" in asked.text
    run_jobs(queue)
    account_page = client.get("/account").text
    link = re.search(r'href="(/api/v1/me/data-exports/\d+/download)"', account_page)
    assert link, account_page
    got = client.get(link.group(1))  # the page's session is enough to fetch it
    assert (
        got.status_code == 200
        and "data.json" in zipfile.ZipFile(io.BytesIO(got.content)).namelist()
    )
    confirm = client.get("/account/delete")
    assert "What we keep, and why" in confirm.text and "Former member" in confirm.text
    wrong = client.post(
        "/account/delete",
        data={"_csrf_token": _csrf(client, "/account/delete"), "password": "nope nope nope"},
    )
    assert wrong.status_code == 422 and 'aria-invalid="true"' in wrong.text
    done = client.post(
        "/account/delete",
        data={"_csrf_token": _csrf(client, "/account/delete"), "password": PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "account_deleted" in done.headers["location"]
    assert client.get("/account", follow_redirects=False).status_code == 303  # logged out


# --- retention -----------------------------------------------------------------------------


def test_retention_purges_old_messages_and_notifications_only_when_set(
    client: TestClient[Any], queue: DramatiqQueue, settings: Settings
) -> None:
    tutor_id, tutor = approved_tutor(client)
    _, me = named_student(client)
    cid = talk(client, me, tutor, tutor_id)
    attach(client, me, cid)
    run_jobs(queue)
    fetch_sql(client, "UPDATE messages SET created_at = now() - interval '40 days' WHERE seq <= 2")
    fetch_sql(client, "UPDATE notifications SET created_at = now() - interval '40 days'")
    old_key = fetch_sql(client, "SELECT storage_key FROM attachments")[0][0]
    counts = "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM notifications)"
    before = tuple(fetch_sql(client, counts)[0])

    # The default keeps everything.
    run_async(privacy_jobs.purge(queue.context()))
    assert tuple(fetch_sql(client, counts)[0]) == before

    keeping = replace(
        settings,
        privacy=replace(
            settings.privacy, message_retention_days=30, notification_retention_days=30
        ),
    )
    purging = build_queue(keeping, build_broker(None))
    run_async(privacy_jobs.purge(purging.context()))
    remaining = fetch_sql(client, "SELECT seq, body FROM messages ORDER BY seq")
    assert [r["seq"] for r in remaining] == [3]  # the newer message (with the attachment) stays
    assert fetch_sql(client, "SELECT count(*) FROM notifications")[0][0] == 0
    private_root = settings.messaging.private_root
    assert (private_root / old_key).exists()  # it belongs to the message that stays


def test_retention_settings_are_checked() -> None:
    assert Settings.from_env({}).privacy.message_retention_days == 0
    assert Settings.from_env({"MESSAGE_RETENTION_DAYS": "90"}).privacy.message_retention_days == 90
    from marketplace.settings import ConfigError

    with pytest.raises(ConfigError):
        Settings.from_env({"WEBHOOK_RETENTION_DAYS": "3"})
    with pytest.raises(ConfigError):
        Settings.from_env({"DATA_EXPORT_DAYS": "0"})


# --- the operator's commands ---------------------------------------------------------------


def test_an_operator_exports_and_erases_an_account_by_e_mail(
    client: TestClient[Any],
    settings: Settings,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from marketplace.cli import main

    tutor_id, tutor = approved_tutor(client)
    me_id, me = named_student(client)
    talk(client, me, tutor, tutor_id)
    monkeypatch.setenv("DATABASE_URL", settings.database.url or "")
    monkeypatch.setenv("DUET_VAR_DIR", str(settings.var_dir))
    out = tmp_path / "request.zip"
    assert main(["data", "export", "--email", STUDENT_EMAIL.upper(), "--out", str(out)]) == 0
    document = json.loads(zipfile.ZipFile(out).read("data.json"))
    assert document["tables"]["users"][0]["id"] == me_id
    assert main(["data", "erase", "--email", STUDENT_EMAIL]) == 0
    assert "Erased the account" in capsys.readouterr().out
    assert scan(client, STUDENT_NAME) == [] and scan(client, SECRET_LINE) == []
    recorded = fetch_sql(
        client, "SELECT action, actor_role FROM audit_entries WHERE subject_id = $1", str(me_id)
    )
    assert {tuple(r) for r in recorded} == {
        ("account.deletion_requested", "operator"),
        ("account.erased", "system"),
    }
    assert main(["data", "erase", "--email", STUDENT_EMAIL]) == 1  # the address is gone
    assert "No account has the e-mail address" in capsys.readouterr().err
