"""Attachments: PDF scores, images and short audio, checked by content and served privately."""

from __future__ import annotations

import io
from typing import Any

from litestar.testing import TestClient
from PIL import Image
from pypdf import PdfWriter

from tests.helpers import account
from tests.marketplace.messaging.helpers import conversation, send
from tests.media_factory import png, wav


def pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def jpeg_with_location() -> bytes:
    image = Image.new("RGB", (300, 200), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (38.0, 42.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def upload(
    client: TestClient[Any], headers: dict[str, str], cid: int, name: str, data: bytes
) -> Any:
    return client.post(
        f"/api/v1/conversations/{cid}/attachments", files={"data": (name, data)}, headers=headers
    )


def test_a_score_a_photo_and_a_recording_travel_with_a_message(client: TestClient[Any]) -> None:
    cid, _, tutor, _, student = conversation(client)
    score = upload(client, tutor, cid, "Clair de Lune (easy).pdf", pdf(2))
    assert score.status_code == 201, score.text
    assert score.json()["kind"] == "pdf" and score.json()["filename"] == "Clair de Lune (easy).pdf"
    photo = upload(client, tutor, cid, "hands.jpg", jpeg_with_location())
    assert photo.status_code == 201, photo.text
    take = upload(client, tutor, cid, "take1.wav", wav(2.0))
    assert take.status_code == 201, take.text
    assert take.json()["kind"] == "audio" and 1.9 < take.json()["duration_seconds"] < 2.1
    ids = [score.json()["id"], photo.json()["id"], take.json()["id"]]
    sent = send(client, tutor, cid, "", attachment_ids=ids)
    assert sent.status_code == 201, sent.text
    assert [a["kind"] for a in sent.json()["attachments"]] == ["pdf", "image", "audio"]
    # An attachment goes with one message only.
    assert send(client, tutor, cid, "again", attachment_ids=ids[:1]).status_code == 422
    # The student downloads them; the photo lost its EXIF (location) on the way.
    got = client.get(sent.json()["attachments"][1]["url"], headers=student)
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]
    assert not Image.open(io.BytesIO(got.content)).getexif()
    score_file = client.get(sent.json()["attachments"][0]["url"] + "?download=1", headers=student)
    assert score_file.content.startswith(b"%PDF-")
    assert score_file.headers["content-disposition"].startswith("attachment;")
    # Nobody else can fetch them, not even with the right address; /media does not serve them.
    stranger = account(client, "student")
    for a in sent.json()["attachments"]:
        assert client.get(a["url"], headers=stranger).status_code == 404
        assert client.get(a["url"]).status_code == 401
    key_probe = client.get("/media/attachments/pdf/", headers=student)
    assert key_probe.status_code == 404


def test_wrong_types_and_sizes_are_refused(client: TestClient[Any]) -> None:
    cid, _, tutor, _, student = conversation(client)
    for name, data in [
        ("notes.txt", b"just some text"),
        ("fake.pdf", b"%PDF-1.7 this is not really a pdf"),
        ("virus.exe", b"MZ\x90\x00" + b"\x00" * 500),
        ("tiny.gif", b"GIF89a" + b"\x00" * 20),
        ("empty.pdf", b""),
    ]:
        response = upload(client, student, cid, name, data)
        assert response.status_code == 422, (name, response.text)
        assert response.json()["code"] == "validation_failed"
    too_big = upload(client, student, cid, "big.png", png(400, 300) + b"\x00" * (10 * 1024 * 1024))
    assert too_big.status_code == 422
    assert "at most 10 MB" in too_big.json()["fields"]["data"]
    # Someone else's upload cannot be sent.
    mine = upload(client, tutor, cid, "score.png", png()).json()["id"]
    assert send(client, student, cid, "mine now", attachment_ids=[mine]).status_code == 422
    # Uploading into a conversation one is not in: 404.
    stranger = account(client, "student")
    assert upload(client, stranger, cid, "score.png", png()).status_code == 404
