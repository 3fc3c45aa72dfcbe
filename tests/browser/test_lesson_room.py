"""Two headless Chromiums, a tutor and a student, play to each other through the lesson room.

Each browser captures a stereo WAV made here (a different tone left and right, and different
tones per person) through Chromium's fake audio device. From ``getStats()``: Opus, two channels,
the music fmtp, the chosen bitrate. From Web Audio on the receiving page: left and right stay
apart and a sustained tone keeps its level for 10 s (no noise suppression, no gain pumping).
Then the tutor ends the lesson.

ICE on one machine: every candidate stays on 127.0.0.1. Chromium ignores loopback unless
``--allow-loopback-in-peer-connection``, and aioice skips 127.0.0.1 unless the media server is
limited to it (``ROOM_MEDIA_ADDRESSES=127.0.0.1``). Chromium also offers its other addresses;
the server drops those candidates and ignores checks from them, so it only ever sends to
127.0.0.1, and Chromium only sends to the server's 127.0.0.1 candidate. No STUN/TURN server is
configured on either side. mDNS host names are off (``WebRtcHideLocalIpsWithMdns``) so nothing
is multicast. This runs in CI as it runs here, without privileges.
"""

from __future__ import annotations

import math
import re
import statistics
import struct
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from scheduling.lifecycle import State
from tests.browser.conftest import CHROMIUM_FLAGS, CspWatch, chromium_path
from tests.helpers import run_async
from tests.scheduling.helpers import sql
from tests.video.lessons import PASSWORD, make_lesson
from tests.video.server import LiveRoomServer, live_room_server, loopback_room_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TUTOR_TONES = (440, 1320)  # left, right (Hz)
STUDENT_TONES = (587, 1760)


def stereo_wav(path: Path, left_hz: int, right_hz: int, seconds: int = 4) -> Path:
    """16-bit 48 kHz stereo; whole cycles in the file, so Chromium's loop has no click."""
    rate = 48_000
    frames = bytearray()
    for n in range(rate * seconds):
        t = n / rate
        left = int(0.4 * 32767 * math.sin(2 * math.pi * left_hz * t))
        right = int(0.4 * 32767 * math.sin(2 * math.pi * right_hz * t))
        frames += struct.pack("<hh", left, right)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


@pytest.fixture
def room_live(settings: Settings, queue: DramatiqQueue) -> Iterator[LiveRoomServer]:
    with live_room_server(loopback_room_settings(settings), queue) as server:
        yield server


def media_flags(wav: Path) -> list[str]:
    return [
        *CHROMIUM_FLAGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
    ]


