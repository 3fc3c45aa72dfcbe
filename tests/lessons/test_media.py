"""Course media: uploads checked (422, nothing stored), converted by a real worker job into
renditions every browser plays, HLS for long videos, failures shown and retryable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import pytest
from litestar.testing import TestClient

from marketplace.settings import Settings
from tests.conftest import run_jobs
from tests.lessons import media
from tests.lessons.helpers import course, item, module, stored_path, user
from tests.media_factory import png, wav


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Videos of 3 seconds or more get HLS here, so the test clip exercises it.
    return replace(
        settings,
        courses=replace(
            settings.courses, hls_min_seconds=3.0, max_audio_seconds=30.0, max_file_bytes=200_000
        ),
    )


def _setup(client: TestClient[Any]) -> tuple[dict[str, str], int, int]:
    _, tutor = user(client, "tutor")
    c = course(client, tutor)
    return tutor, c["id"], module(client, tutor, c["id"], "Media")


def _upload(
    client: TestClient[Any],
    tutor: dict[str, str],
    cid: int,
    iid: int,
    name: str,
    data: bytes,
    content_type: str,
) -> Any:
    return client.post(
        f"/api/v1/tutor/courses/{cid}/items/{iid}/upload",
        files={"file": (name, data, content_type)},
        headers=tutor,
    )


def _stored(settings: Settings) -> list[Path]:
    root = settings.media.root
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _probe(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as c:
        return {
            "format": c.format.name,
            "codecs": sorted(s.codec_context.name for s in c.streams),
            "seconds": (c.duration or 0) / 1e6,
            "video": [(s.codec_context.width, s.codec_context.height) for s in c.streams.video],
        }


def test_audio_is_converted_to_aac_m4a(
    client: TestClient[Any], queue: Any, settings: Settings
) -> None:
    tutor, cid, mid = _setup(client)
    audio = item(client, tutor, cid, mid, "audio", "Listen")
    r = _upload(client, tutor, cid, audio["id"], "take.wav", wav(2.0), "audio/wav")
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "processing" and r.json()["progress_percent"] == 0
    run_jobs(queue)
    status = client.get(f"/api/v1/tutor/courses/{cid}/items/{audio['id']}/media", headers=tutor)
    m = status.json()
    assert m["status"] == "ready" and m["progress_percent"] == 100 and m["url"].endswith(".m4a")
    info = _probe(stored_path(settings.media.root, m["url"]))
    assert info["codecs"] == ["aac"] and "mp4" in info["format"]
    assert 1.9 < info["seconds"] < 2.2


def test_video_becomes_h264_aac_mp4_and_hls_when_long(
    client: TestClient[Any], queue: Any, settings: Settings
) -> None:
    tutor, cid, mid = _setup(client)
    short = item(client, tutor, cid, mid, "video", "Short")
    long = item(client, tutor, cid, mid, "video", "Long")
    assert (
        _upload(
            client, tutor, cid, short["id"], "a.webm", media.video(1.0), "video/webm"
        ).status_code
        == 202
    )
    assert (
        _upload(
            client, tutor, cid, long["id"], "b.mp4", media.video(4.0, fmt="mp4"), "video/mp4"
        ).status_code
        == 202
    )
    run_jobs(queue)
    base = f"/api/v1/tutor/courses/{cid}/items"
    s = client.get(f"{base}/{short['id']}/media", headers=tutor).json()
    lg = client.get(f"{base}/{long['id']}/media", headers=tutor).json()
    assert s["status"] == lg["status"] == "ready", (s, lg)
    assert s["hls_url"] is None and lg["hls_url"].endswith("index.m3u8")
    info = _probe(stored_path(settings.media.root, lg["url"]))
    assert info["codecs"] == ["aac", "h264"] and info["video"] == [(320, 240)]
    playlist = client.get(lg["hls_url"])
    assert playlist.status_code == 200 and "#EXT-X-ENDLIST" in playlist.text
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist.text
    segment = next(line for line in playlist.text.splitlines() if line.endswith(".m4s"))
    assert client.get(lg["hls_url"].replace("index.m3u8", segment)).status_code == 200
    # Publishing now works: every media item is ready.
    for i in (short, long):
        client.put(f"{base}/{i['id']}", json={"title": i["title"], "required": True}, headers=tutor)
    assert client.post(f"/api/v1/tutor/courses/{cid}/publish", headers=tutor).status_code == 200


def test_bad_uploads_are_422_and_nothing_is_stored(
    client: TestClient[Any], settings: Settings
) -> None:
    tutor, cid, mid = _setup(client)
    audio = item(client, tutor, cid, mid, "audio", "A")
    video = item(client, tutor, cid, mid, "video", "V")
    sheet = item(client, tutor, cid, mid, "file", "Sheet")
    before = _stored(settings)
    cases = [
        (audio, "fake.mp3", b"ID3 this is not audio at all" * 50, "audio/mpeg", "audio file"),
        (audio, "clip.webm", media.video(1.0), "video/webm", "not an audio"),  # declared video
        (audio, "clip.webm", media.video(1.0), "audio/webm", "contains video"),  # real content
        (audio, "long.wav", wav(31.0), "audio/wav", "at most 30 seconds"),
        (video, "song.wav", wav(1.0), "video/mp4", "no video track"),
        (video, "pic.png", png(), "image/png", "not a video"),
        (sheet, "score.pdf", png(), "application/pdf", "not a PDF"),
        (sheet, "score.pdf", b"%PDF-1.7\n garbage without pages", "application/pdf", "damaged"),
        (sheet, "score.pdf", media.pdf() + b"0" * 200_000, "application/pdf", "at most"),
        (sheet, "score.pdf", media.pdf(), "audio/mpeg", "not a PDF"),
        (sheet, "empty.pdf", b"", "application/pdf", "empty"),
    ]
    for target, name, data, declared, message in cases:
        r = _upload(client, tutor, cid, target["id"], name, data, declared)
        assert r.status_code == 422, (name, declared, r.text)
        assert message in r.json()["fields"]["file"], (name, r.json())
    assert _stored(settings) == before
    assert (
        client.get(
            f"/api/v1/tutor/courses/{cid}/items/{audio['id']}/media", headers=tutor
        ).status_code
        == 404
    )
    ok = _upload(client, tutor, cid, sheet["id"], "scale.pdf", media.pdf(), "application/pdf")
    assert ok.status_code == 202 and ok.json()["status"] == "ready"
    assert client.get(ok.json()["url"]).content.startswith(b"%PDF-")


def test_a_failed_conversion_shows_its_reason_and_can_be_retried(
    client: TestClient[Any], queue: Any, settings: Settings
) -> None:
    tutor, cid, mid = _setup(client)
    audio = item(client, tutor, cid, mid, "audio", "Listen")
    good = wav(1.5)
    assert _upload(client, tutor, cid, audio["id"], "x.wav", good, "audio/wav").status_code == 202
    original = next(p for p in _stored(settings) if p.suffix == ".audio")
    original.write_bytes(b"the disk ate it")  # the stored file is damaged before the job runs
    run_jobs(queue)
    base = f"/api/v1/tutor/courses/{cid}/items/{audio['id']}"
    failed = client.get(f"{base}/media", headers=tutor).json()
    assert failed["status"] == "failed" and "could not be converted" in failed["error"]
    page = client.get(f"/teach/courses/{cid}/items/{audio['id']}", headers=tutor)
    assert "conversion failed" in page.text and "Retry conversion" in page.text
    original.write_bytes(good)
    retried = client.post(f"{base}/retry", headers=tutor)
    assert retried.status_code == 202 and retried.json()["status"] == "processing"
    assert client.post(f"{base}/retry", headers=tutor).status_code == 409
    run_jobs(queue)
    assert client.get(f"{base}/media", headers=tutor).json()["status"] == "ready"
    # A student never sees the tutor's error text; another tutor cannot see the media at all.
    _, other = user(client, "tutor")
    assert client.get(f"{base}/media", headers=other).status_code == 404


def test_conversion_reports_progress(tmp_path: Path) -> None:
    from lessons.courses import media as conversion

    source = tmp_path / "in.webm"
    source.write_bytes(media.video(2.0))
    probe = conversion.probe(source, "video", "video/webm", conversion.Limits(10**7, 60))
    seen: list[float] = []
    seconds, width, height = conversion.transcode_video(
        source, tmp_path / "out.mp4", probe.duration_seconds or 0, seen.append
    )
    assert (width, height) == (320, 240) and 1.9 < seconds < 2.1
    assert len(seen) >= 5 and seen == sorted(seen) and seen[0] > 0 and seen[-1] < 1
