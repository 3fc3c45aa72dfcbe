"""SDP for music: the Opus ``fmtp`` parameters of the room, and small SDP text helpers.

aiortc answers Opus with no ``fmtp`` at all, and Chrome then sends mono at about 32 kbit/s. The
room's answer therefore carries ``stereo=1; sprop-stereo=1; maxaveragebitrate=<chosen>;
usedtx=0`` (stereo both ways, the tutor's bitrate, no discontinuous transmission, which would
gate quiet passages), keeping in-band FEC. The browser puts the same parameters in its own offer
(``video/static/room.js``), since a receiver only decodes stereo when its own description asks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from marketplace.settings import BITRATES_KBPS

_RTPMAP = re.compile(r"^a=rtpmap:(\d+) opus/48000(?:/2)?\s*$", re.IGNORECASE)
_FMTP = re.compile(r"^a=fmtp:(\d+) (.*)$")


def music_fmtp(bitrate_kbps: int) -> dict[str, str]:
    """The Opus parameters of a lesson room at ``bitrate_kbps``."""
    if bitrate_kbps not in BITRATES_KBPS:
        raise ValueError(f"unsupported bitrate {bitrate_kbps}")
    return {
        "stereo": "1",
        "sprop-stereo": "1",
        "maxaveragebitrate": str(bitrate_kbps * 1000),
        "usedtx": "0",
        "useinbandfec": "1",
        "minptime": "10",
    }


def parse_fmtp(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in value.split(";"):
        key, _, val = part.strip().partition("=")
        if key:
            params[key.strip()] = val.strip()
    return params


def format_fmtp(params: dict[str, str]) -> str:
    return ";".join(f"{k}={v}" for k, v in params.items())


def set_opus_fmtp(sdp: str, params: dict[str, str]) -> str:
    """Merge ``params`` into the ``fmtp`` line of every Opus payload type (adding the line)."""
    newline = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(newline)
    opus_types = {m.group(1) for line in lines if (m := _RTPMAP.match(line))}
    out: list[str] = []
    have_fmtp: set[str] = set()
    for line in lines:
        match = _FMTP.match(line)
        if match and match.group(1) in opus_types:
            merged = {**parse_fmtp(match.group(2)), **params}
            line = f"a=fmtp:{match.group(1)} {format_fmtp(merged)}"
            have_fmtp.add(match.group(1))
        out.append(line)
    # Payload types without an fmtp line get one right after their rtpmap.
    result: list[str] = []
    for line in out:
        result.append(line)
        match = _RTPMAP.match(line)
        if match and match.group(1) not in have_fmtp:
            result.append(f"a=fmtp:{match.group(1)} {format_fmtp(params)}")
    return newline.join(result)


def opus_fmtp(sdp: str) -> list[dict[str, str]]:
    """The ``fmtp`` parameters of each Opus payload type in ``sdp`` (for tests and checks)."""
    lines = sdp.replace("\r\n", "\n").split("\n")
    opus_types = {m.group(1) for line in lines if (m := _RTPMAP.match(line))}
    return [
        parse_fmtp(m.group(2))
        for line in lines
        if (m := _FMTP.match(line)) and m.group(1) in opus_types
    ]


@dataclass(frozen=True)
class MediaSection:
    kind: str  # audio, video, application
    direction: str  # sendrecv, sendonly, recvonly, inactive (the offerer's view)
    mid: str


_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


def media_sections(sdp: str) -> list[MediaSection]:
    """The m-sections of an SDP, in order, with their direction and mid."""
    sections: list[MediaSection] = []
    kind: str | None = None
    direction, mid = "sendrecv", ""
    for raw in sdp.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if line.startswith("m="):
            if kind is not None:
                sections.append(MediaSection(kind, direction, mid))
            kind, direction, mid = line[2:].split(" ", 1)[0], "sendrecv", ""
        elif kind is not None and line[2:] in _DIRECTIONS and line.startswith("a="):
            direction = line[2:]
        elif kind is not None and line.startswith("a=mid:"):
            mid = line[6:]
    if kind is not None:
        sections.append(MediaSection(kind, direction, mid))
    return sections


def drop_candidates(sdp: str, keep: Callable[[str], bool]) -> str:
    """Remove ``a=candidate`` lines for which ``keep(line_without_a=)`` is false."""
    newline = "\r\n" if "\r\n" in sdp else "\n"
    kept = [
        line for line in sdp.split(newline) if not line.startswith("a=candidate:") or keep(line[2:])
    ]
    return newline.join(kept)
