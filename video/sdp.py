"""SDP for music: the Opus ``fmtp`` parameters of the room, and small SDP text helpers.

aiortc answers Opus with no ``fmtp`` at all, and Chrome then sends mono at about 32 kbit/s. The
room's answer therefore carries ``stereo=1; sprop-stereo=1; maxaveragebitrate=<ceiling>;
usedtx=0`` (stereo both ways, the highest bitrate the room offers, no discontinuous
transmission, which would gate quiet passages), keeping in-band FEC. The lesson's bitrate itself
is the browser's sender limit (``maxBitrate``), which changes without renegotiating. The browser
puts the same parameters in its own offer
(``video/static/room.js``), since a receiver only decodes stereo when its own description asks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from marketplace.settings import BITRATES_KBPS

# The answer's Opus ceiling: the browser's sender limit (maxBitrate) sets the lesson's bitrate
# under it and can change without renegotiating; Chromium never exceeds the fmtp.
CEILING_KBPS = max(BITRATES_KBPS)

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
class SectionCodecs:
    """The payload types of one m-section in the order of the m-line (its preference)."""

    kind: str
    mid: str
    formats: tuple[tuple[int, str], ...]  # (payload type, lower-case codec name)

    def types_of(self, name: str) -> frozenset[int]:
        return frozenset(pt for pt, codec in self.formats if codec == name)

    def first(self) -> str | None:
        return self.formats[0][1] if self.formats else None


_RTPMAP_ANY = re.compile(r"^a=rtpmap:(\d+) ([^/\s]+)/")


def section_codecs(sdp: str) -> list[SectionCodecs]:
    """Each audio and video m-section's codecs, in preference order."""
    sections: list[SectionCodecs] = []
    current: tuple[str, list[str], dict[int, str], list[str]] | None = None

    def close() -> None:
        if current is not None and current[0] in ("audio", "video"):
            kind, order, names, mid = current
            formats = tuple(
                (int(pt), names[int(pt)]) for pt in order if pt.isdigit() and int(pt) in names
            )
            sections.append(SectionCodecs(kind, mid[0] if mid else "", formats))

    for raw in sdp.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if line.startswith("m="):
            close()
            parts = line[2:].split()
            current = (parts[0], parts[3:], {}, [])
        elif current is not None:
            if match := _RTPMAP_ANY.match(line):
                current[2][int(match.group(1))] = match.group(2).lower()
            elif line.startswith("a=mid:"):
                current[3].append(line[6:])
    close()
    return sections


def set_red_fmtp(sdp: str) -> str:
    """Give each RED payload type the ``fmtp`` RFC 2198 asks for: the Opus type it carries,
    twice (the primary and one redundant block). aiortc writes none."""
    newline = "\r\n" if "\r\n" in sdp else "\n"
    out: list[str] = []
    opus: str | None = None
    red_lines: dict[str, int] = {}  # red payload type -> index of its rtpmap line in ``out``
    have: set[str] = set()

    def flush() -> None:
        # Insert missing lines from the last one up, so earlier indexes stay right.
        for pt, index in sorted(red_lines.items(), key=lambda item: -item[1]):
            if pt not in have and opus is not None:
                out.insert(index + 1, f"a=fmtp:{pt} {opus}/{opus}")

    for line in sdp.split(newline):
        if line.startswith("m="):
            flush()
            opus, red_lines, have = None, {}, set()
        elif match := _RTPMAP_ANY.match(line):
            name = match.group(2).lower()
            if name == "opus" and opus is None:
                opus = match.group(1)
            elif name == "red":
                red_lines[match.group(1)] = len(out)
        elif (match := _FMTP.match(line)) and match.group(1) in red_lines:
            have.add(match.group(1))
        out.append(line)
    flush()
    return newline.join(out)


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