def log_in(page: Any, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**notice=logged_in")


AUDIO_STATS = """async () => {
  const report = await window.duetRoom.pc.getStats();
  const out = {};
  report.forEach(s => {
    if (s.type === 'outbound-rtp' && s.kind === 'audio') {
      const codec = report.get(s.codecId) || {};
      out.bytesSent = s.bytesSent; out.timestamp = s.timestamp;
      out.mimeType = codec.mimeType; out.channels = codec.channels;
      out.fmtp = codec.sdpFmtpLine; out.target = s.targetBitrate;
    }
    if (s.type === 'inbound-rtp' && s.kind === 'audio') out.packetsReceived = s.packetsReceived;
  });
  // The negotiated send codec: RED (carrying the Opus above) when both sides asked for it.
  const audio = window.duetRoom.pc.getTransceivers()[0];
  out.sendCodec = audio.sender.getParameters().codecs[0].mimeType.toLowerCase();
  return out;
}"""

# Web Audio on the receiving page: split the other side's stream into left and right and, every
# 250 ms for 10 s, read the spectrum level (dB) at both tones and the RMS level of each channel.
LISTEN = """async ([userId, leftHz, rightHz, seconds]) => {
  const stream = window.duetRoom.remote[userId].stream;
  const ctx = new AudioContext({ sampleRate: 48000 });
  await ctx.resume();
  const source = ctx.createMediaStreamSource(stream);
  const split = ctx.createChannelSplitter(2);
  source.connect(split);
  const analysers = [0, 1].map(ch => {
    const a = ctx.createAnalyser();
    a.fftSize = 8192; a.smoothingTimeConstant = 0;
    split.connect(a, ch);
    return a;
  });
  const peak = (spectrum, hz) => {
    const bin = Math.round(hz / (ctx.sampleRate / 8192));
    let best = -Infinity;
    for (let i = bin - 3; i <= bin + 3; i++) best = Math.max(best, spectrum[i]);
    return best;
  };
  const samples = [];
  const spectrum = new Float32Array(4096);
  const wave = new Float32Array(8192);
  for (let i = 0; i < seconds * 4; i++) {
    await new Promise(r => setTimeout(r, 250));
    const row = {};
    analysers.forEach((a, ch) => {
      a.getFloatFrequencyData(spectrum);
      a.getFloatTimeDomainData(wave);
      let sum = 0; for (const x of wave) sum += x * x;
      row['ch' + ch] = { left: peak(spectrum, leftHz), right: peak(spectrum, rightHz),
                         rms: 20 * Math.log10(Math.sqrt(sum / wave.length) || 1e-9) };
    });
    samples.push(row);
  }
  ctx.close();
  return samples;
}"""


def outbound_kbps(page: Any, seconds: float = 5.0) -> tuple[float, dict[str, Any]]:
    first = page.evaluate(AUDIO_STATS)
    page.wait_for_timeout(int(seconds * 1000))
    second = page.evaluate(AUDIO_STATS)
    elapsed_s = (second["timestamp"] - first["timestamp"]) / 1000
    return 8 * (second["bytesSent"] - first["bytesSent"]) / elapsed_s / 1000, second


def test_tutor_and_student_hear_each_other_in_stereo_then_the_tutor_ends_the_lesson(
    room_live: LiveRoomServer,
    database_url: str,
    tmp_path: Path,
    queue: DramatiqQueue,
    csp_watch: CspWatch,
) -> None:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    lesson = run_async(make_lesson(database_url))
    tutor_wav = stereo_wav(tmp_path / "tutor.wav", *TUTOR_TONES)
    student_wav = stereo_wav(tmp_path / "student.wav", *STUDENT_TONES)
    with sync_playwright() as playwright:
        browsers = [
            playwright.chromium.launch(
                executable_path=executable, headless=True, args=media_flags(wav)
            )
            for wav in (tutor_wav, student_wav)
        ]
        try:
            pages = []
            for browser, email in zip(
                browsers, (lesson.tutor_email, lesson.student_email), strict=True
            ):
                context = csp_watch.new_context(browser, viewport={"width": 390, "height": 844})
                page = context.new_page()
                page.set_default_timeout(20_000)
                log_in(page, room_live.url, email)
                page.goto(f"{room_live.url}/lessons/{lesson.booking_id}")
                page.get_by_test_id("join-lesson").click()  # on both sides' lesson pages
                page.wait_for_url(f"**/lessons/{lesson.booking_id}/room")
                pages.append(page)
            tutor, student = pages
            for page in pages:
                page.wait_for_function(
                    "() => window.duetRoom && window.duetRoom.pc && "
                    "window.duetRoom.pc.connectionState === 'connected'"
                )
                page.wait_for_function(
                    "() => document.querySelector('[data-testid=remote-tile] .tile-state')"
                    ".textContent === ''"
                )

            # getStats(): stereo Opus with the music fmtp, at the chosen 192 kbit/s, sent as RED.
            for page in pages:
                kbps, stats = outbound_kbps(page)
                assert stats["mimeType"] == "audio/opus" and stats["channels"] == 2, stats
                fmtp = dict(p.split("=") for p in stats["fmtp"].split(";"))
                assert fmtp["stereo"] == "1" and fmtp["sprop-stereo"] == "1", stats
                # The fmtp names the ceiling; the sender's maxBitrate sets the lesson's bitrate.
                assert fmtp["maxaveragebitrate"] == "510000" and fmtp["usedtx"] == "0", stats
                assert 192 * 0.9 <= stats["target"] / 1000 <= 192, stats
                # RED: every Opus packet goes twice (itself, then inside the next one).
                assert stats["sendCodec"] == "audio/red", stats
                assert 192 * 0.9 <= kbps / 2 <= 192 * 1.1, (kbps, stats)

            # Web Audio: the student's left tone stays left and the right stays right, on the
            # tutor's page, and its level holds for 10 s.
            samples = tutor.evaluate(LISTEN, [lesson.student_id, *STUDENT_TONES, 10])
            settled = samples[4:]  # the first second after the analyser starts
            for row in settled:
                assert row["ch0"]["left"] - row["ch0"]["right"] >= 30, row
                assert row["ch1"]["right"] - row["ch1"]["left"] >= 30, row
            for channel in ("ch0", "ch1"):
                levels = [row[channel]["rms"] for row in settled]
                middle = statistics.median(levels)
                assert middle > -20, (channel, levels)  # the tone at its level, not turned down
                # No gain pumping and no noise suppression fading the note: the level at the
                # end is the level at the start, and (allowing a rare dropout on a busy CI
                # machine, which is a glitch, not processing) stays within 3 dB.
                start, end = statistics.median(levels[:8]), statistics.median(levels[-8:])
                assert abs(end - start) <= 1.0, (channel, levels)
                steady = [x for x in levels if abs(x - middle) <= 3.0]
                assert len(steady) >= 0.9 * len(levels), (channel, levels)
            # ... and the other way round, briefly.
            back = student.evaluate(LISTEN, [lesson.tutor_id, *TUTOR_TONES, 2])
            assert back[-1]["ch0"]["left"] - back[-1]["ch0"]["right"] >= 30, back[-1]

            # The tutor changes the bitrate: each browser's audio sender follows at once on the
            # same connection (no new offer: no silence, no video restart).
            for page in pages:
                page.evaluate("() => { window.firstConnection = window.duetRoom.pc; }")
            tutor.get_by_text("Devices and sound").click()
            tutor.get_by_test_id("bitrate-select").select_option("320")
            for page in pages:
                page.wait_for_function("() => window.duetRoom.bitrateChanges === 1")
            tutor.wait_for_timeout(1000)
            for page in pages:
                kbps, stats = outbound_kbps(page, 3)
                # The encoder's target follows (less the packet overhead). At 320 kbit/s a 20 ms
                # Opus packet is 800 bytes and Chromium leaves the redundant copy out of RED
                # (both would not fit one packet), so the rate is the target, not twice it.
                assert 320 * 0.9 <= stats["target"] / 1000 <= 320, stats
                assert 320 * 0.9 <= kbps <= 2 * 320 * 1.1, (kbps, stats)
                assert page.evaluate("() => window.duetRoom.pc === window.firstConnection")

            # Chat reaches the other side.
            student.get_by_label("Message").fill("Shall we start with scales?")
            student.get_by_role("button", name="Send").click()
            tutor.get_by_test_id("chat-lines").get_by_text("Shall we start with scales?").wait_for()

            # The tutor ends the lesson: both see it end, and the booking is completed.
            tutor.once("dialog", lambda dialog: dialog.accept())
            tutor.get_by_test_id("end-lesson").click()
            for page in pages:
                page.get_by_test_id("room-alert").get_by_text("The lesson has ended.").wait_for()
            student.get_by_role("link", name="Back to the lesson").click()
            assert student.get_by_test_id("status").inner_text() == "completed"
            assert student.get_by_test_id("room-closed").is_visible()
        finally:
            for browser in browsers:
                browser.close()
    [row] = sql_rows(room_live, lesson.booking_id)
    assert row == (State.COMPLETED.value, "end_lesson")


def sql_rows(server: LiveRoomServer, booking_id: int) -> list[tuple[str, str]]:
    class _Client:  # tests.scheduling.helpers.sql takes a client with .app
        app = server.app

    rows = sql(
        _Client(),  # type: ignore[arg-type]
        "SELECT b.status, t.event FROM bookings b JOIN booking_transitions t "
        "ON t.booking_id = b.id WHERE b.id = $1 ORDER BY t.id DESC LIMIT 1",
        booking_id,
    )
    return [(r["status"], r["event"]) for r in rows]


def test_the_join_button_shows_only_when_the_room_is_open(
    room_live: LiveRoomServer, database_url: str, browser_page: Any
) -> None:
    from datetime import timedelta

    later = run_async(make_lesson(database_url, starts_in=timedelta(hours=3)))
    log_in(browser_page, room_live.url, later.student_email)
    browser_page.goto(f"{room_live.url}/lessons/{later.booking_id}")
    assert browser_page.get_by_test_id("join-lesson").count() == 0
    assert re.search(r"The room opens at", browser_page.get_by_test_id("room-opens").inner_text())
    browser_page.goto(f"{room_live.url}/lessons/{later.booking_id}/room")
    assert "not open yet" in browser_page.get_by_test_id("room-refused").inner_text()


def test_the_pre_lesson_check_measures_the_network_and_shows_stereo_input(
    room_live: LiveRoomServer, database_url: str, tmp_path: Path, csp_watch: CspWatch
) -> None:
    from datetime import timedelta

    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    lesson = run_async(make_lesson(database_url, starts_in=timedelta(hours=1)))
    wav = stereo_wav(tmp_path / "check.wav", *TUTOR_TONES, seconds=1)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=media_flags(wav)
        )
        try:
            context = csp_watch.new_context(browser, viewport={"width": 390, "height": 844})
            page = context.new_page()
            page.set_default_timeout(20_000)
            log_in(page, room_live.url, lesson.student_email)
            page.goto(f"{room_live.url}/lessons/{lesson.booking_id}/check")
            page.get_by_test_id("channels").get_by_text("Stereo input").wait_for()
            assert page.get_by_test_id("headphones").is_visible()
            page.get_by_test_id("network-test").click()  # also starts the level meter
            page.wait_for_function(
                "() => /ms$/.test(document.querySelector('[data-testid=rtt]').textContent)"
            )
            assert page.get_by_test_id("verdict").inner_text() == "Good for playing together"
            page.wait_for_function(
                "() => /dBFS$/.test(document.querySelector('[data-testid=level-text]').textContent)"
            )
            level = float(page.get_by_test_id("level-text").inner_text().split()[0])
            assert -20 < level < 0  # the tone, at its level: no automatic gain
            assert page.get_by_test_id("go-to-room").count() == 0  # opens in 50 minutes
        finally:
            browser.close()
