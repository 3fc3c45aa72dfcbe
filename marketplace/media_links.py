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

A link may also carry a *grant* (``kind-id``, e.g. ``enrolment-42``) in its first segment:
``{expires}.{grant}``. The signature covers it, and the server asks the grant's owner (the
package that registered the kind) whether it still holds each time the file is served, so a
refund revokes a link at once instead of when it expires. The grant sits in the path, not the
query, so the relative segment addresses of an HLS playlist carry it too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from marketplace.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

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


_GRANT = re.compile(r"^([a-z]{1,20})-([0-9]{1,18})$")


@dataclass(frozen=True)
class Grant:
    """What a link was handed out under; checked again whenever the file is served."""

    kind: str
    id: int

    def __str__(self) -> str:
        return f"{self.kind}-{self.id}"


GrantCheck = Callable[["AsyncSession", int, str], Awaitable[None]]
"""``check(session, grant_id, key)``: raise (403/404) unless the grant still gives ``key``; it
may also record the use, in the session's transaction."""


class MediaAccessEnded(Forbidden):
    code = "media_access_ended"


def parse_grant(text: str) -> Grant | None:
    match = _GRANT.match(text)
    return Grant(match.group(1), int(match.group(2))) if match else None


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

    def url(self, key: str, grant: Grant | None = None) -> str:
        """A link to one file: plain for public keys, signed for everything else (and bound to
        ``grant`` when given)."""
        if is_public(key):
            return f"{self.public_url_prefix}/{key}"
        return self._signed(key, key, grant)

    def playlist_url(self, key: str, grant: Grant | None = None) -> str:
        """A link to an HLS playlist whose signature covers every file in its directory."""
        folder, _, name = key.rpartition("/")
        if not folder or not name:
            raise ValueError(f"a playlist key needs a directory: {key!r}")
        return self._signed(key, folder + "/", grant)

    def verify(self, stamp: str, signature: str, key: str) -> Grant | None:
        """The link's grant (None for a plain link) if the signature covers ``key`` (alone or
        through its directory) and ``stamp``; ``MediaLinkInvalid`` if not, ``MediaLinkExpired``
        when it did but the time has passed. The caller checks that the grant still holds."""
        expires, dot, grant_text = stamp.partition(".")
        grant = parse_grant(grant_text) if dot else None
        if not expires.isdigit() or len(expires) > 12 or (dot and grant is None):
            raise MediaLinkInvalid("This media link is not valid.")
        folder = key.rpartition("/")[0]
        scopes = [key, folder + "/"] if folder else [key]
        # Compare against every scope, so the time taken says nothing about which one matched.
        sent = signature.encode()
        matched = [hmac.compare_digest(sent, self._sign(stamp, s).encode()) for s in scopes]
        if not any(matched):
            raise MediaLinkInvalid("This media link is not valid.")
        if int(expires) < self._clock():
            raise MediaLinkExpired("This media link has expired. Reload the page for a new one.")
        return grant

    def seconds_left(self, stamp: str) -> int:
        return max(0, int(stamp.partition(".")[0]) - int(self._clock()))

    def _signed(self, key: str, scope: str, grant: Grant | None) -> str:
        expires = str(-(-(int(self._clock()) + self.lifetime_seconds) // _STEP) * _STEP)
        stamp = f"{expires}.{grant}" if grant is not None else expires
        return f"{PRIVATE_URL_PREFIX}/{stamp}/{self._sign(stamp, scope)}/{key}"

    def _sign(self, expires: str, scope: str) -> str:
        digest = hmac.new(self._key, f"{expires}\n{scope}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
