from __future__ import annotations

from typing import Any

import av
from litestar.testing import TestClient

from marketplace import places
from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.helpers import COMPLETE_PROFILE, account
from tests.media_factory import png, wav


def _porto() -> int:
    city = places.find_city("Porto", "PT")
    assert city is not None
    return city.geoname_id


def _complete(client: TestClient[Any], headers: dict[str, str]) -> dict[str, Any]:
    body = {**COMPLETE_PROFILE, "city_geoname_id": _porto()}
    response = client.put("/api/v1/tutors/me/profile", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_tutor_edits_profile(client: TestClient[Any]) -> None:
    tutor = account(client, "tutor")
    profile = _complete(client, tutor)
    assert profile["status"] == "draft"
    assert profile["location"]["city"] == "Porto"
    assert profile["location"]["country_code"] == "PT"
    assert profile["instruments"][0]["levels"][0] == {"slug": "beginner", "name": "Beginner"}
    assert [p["price_minor"] for p in profile["prices"]] == [2500, 4500]
    assert profile["prices"][0]["currency"] == "EUR"
    assert {"photo" in m or "audio" in m for m in profile["completeness"]["missing"]} == {True}
    assert 0 < profile["completeness"]["percent"] < 100


def test_bio_is_sanitised(client: TestClient[Any]) -> None:
    tutor = account(client, "tutor")
    body = {
        **COMPLETE_PROFILE,
        "city_geoname_id": _porto(),
        "bio": "**Hi** <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://a.example)",
    }
    html = client.put("/api/v1/tutors/me/profile", json=body, headers=tutor).json()["bio_html"]
    assert "<strong>Hi</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert 'href="javascript' not in html
    assert 'href="https://a.example"' in html


def test_invalid_profile_names_each_field(client: TestClient[Any]) -> None:
    tutor = account(client, "tutor")
    body = {
        "display_name": "X",
        "instruments": [{"instrument": "theremin-ish", "levels": []}],
        "genres": ["nope"],
        "languages": ["xx"],
        "formats": ["student_home"],
        "prices": [{"duration_minutes": 50, "price_minor": 0}],
        "trial_price_minor": -5,
    }
    response = client.put("/api/v1/tutors/me/profile", json=body, headers=tutor)
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert {
        "display_name",
        "instruments[0].instrument",
        "instruments[0].levels",
        "genres",
        "languages",
        "travel_radius_km",
        "city_geoname_id",
        "prices[0].duration_minutes",
        "prices[0].price_minor",
        "trial_price_minor",
    } <= set(fields)
    # nothing was stored
    assert client.get("/api/v1/tutors/me/profile", headers=tutor).json()["genres"] == []


def test_review_flow_makes_tutor_public(client: TestClient[Any]) -> None:
    tutor = account(client, "tutor")
    admin = account(client, "admin")
    me = client.get("/api/v1/tutors/me/profile", headers=tutor).json()
    early = client.post("/api/v1/tutors/me/submit", headers=tutor)
    assert early.status_code == 422  # empty draft
    _complete(client, tutor)
    assert client.get(f"/api/v1/tutors/{me['id']}").status_code == 404
    submitted = client.post("/api/v1/tutors/me/submit", headers=tutor)
    assert submitted.status_code == 200 and submitted.json()["status"] == "pending"
    assert client.post("/api/v1/tutors/me/submit", headers=tutor).status_code == 409

    pending = client.get("/api/v1/admin/tutors/pending", headers=admin).json()
    assert [p["id"] for p in pending] == [me["id"]]
    no_reason = client.post(
        f"/api/v1/admin/tutors/{me['id']}/moderation", headers=admin, json={"action": "reject"}
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["fields"]
    rejected = client.post(
        f"/api/v1/admin/tutors/{me['id']}/moderation",
        headers=admin,
        json={"action": "reject", "reason": "Please add your teaching experience."},
    )
    assert rejected.json()["status"] == "rejected"
    assert (
        client.get("/api/v1/tutors/me/profile", headers=tutor)
        .json()["status_reason"]
        .startswith("Please")
    )
    client.post("/api/v1/tutors/me/submit", headers=tutor)
    approved = client.post(
        f"/api/v1/admin/tutors/{me['id']}/moderation", headers=admin, json={"action": "approve"}
    )
    assert approved.json()["status"] == "approved"

    public = client.get(f"/api/v1/tutors/{me['id']}")
    assert public.status_code == 200
    assert "status" not in public.json() and "bio" not in public.json()
    listing = client.get("/api/v1/tutors").json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == me["id"]

    suspended = client.post(
        f"/api/v1/admin/tutors/{me['id']}/moderation",
        headers=admin,
        json={"action": "suspend", "reason": "Reported for no-shows."},
    )
    assert suspended.json()["status"] == "suspended"
    assert client.get(f"/api/v1/tutors/{me['id']}").status_code == 404
    assert client.get("/api/v1/tutors").json()["total"] == 0
    edit = client.put(
        "/api/v1/tutors/me/profile",
        headers=tutor,
        json={**COMPLETE_PROFILE, "city_geoname_id": _porto()},
    )
    assert edit.status_code == 403 and edit.json()["code"] == "tutor_suspended"


def test_moderating_unknown_tutor_is_404(client: TestClient[Any]) -> None:
    admin = account(client, "admin")
    response = client.post(
        "/api/v1/admin/tutors/424242/moderation", headers=admin, json={"action": "approve"}
    )
    assert response.status_code == 404


def test_public_listing_pagination_validates(client: TestClient[Any]) -> None:
    assert client.get("/api/v1/tutors?page=0").status_code == 422
    assert client.get("/api/v1/tutors?per_page=1000").json()["fields"].keys() == {"per_page"}
    assert client.get("/api/v1/tutors/999999").status_code == 404


def test_photo_upload_makes_thumbnails(client: TestClient[Any]) -> None:
    tutor = account(client, "tutor")
    response = client.post(
        "/api/v1/tutors/me/photo",
        headers=tutor,
        files={"data": ("me.png", png(800, 600), "image/png")},
    )
    assert response.status_code == 200, response.text
    photo = response.json()["photo"]
    for size, px in [("large", 640), ("medium", 320), ("small", 96)]:
        served = client.get(photo[size])
        assert served.status_code == 200
        import io

        from PIL import Image

        image = Image.open(io.BytesIO(served.content))
        assert image.format == "WEBP" and image.size == (px, px)


def test_bad_photos_are_422_and_store_nothing(client: TestClient[Any]) -> None:
    tutor = account(client, "tutor")
    cases = [
        ("notes.pdf", b"%PDF-1.4 not an image", "application/pdf"),
        ("tiny.png", png(50, 50), "image/png"),
        ("huge.png", b"\x89PNG" + b"0" * (5 * 1024 * 1024 + 10), "image/png"),
    ]
    for name, content, kind in cases:
        response = client.post(
            "/api/v1/tutors/me/photo", headers=tutor, files={"data": (name, content, kind)}
        )
        assert response.status_code == 422, (name, response.text)
        assert "photo" in response.json()["fields"]
    assert client.get("/api/v1/tutors/me/profile", headers=tutor).json()["photo"] is None
    media_root = client.app.state.services.settings.media.root
    assert not list(media_root.rglob("*.webp"))


def test_audio_sample_is_transcoded_by_a_job(client: TestClient[Any], queue: DramatiqQueue) -> None:
    tutor = account(client, "tutor")
    response = client.post(
        "/api/v1/tutors/me/audio-sample",
        headers=tutor,
        files={"data": ("take1.wav", wav(2.0), "audio/wav")},
    )
    assert response.status_code == 202, response.text
    assert response.json()["audio_sample"]["status"] == "processing"
    run_jobs(queue)
    sample = client.get("/api/v1/tutors/me/profile", headers=tutor).json()["audio_sample"]
    assert sample["status"] == "ready", sample
    assert abs(sample["duration_seconds"] - 2.0) < 0.1
    served = client.get(sample["url"])
    assert served.status_code == 200
    media_root = client.app.state.services.settings.media.root
    path = media_root / sample["url"].removeprefix("/media/")
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert stream.codec_context.channels == 2
        assert stream.codec_context.sample_rate == 48_000


def test_transcode_job_is_idempotent(client: TestClient[Any], queue: DramatiqQueue) -> None:
    tutor = account(client, "tutor")
    client.post(
        "/api/v1/tutors/me/audio-sample",
        headers=tutor,
        files={"data": ("take1.wav", wav(1.5), "audio/wav")},
    )
    run_jobs(queue)
    first = client.get("/api/v1/tutors/me/profile", headers=tutor).json()["audio_sample"]
    sample_id = 1
    queue.enqueue("profiles.transcode_audio_sample", sample_id)
    run_jobs(queue)
    again = client.get("/api/v1/tutors/me/profile", headers=tutor).json()["audio_sample"]
    assert again == first


def test_bad_audio_is_422(client: TestClient[Any], settings: Any) -> None:
    tutor = account(client, "tutor")
    not_audio = client.post(
        "/api/v1/tutors/me/audio-sample",
        headers=tutor,
        files={"data": ("x.wav", png(), "audio/wav")},
    )
    assert not_audio.status_code == 422 and "audio" in not_audio.json()["fields"]
    limit = settings.media.max_audio_seconds
    too_long = client.post(
        "/api/v1/tutors/me/audio-sample",
        headers=tutor,
        files={"data": ("long.wav", wav(limit + 5, rate=8000), "audio/wav")},
    )
    assert too_long.status_code == 422
    assert "seconds" in too_long.json()["fields"]["audio"]
    assert client.get("/api/v1/tutors/me/profile", headers=tutor).json()["audio_sample"] is None


def test_student_profile_validation(client: TestClient[Any]) -> None:
    student = account(client, "student")
    bad = client.put(
        "/api/v1/students/me/profile",
        headers=student,
        json={"instruments": [{"instrument": "piano", "level": "pro"}]},
    )
    assert bad.status_code == 422
    assert set(bad.json()["fields"]) == {"instruments[0].level"}
    moved = client.put("/api/v1/students/me/profile", headers=student, json={"phone": "+1"})
    assert moved.status_code == 422  # the number lives on the account now (/api/v1/me/phone)
    ok = client.put(
        "/api/v1/students/me/profile",
        headers=student,
        json={"instruments": [{"instrument": "piano", "level": "beginner"}]},
    )
    assert ok.status_code == 200
    assert ok.json() == {"instruments": [{"instrument": "piano", "level": "beginner"}]}


def test_vocabulary_and_city_lookup(client: TestClient[Any]) -> None:
    vocab = client.get("/api/v1/vocabulary").json()
    assert any(t["slug"] == "saxophone" and "sax" in t["synonyms"] for t in vocab["instruments"])
    cities = client.get("/api/v1/places/cities?q=porto").json()
    assert cities[0]["name"] == "Porto" and cities[0]["country_code"] == "PT"
    assert client.get("/api/v1/places/cities").status_code == 422


def test_lost_transcode_job_is_requeued_when_a_worker_starts(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    from marketplace.app import startup_tasks
    from tests.helpers import run_sql

    tutor = account(client, "tutor")
    client.post(
        "/api/v1/tutors/me/audio-sample",
        headers=tutor,
        files={"data": ("take1.wav", wav(1.2), "audio/wav")},
    )
    queue.broker.flush_all()  # the enqueue after commit was lost
    run_sql(client, "UPDATE audio_samples SET updated_at = now() - interval '1 hour'")
    for task in startup_tasks():
        queue.enqueue(task)
    run_jobs(queue)
    sample = client.get("/api/v1/tutors/me/profile", headers=tutor).json()["audio_sample"]
    assert sample["status"] == "ready"
