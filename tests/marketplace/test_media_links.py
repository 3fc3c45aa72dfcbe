"""Media serving: only public prefixes under /media; private files through signed, expiring
links, with byte ranges for seeking; nothing outside the media root, whatever the path says."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.errors import NotFound
from marketplace.media_links import MediaLinkExpired, MediaLinkInvalid, MediaLinks, checked_key
from marketplace.settings import ConfigError, Settings
from marketplace.web.ranged import ByteRange, Unsatisfiable, parse_range

JSON = {"accept": "application/json"}
BODY = bytes(range(256)) * 4  # 1024 bytes, each position recognisable


def _put(settings: Settings, key: str, data: bytes = BODY) -> Path:
    path = settings.media.root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _links(client: TestClient[Any]) -> MediaLinks:
    links: MediaLinks = client.app.state.services.media_links
    return links


def _parts(url: str) -> tuple[str, str, str]:
    expires, signature, key = url.removeprefix("/media/private/").split("/", 2)
    return expires, signature, key


def _refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, (response.url, response.text)
    assert response.json()["code"] == code


def test_public_route_serves_only_photos_and_audio_samples(
    client: TestClient[Any], settings: Settings
) -> None:
    _put(settings, "photos/ab/abc-small.webp")
    _put(settings, "audio/playable/ab/abc.m4a")
    assert client.get("/media/photos/ab/abc-small.webp").status_code == 200
    assert client.get("/media/audio/playable/ab/abc.m4a").content == BODY
    for key in (
        "course-media/original/ab/abc.mp4",
        "course-media/playable/ab/abc.mp4",
        "course-media/hls/abc/index.m3u8",
        "quiz-audio/ab/abc.m4a",
        "lesson-files/ab/abc.pdf",
        "attachments/pdf/ab/abc.pdf",
        "audio/original/ab/abc",
        "tmp/abc.upload",
    ):
        _put(settings, key)
        _refused(client.get(f"/media/{key}", headers=JSON), 404, "not_found")
        # Nor by climbing out of a public folder.
        climb = f"/media/photos/%2e%2e/{key}"
        assert client.get(climb, headers=JSON).status_code == 404
    # A public key asked for through the links module stays a plain public address.
    assert _links(client).url("photos/ab/abc-small.webp") == "/media/photos/ab/abc-small.webp"


def test_signed_link_serves_the_file_with_ranges(
    client: TestClient[Any], settings: Settings
) -> None:
    _put(settings, "course-media/playable/ab/abc.mp4")
    _put(settings, "course-media/original/ab/sheet.pdf", b"%PDF-1.7 " + BODY)
    _put(settings, "quiz-audio/ab/abc.m4a")
    url = _links(client).url("course-media/playable/ab/abc.mp4")
    assert url.startswith("/media/private/")
    whole = client.get(url)
    assert whole.status_code == 200 and whole.content == BODY
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["content-length"] == "1024"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["cache-control"].startswith("private, max-age=")
    assert whole.headers["x-content-type-options"] == "nosniff"
    part = client.get(url, headers={"range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == BODY[100:200]
    assert part.headers["content-range"] == "bytes 100-199/1024"
    assert part.headers["content-length"] == "100"
    tail = client.get(url, headers={"range": "bytes=-24"})
    assert tail.status_code == 206 and tail.content == BODY[-24:]
    assert tail.headers["content-range"] == "bytes 1000-1023/1024"
    rest = client.get(url, headers={"range": "bytes=1000-5000"})
    assert rest.status_code == 206 and rest.content == BODY[1000:]
    past = client.get(url, headers={"range": "bytes=1024-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == "bytes */1024"
    # A stale If-Range (the file changed since) gets the whole file again; a current one a part.
    stale = client.get(url, headers={"range": "bytes=0-9", "if-range": '"old"'})
    assert stale.status_code == 200 and stale.content == BODY
    current = client.get(url, headers={"range": "bytes=0-9", "if-range": whole.headers["etag"]})
    assert current.status_code == 206 and current.content == BODY[:10]
    # Several ranges at once: the whole file, which the RFC allows.
    assert client.get(url, headers={"range": "bytes=0-1,5-6"}).status_code == 200
    for key, kind in (
        ("course-media/original/ab/sheet.pdf", "application/pdf"),
        ("quiz-audio/ab/abc.m4a", "audio/mp4"),
    ):
        r = client.get(_links(client).url(key))
        assert r.status_code == 200 and r.headers["content-type"] == kind


def test_expired_tampered_and_borrowed_signatures_are_refused(
    client: TestClient[Any], settings: Settings
) -> None:
    _put(settings, "course-media/playable/ab/abc.mp4")
    _put(settings, "course-media/playable/ab/other.mp4")
    secret = settings.web.secret_key
    old = MediaLinks(secret, 60, clock=lambda: time.time() - 3600)
    _refused(client.get(old.url("course-media/playable/ab/abc.mp4")), 403, "media_link_expired")
    url = _links(client).url("course-media/playable/ab/abc.mp4")
    expires, signature, key = _parts(url)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for bad in (
        f"/media/private/{expires}/{flipped}/{key}",
        f"/media/private/{int(expires) + 600}/{signature}/{key}",  # a later expiry
        f"/media/private/{expires}/{signature}/course-media/playable/ab/other.mp4",
        f"/media/private/{expires}/{signature}x/{key}",
        f"/media/private/soon/{signature}/{key}",
        f"/media/private/{expires}/%C3%A9{signature[2:]}/{key}",
        MediaLinks("another-secret-" + "y" * 32, 3600).url(key),
    ):
        _refused(client.get(bad), 403, "media_link_invalid")
    # A good signature for a file that is gone: 404.
    (settings.media.root / key).unlink()
    _refused(client.get(url), 404, "media_not_found")


def test_paths_never_leave_the_media_root(
    client: TestClient[Any], settings: Settings, tmp_path: Path
) -> None:
    secret_file = tmp_path / "outside.txt"
    secret_file.write_text("not media")
    links = _links(client)
    # Even a correctly signed key is refused when it climbs or is not a plain key.
    for key in ("../outside.txt", "course-media/../../outside.txt", "course-media//x", "./x"):
        expires, signature, _ = _parts(links.url(key))
        encoded = key.replace(".", "%2e")
        r = client.get(f"/media/private/{expires}/{signature}/{encoded}")
        assert r.status_code in (403, 404), (key, r.status_code)
        assert b"not media" not in r.content
    # A symbolic link inside the root pointing outside is not followed.
    link = settings.media.root / "course-media" / "ab" / "escape.txt"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret_file)
    r = client.get(links.url("course-media/ab/escape.txt"))
    _refused(r, 404, "media_not_found")
    # A directory is not a file.
    _refused(client.get(links.url("course-media/ab")), 404, "media_not_found")


def test_playlist_signature_covers_its_directory_only(
    client: TestClient[Any], settings: Settings
) -> None:
    folder = "course-media/hls/" + "a" * 32
    _put(settings, f"{folder}/index.m3u8", b'#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\nsegment0000.m4s\n')
    _put(settings, f"{folder}/init.mp4")
    _put(settings, f"{folder}/segment0000.m4s")
    _put(settings, f"{folder}/deeper/segment0000.m4s")
    _put(settings, "course-media/hls/" + "b" * 32 + "/index.m3u8")
    _put(settings, "course-media/playable/aa/" + "a" * 32 + ".mp4")
    url = _links(client).playlist_url(f"{folder}/index.m3u8")
    playlist = client.get(url)
    assert playlist.status_code == 200
    assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
    segment = client.get(url.replace("index.m3u8", "segment0000.m4s"))
    assert segment.status_code == 200 and segment.headers["content-type"] == "video/mp4"
    assert client.get(url.replace("index.m3u8", "init.mp4")).status_code == 200
    expires, signature, _ = _parts(url)
    for outside in (
        "course-media/hls/" + "b" * 32 + "/index.m3u8",
        "course-media/playable/aa/" + "a" * 32 + ".mp4",
        f"{folder}/deeper/segment0000.m4s",
        "course-media/hls/index.m3u8",
    ):
        r = client.get(f"/media/private/{expires}/{signature}/{outside}")
        _refused(r, 403, "media_link_invalid")
    # A single file's signature does not extend to its neighbours.
    one = _links(client).url(f"{folder}/init.mp4")
    _refused(client.get(one.replace("init.mp4", "segment0000.m4s")), 403, "media_link_invalid")


def test_links_module() -> None:
    now = [1_000_000.0]
    links = MediaLinks("k" * 40, 3600, clock=lambda: now[0])
    url = links.url("quiz-audio/ab/x.m4a")
    expires, signature, key = _parts(url)
    # Expiry rounded up to five minutes: links minted a moment apart are the same address.
    assert int(expires) % 300 == 0 and 3600 <= int(expires) - now[0] < 3900
    now[0] += 30
    assert links.url("quiz-audio/ab/x.m4a") == url
    links.verify(expires, signature, key)
    now[0] = int(expires) + 1
    with pytest.raises(MediaLinkExpired):
        links.verify(expires, signature, key)
    with pytest.raises(MediaLinkInvalid):
        links.verify(expires, signature, "quiz-audio/ab/y.m4a")
    with pytest.raises(ValueError):
        MediaLinks("", 3600)
    for bad in ("", "..", "a/../b", "a//b", "a/./b", "a\\b", "a\x00b", "a/", "x" * 301):
        with pytest.raises(NotFound):
            checked_key(bad)
    assert checked_key("course-media/ab/c.mp4") == "course-media/ab/c.mp4"


def test_range_parsing() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-", 100) == ByteRange(0, 99)
    assert parse_range("bytes=10-20", 100) == ByteRange(10, 20)
    assert parse_range("bytes=90-500", 100) == ByteRange(90, 99)
    assert parse_range("bytes=-10", 100) == ByteRange(90, 99)
    assert parse_range("bytes=-500", 100) == ByteRange(0, 99)
    for ignored in ("items=0-1", "bytes=5", "bytes=a-b", "bytes=20-10", "bytes=0-1,3-4"):
        assert parse_range(ignored, 100) is None, ignored
    for unsatisfiable in ("bytes=100-", "bytes=-0", "bytes=500-600"):
        with pytest.raises(Unsatisfiable):
            parse_range(unsatisfiable, 100)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=-5", 0)


def test_link_lifetime_setting() -> None:
    assert Settings.from_env({}).media.link_seconds == 6 * 3600
    assert Settings.from_env({"MEDIA_LINK_SECONDS": "600"}).media.link_seconds == 600
    with pytest.raises(ConfigError, match="MEDIA_LINK_SECONDS"):
        Settings.from_env({"MEDIA_LINK_SECONDS": "5"})
    assert replace(Settings.from_env({}).media, link_seconds=60).link_seconds == 60
