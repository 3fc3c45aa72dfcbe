"""Input no handler can store is a 422 with our error body, and nothing is written.

One test per input class, each through the shared mechanism that refuses it: out-of-range path
ids and unstorable text in the path or query (``InputGuardMiddleware``), in JSON bodies and forms
(``CheckedRequest``), multipart bodies without their file (``marketplace.web.uploads``) and
decompression-bomb images (``marketplace.images``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.errors import ValidationFailed
from marketplace.images import MAX_PIXELS, image_format, load_image
from tests.helpers import PASSWORD, account, fetch_sql, login, register
from tests.media_factory import png, png_bomb
from tests.scheduling.helpers import approved_tutor, book, local_slot

INT64_MAX = 2**63 - 1
OUT_OF_RANGE = [2**63, 10**30, -(2**63) - 1, 0, -1]


def _count(client: TestClient[Any], table: str) -> int:
    return int(fetch_sql(client, f"SELECT count(*) AS n FROM {table}")[0]["n"])  # noqa: S608


def _refused(response: Any, *fields: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_failed", body
    assert set(body) == {"code", "message", "fields"}
    for name in fields:
        assert name in body["fields"], body
    return body


def _id_operations(client: TestClient[Any]) -> list[tuple[str, str, list[str]]]:
    """(method, path template, integer path parameters) of every documented operation that
    takes an id in its path."""
    schema = client.get("/schema/openapi.json").json()
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            ids = [
                p["name"]
                for p in operation.get("parameters", [])
                if p["in"] == "path" and p["schema"].get("type") == "integer"
            ]
            if ids:
                found.append((method.upper(), path, ids))
    return found


def test_the_openapi_bounds_every_path_id(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()
    bounds = {
        (p["schema"].get("minimum"), p["schema"].get("maximum"))
        for item in schema["paths"].values()
        for operation in item.values()
        for p in operation.get("parameters", [])
        if p["in"] == "path" and p["schema"].get("type") == "integer"
    }
    assert bounds == {(1, INT64_MAX)}


def test_an_out_of_range_path_id_is_422_on_every_operation(client: TestClient[Any]) -> None:
    operations = _id_operations(client)
    assert len(operations) > 80  # the whole API, not a sample
    admin, student = account(client, "admin"), account(client, "student")
    for method, template, ids in operations:
        for bad in OUT_OF_RANGE:
            path = template
            for name in ids:
                path = path.replace("{" + name + "}", str(bad))
            path = re.sub(r"\{[^}]+\}", "x", path)  # any text parameter
            for headers in (admin, student, {}):
                response = client.request(method, path, headers=headers, json={"body": "hi"})
                _refused(response, ids[0])
    assert _count(client, "messages") == 0 and _count(client, "bookings") == 0


def test_the_largest_id_is_a_plain_404(client: TestClient[Any]) -> None:
    student = account(client, "student")
    response = client.get(f"/api/v1/bookings/{INT64_MAX}", headers=student)
    assert response.status_code == 404 and response.json()["code"].endswith("not_found")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/conversations?q=a%00b",
        "/api/v1/courses/1/discussions?q=%00",
        "/api/v1/tutors/search?q=fado%00",
        "/api/v1/places/cities?q=Lis%00",
        "/api/v1/certificates/AB%00CD",
    ],
)
def test_a_nul_in_the_query_or_path_is_422(client: TestClient[Any], path: str) -> None:
    student = account(client, "student")
    body = _refused(client.get(path, headers=student))
    assert "NUL" in next(iter(body["fields"].values()))


def test_a_nul_in_a_json_body_is_422_and_nothing_is_stored(client: TestClient[Any]) -> None:
    tutor_id, _ = approved_tutor(client)
    student = account(client, "student")
    started = client.post(
        "/api/v1/conversations", json={"user_id": tutor_id, "body": "Hello\u0000"}, headers=student
    )
    _refused(started, "body")
    assert _count(client, "conversations") == 0 and _count(client, "messages") == 0
    users = _count(client, "users")
    nested = client.post(
        "/api/v1/auth/register",
        json={
            "email": "nul@example.com",
            "password": PASSWORD,
            "full_name": "Ana\x00",
            "role": "student",
            "time_zone": "UTC",
        },
    )
    _refused(nested, "full_name")
    surrogate = client.post(
        "/api/v1/auth/register",
        content=b'{"email": "s@example.com", "password": "correct horse battery", '
        b'"full_name": "Ana \\ud800", "role": "student", "time_zone": "UTC"}',
        headers={"content-type": "application/json"},
    )
    # The JSON decoder itself refuses a lone surrogate: malformed JSON, also a clear 4xx.
    assert surrogate.status_code == 400 and surrogate.json()["code"] == "malformed_json"
    assert _count(client, "users") == users


def test_a_nul_in_a_page_form_is_422_and_nothing_is_stored(client: TestClient[Any]) -> None:
    page = client.get("/signup?role=student").text
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert match
    response = client.post(
        "/signup",
        data={
            "_csrf_token": match.group(1),
            "role": "student",
            "full_name": "Zé\x00",
            "email": "ze@example.com",
            "password": PASSWORD,
            "time_zone": "Europe/Lisbon",
        },
    )
    assert response.status_code == 422
    assert _count(client, "users") == 0


UPLOADS = [
    ("tutor", "/api/v1/tutors/me/photo", "data"),
    ("tutor", "/api/v1/tutors/me/audio-sample", "data"),
    ("tutor", "/api/v1/tutors/me/calendars/upload", "data"),
    ("tutor", "/api/v1/tutor/courses/1/items/1/upload", "file"),
    ("student", "/api/v1/conversations/1/attachments", "data"),
    ("student", "/api/v1/courses/1/discussions/attachments", "data"),
    ("student", "/api/v1/bookings/1/files", "file"),
]


@pytest.mark.parametrize(("role", "path", "field"), UPLOADS)
def test_an_upload_without_its_file_is_422_and_nothing_is_stored(
    client: TestClient[Any], role: str, path: str, field: str
) -> None:
    headers = account(client, role)
    other_field = client.post(
        path, files={"other": ("notes.txt", b"hello", "text/plain")}, headers=headers
    )
    _refused(other_field, field)
    text_instead = client.post(
        path, data={field: "not a file"}, files={"x": ("", b"", "text/plain")}, headers=headers
    )
    assert text_instead.status_code == 422, text_instead.text
    assert text_instead.json()["code"] == "validation_failed"
    for table in ("attachments", "lesson_files", "external_calendars", "audio_samples"):
        assert _count(client, table) == 0, table
    stored = fetch_sql(client, "SELECT photo_key FROM tutor_profiles WHERE photo_key IS NOT NULL")
    assert stored == []


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = png_bomb()
    assert len(bomb) < 200
    for opener in (image_format, load_image):
        with pytest.raises(ValidationFailed) as refused:
            opener(bomb, "file")
        assert refused.value.fields == {"file": "The image has too many pixels."}
    # Below Pillow's own limit but above ours: the explicit cap refuses it from the header.
    with pytest.raises(ValidationFailed):
        image_format(png_bomb(7_000, 7_000), "photo")
    assert MAX_PIXELS < 7_000 * 7_000
    assert image_format(png(), "photo") == "PNG"


def test_a_decompression_bomb_is_422_among_lesson_files_and_photos(
    client: TestClient[Any],
) -> None:
    tutor_id, tutor = approved_tutor(client)
    student_user = register(client, "student")
    student = login(client, student_user["email"])
    booked = book(client, student, tutor_id, local_slot("Europe/Berlin", 2, 10))
    assert booked.status_code == 201, booked.text
    shared = client.post(
        f"/api/v1/bookings/{booked.json()['id']}/files",
        files={"file": ("score.png", png_bomb(), "image/png")},
        headers=student,
    )
    _refused(shared, "file")
    assert _count(client, "lesson_files") == 0
    photo = client.post(
        "/api/v1/tutors/me/photo",
        files={"data": ("me.png", png_bomb(), "image/png")},
        headers=tutor,
    )
    _refused(photo, "photo")
    attachment = client.post(
        "/api/v1/conversations",
        json={"user_id": tutor_id, "body": "Hello"},
        headers=student,
    )
    assert attachment.status_code == 201, attachment.text
    conversation = attachment.json()["conversation"]["id"]
    upload = client.post(
        f"/api/v1/conversations/{conversation}/attachments",
        files={"data": ("bomb.png", png_bomb(), "image/png")},
        headers=student,
    )
    assert "too many pixels" in str(_refused(upload)["fields"])
    assert _count(client, "attachments") == 0
