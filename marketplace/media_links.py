"""Short-lived signed links to private media files.

Only tutor photos and the playable tutor audio samples are public (``PUBLIC_PREFIXES``, served as
static files under ``/media``). Every other file under ``MEDIA_ROOT`` (course media, quiz audio
prompts, lesson files, staged uploads) is served only at
``/media/private/{expires}/{signature}/{key}``, and only code that has already checked who is
asking (the presenters) mints such a link.

The signature is an HMAC-SHA256, under a key derived from ``SECRET_KEY`` for this purpose alone,
of the expiry and a *scope*: the file's key, or for an HLS playlist the key's directory (ending
in ``/``). A playlist names its init segment and segments relatively, so the browser asks for
them under the same signed prefix, and the directory's signature covers each of them, but no
file outside that directory. The two kinds of scope cannot be confused: a key never ends in
``/``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

from marketplace.errors import Forbidden, NotFound

PUBLIC_PREFIXES = ("photos/", "audio/playable/")
"""Keys under these are public by design (tutor profile photos and audio samples)."""
PRIVATE_URL_PREFIX = "/media/private"
_PURPOSE = b"duet:media-link:v1"
_STEP = 300
"""Expiry times are rounded up to this many seconds, so links minted a moment apart are the same
address and the browser's cache serves a file viewed twice."""


class MediaLinkExpired(Forbidden):
    code = "media_link_expired"


class MediaLinkInvalid(Forbidden):
    code = "media_link_invalid"


def is_public(key: str) -> bool:
    return key.startswith(PUBLIC_PREFIXES)


def checked_key(key: str) -> str:
    """``key`` if it is a plain relative key (no ``.``/``..``/empty segments, no backslash or
    NUL); a 404 otherwise, so a crafted path never reaches the file system."""
    key = key.lstrip("/")
    parts = key.split("/")
    if (
        not key
        or len(key) > 300
        or "\\" in key
        or "\x00" in key
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise NotFound("No such file.", code="media_not_found")
    return key


class MediaLinks:
    def __init__(
        self,
        secret_key: str,
        lifetime_seconds: int,
        *,
        public_url_prefix: str = "/media",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret_key:
            raise ValueError("signed media links need SECRET_KEY")
        self._key = hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()
        self.lifetime_seconds = lifetime_seconds
        self.public_url_prefix = public_url_prefix.rstrip("/")
        self._clock = clock

    def url(self, key: str) -> str:
        """A link to one file: plain for public keys, signed for everything else."""
        if is_public(key):
            return f"{self.public_url_prefix}/{key}"
        return self._signed(key, key)

    def playlist_url(self, key: str) -> str:
        """A link to an HLS playlist whose signature covers every file in its directory."""
        folder, _, name = key.rpartition("/")
        if not folder or not name:
            raise ValueError(f"a playlist key needs a directory: {key!r}")
        return self._signed(key, folder + "/")

    def verify(self, expires: str, signature: str, key: str) -> None:
        """Raise ``MediaLinkInvalid`` unless the signature covers ``key`` (alone or through its
        directory) and ``expires``; ``MediaLinkExpired`` when it did but the time has passed."""
        if not expires.isdigit() or len(expires) > 12:
            raise MediaLinkInvalid("This media link is not valid.")
        folder = key.rpartition("/")[0]
        scopes = [key, folder + "/"] if folder else [key]
        # Compare against every scope, so the time taken says nothing about which one matched.
        sent = signature.encode()
        matched = [hmac.compare_digest(sent, self._sign(expires, s).encode()) for s in scopes]
        if not any(matched):
            raise MediaLinkInvalid("This media link is not valid.")
        if int(expires) < self._clock():
            raise MediaLinkExpired("This media link has expired. Reload the page for a new one.")

    def seconds_left(self, expires: str) -> int:
        return max(0, int(expires) - int(self._clock()))

    def _signed(self, key: str, scope: str) -> str:
        expires = str(-(-(int(self._clock()) + self.lifetime_seconds) // _STEP) * _STEP)
        return f"{PRIVATE_URL_PREFIX}/{expires}/{self._sign(expires, scope)}/{key}"

    def _sign(self, expires: str, scope: str) -> str:
        digest = hmac.new(self._key, f"{expires}\n{scope}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
