"""Two headless Chromiums in a network namespace, talking through a Duet room on the host end of
a veth pair, with UDP loss made inside the namespace: shared by the browser test and the room
benchmark. Measurements come from what the receiving browser reports (``getStats()``, Web
Audio), never from the server."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.browser.conftest import chromium_path
from tests.browser.test_lesson_room import (
    LISTEN,
    STUDENT_TONES,
    TUTOR_TONES,
    log_in,
    media_flags,
    stereo_wav,
)
from tests.netns import Namespace
from tests.video.lessons import Lesson

# One snapshot of the receiving side of a page's connection.
RECEIVE = """async () => {
  const pc = window.duetRoom.pc;
  const report = await pc.getStats();
  const codec = pc.getTransceivers()[0].sender.getParameters().codecs[0];
  const out = { sendCodec: codec.mimeType.toLowerCase(), at: performance.now() };
  report.forEach(s => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') Object.assign(out, {
      concealed: s.concealedSamples, total: s.totalSamplesReceived,
      jbDelay: s.jitterBufferDelay, jbCount: s.jitterBufferEmittedCount,
      lost: s.packetsLost, received: s.packetsReceived });
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
      const remote = report.get(s.remoteCandidateId);
      out.remoteAddress = remote ? remote.address : null;
    }
  });
  out.shownLoss = window.duetRoom.loss;
  return out;
}"""

# Snapshots every 100 ms for a while, taken in the page so no round trip skews them.
TRACE = """async (seconds) => {
  const rows = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const pc = window.duetRoom.pc;
    if (pc) {
      const report = await pc.getStats();
      report.forEach(s => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') rows.push({ at: performance.now(),
          concealed: s.concealedSamples, total: s.totalSamplesReceived,
          jbDelay: s.jitterBufferDelay, jbCount: s.jitterBufferEmittedCount,
          received: s.packetsReceived });
      });
    }
    await new Promise(r => setTimeout(r, 100));
  }
  return rows;
}"""


def concealment(before: dict[str, Any], after: dict[str, Any]) -> float:
    """The share of played samples that were concealed (made up) between two snapshots."""
    total = after["total"] - before["total"]
    return (after["concealed"] - before["concealed"]) / total if total > 0 else 1.0


def jitter_buffer_ms(before: dict[str, Any], after: dict[str, Any]) -> float | None:
    count = after["jbCount"] - before["jbCount"]
    if count <= 0:
        return None
    return float(1000 * (after["jbDelay"] - before["jbDelay"]) / count)


@dataclass
class Recovery:
    """A restart (reload, bitrate change) seen by the receiver: its jitter buffer before, per
    window after, how long until it was back near the baseline, and the longest gap in sound."""

    baseline_ms: float
    windows_ms: list[float]  # 500 ms windows from when sound came back
    settle_s: float | None  # from sound back to the first window within tolerance of baseline
    longest_gap_ms: float  # the most concealed audio in any 100 ms step

    @property
    def final_ms(self) -> float:
        tail = self.windows_ms[-4:]
        return statistics.mean(tail) if tail else float("nan")


def recovery(baseline_ms: float, rows: list[dict[str, Any]], tolerance_ms: float = 20) -> Recovery:
    gap = 0.0
    for a, b in itertools.pairwise(rows):
        gap = max(gap, 1000 * (b["concealed"] - a["concealed"]) / 48_000)
    # Sound is back at the first step after which packets arrive in every step.
    start = 0
    for index in range(1, len(rows)):
        if rows[index]["received"] == rows[index - 1]["received"]:
            start = index
    windows: list[float] = []
    settle: float | None = None
    for index in range(start, len(rows) - 5, 5):
        value = jitter_buffer_ms(rows[index], rows[index + 5])
        if value is None:
            continue
        windows.append(value)
        if settle is None and value <= baseline_ms + tolerance_ms:
            settle = (rows[index + 5]["at"] - rows[start]["at"]) / 1000
    return Recovery(baseline_ms, windows, settle, gap)


@dataclass
class Lessonroom:
    namespace: Namespace
    tutor: Any
    student: Any
    lesson: Lesson

    def snapshot(self, page: Any) -> dict[str, Any]:
        return dict(page.evaluate(RECEIVE))

    def listen(self, seconds: int) -> list[dict[str, Any]]:
        """Web Audio on the tutor's page: the student's tones, every 250 ms."""
        return list(self.tutor.evaluate(LISTEN, [self.lesson.student_id, *STUDENT_TONES, seconds]))

    def baseline_ms(self, page: Any, seconds: float = 2.0) -> float:
        first = self.snapshot(page)
        page.wait_for_timeout(int(seconds * 1000))
        value = jitter_buffer_ms(first, self.snapshot(page))
        assert value is not None
        return value


def wait_connected(page: Any) -> None:
    try:
        page.wait_for_function(
            "() => window.duetRoom && window.duetRoom.pc && "
            "window.duetRoom.pc.connectionState === 'connected'"
        )
    except Exception:
        state = page.evaluate(DIAGNOSE)
        raise AssertionError(f"the room's connection did not come up: {state}") from None


DIAGNOSE = """async () => {
  const room = window.duetRoom;
  const alert = document.querySelector('[data-testid=room-alert]').textContent;
  if (!room || !room.pc) return { room: !!room, alert };
  const pc = room.pc;
  const lines = d => d ? d.sdp.split(String.fromCharCode(13, 10)) : [];
  const candidates = d => lines(d).filter(l => l.startsWith('a=candidate'));
  const found = [];
  (await pc.getStats()).forEach(s => {
    if (s.type.includes('candidate')) found.push([s.type, s.address, s.port, s.state]);
  });
  return { connection: pc.connectionState, ice: pc.iceConnectionState, alert,
           local: candidates(pc.localDescription), remote: candidates(pc.remoteDescription),
           stats: found };
}"""


@contextmanager
def lesson_room_in(
    namespace: Namespace, url: str, lesson: Lesson, folder: Path, playwright: Any, watch: Any
) -> Iterator[Lessonroom]:
    """Both browsers (inside the namespace) in the room, connected, media flowing."""
    executable = namespace.wrap(chromium_path(), folder)
    browsers = []
    try:
        pages = []
        for tones, email in (
            (TUTOR_TONES, lesson.tutor_email),
            (STUDENT_TONES, lesson.student_email),
        ):
            wav = stereo_wav(folder / f"{email}.wav", *tones)
            # The server is not on localhost, and plain HTTP elsewhere is no secure context
            # (no microphone): this origin is trusted as if it were HTTPS.
            # No loopback candidates: the server would try its own 127.0.0.1 with them.
            flags = [
                *(f for f in media_flags(wav) if f != "--allow-loopback-in-peer-connection"),
                f"--unsafely-treat-insecure-origin-as-secure={url}",
            ]
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=flags
            )
            browsers.append(browser)
            context = watch.new_context(browser) if watch else browser.new_context()
            page = context.new_page()
            page.set_default_timeout(20_000)
            log_in(page, url, email)
            page.goto(f"{url}/lessons/{lesson.booking_id}/room")
            pages.append(page)
        for page in pages:
            wait_connected(page)
            page.wait_for_function(
                "() => document.querySelector('[data-testid=remote-tile] .tile-state')"
                ".textContent === ''"
            )
        yield Lessonroom(namespace, pages[0], pages[1], lesson)
    finally:
        for browser in browsers:
            browser.close()
