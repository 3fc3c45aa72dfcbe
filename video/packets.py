"""What the lesson room's forwarding, recording and registry share, without the media stack.

A web process imports this at start; aiortc and PyAV (``video.forwarding``, ``video.peer``) are
imported only when the first lesson room opens.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from video.red import RedBlock  # red registers a codec with aiortc: not at start

MASK32 = 0xFFFFFFFF
CLOCK = {"audio": 48_000, "video": 90_000}


def newer(a: int, b: int) -> bool:
    """RTP timestamp ``a`` is after ``b`` (modulo 2**32)."""
    return a != b and ((a - b) & MASK32) < 0x80000000


@dataclass(slots=True)
class MediaPacket:
    """One Opus packet or one whole VP8 frame as the sender encoded it."""

    kind: str
    data: bytes
    timestamp: int  # the sender's RTP timestamp
    keyframe: bool
    arrival_ns: int  # time.perf_counter_ns() when the last RTP packet of it arrived
    # Audio sent as RED: the older Opus packets it repeated (``data`` is the primary block).
    redundancy: tuple[RedBlock, ...] = ()
    # Rebuilt at the server from a later packet's redundancy (lost on the way in).
    recovered: bool = False


class LatencyStats:
    """The server's added delay per forwarded packet (in, until its RTP left), last N samples."""

    def __init__(self, size: int = 20_000) -> None:
        self.samples: deque[int] = deque(maxlen=size)
        self.forwarded = 0

    def add(self, nanoseconds: int) -> None:
        self.samples.append(nanoseconds)
        self.forwarded += 1

    def percentile_ms(self, q: float, since: int = 0) -> float | None:
        """The ``q`` quantile of the samples after the first ``since`` (as far as kept)."""
        recent = max(0, min(len(self.samples), self.forwarded - since))
        if not recent:
            return None
        ordered = sorted(list(self.samples)[-recent:])
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6

    def clear(self) -> None:
        self.samples.clear()
