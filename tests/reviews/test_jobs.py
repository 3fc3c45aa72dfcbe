"""A completed lesson invites its student to review it, once; review settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.settings import ConfigError, ReviewSettings, Settings
from marketplace.tasks import DramatiqQueue
from reviews import jobs
from tests.conftest import run_jobs
from tests.reviews.helpers import completed_lesson, review
from tests.scheduling.helpers import sql


def _invites(client: TestClient[Any], headers: dict[str, str]) -> list[dict[str, Any]]:
    items = client.get("/api/v1/me/notifications", headers=headers).json()["items"]
    return [n for n in items if n["kind"] == "review.invite"]


def test_completion_invites_the_student_once(client: TestClient[Any], queue: DramatiqQueue) -> None:
    lesson = completed_lesson(client)
    run_jobs(queue)
    invites = _invites(client, lesson.student)
    assert len(invites) == 1 and invites[0]["link"] == f"/lessons/{lesson.booking_id}/review"
    queue.enqueue(jobs.INVITE_TASK, lesson.booking_id)  # a retry, or a duplicate message
    run_jobs(queue)
    assert len(_invites(client, lesson.student)) == 1
    assert _invites(client, lesson.tutor.headers) == []


def test_no_invite_when_reviewed_or_too_late(client: TestClient[Any], queue: DramatiqQueue) -> None:
    reviewed = completed_lesson(client)
    review(client, reviewed)
    late = completed_lesson(client, reviewed.tutor, ended_ago=timedelta(days=20))
    run_jobs(queue)
    assert _invites(client, reviewed.student) == []
    assert _invites(client, late.student) == []


def test_review_windows_are_settings(client: TestClient[Any], queue: DramatiqQueue) -> None:
    assert Settings.from_env({}).reviews == ReviewSettings(window_days=14, edit_hours=48)
    custom = Settings.from_env({"REVIEW_WINDOW_DAYS": "30", "REVIEW_EDIT_HOURS": "0"}).reviews
    assert (custom.window_days, custom.edit_hours) == (30, 0)
    with pytest.raises(ConfigError, match="REVIEW_WINDOW_DAYS"):
        Settings.from_env({"REVIEW_WINDOW_DAYS": "0"})
    with pytest.raises(ConfigError, match="REVIEW_EDIT_HOURS"):
        Settings.from_env({"REVIEW_EDIT_HOURS": "soon"})


def test_a_longer_window_lets_a_late_review_in(settings: Settings, database_url: str) -> None:
    from dataclasses import replace

    from litestar.testing import TestClient as Client

    from marketplace.app import build_queue, create_app
    from marketplace.tasks import build_broker

    longer = replace(settings, reviews=ReviewSettings(window_days=30, edit_hours=1))
    app = create_app(longer, queue=build_queue(longer, build_broker(None)))
    with Client(app, base_url="http://127.0.0.1:8000") as client:
        lesson = completed_lesson(client, ended_ago=timedelta(days=20))
        created = review(client, lesson)
        assert created.status_code == 201
        until = datetime.fromisoformat(created.json()["editable_until"])
        assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)
        sql(
            client,
            "UPDATE reviews SET created_at = now() - interval '61 minutes' WHERE id = $1",
            created.json()["id"],
        )
        late = client.put(
            f"/api/v1/reviews/{created.json()['id']}", json={"rating": 2}, headers=lesson.student
        )
        assert late.status_code == 409 and late.json()["code"] == "edit_window_closed"
