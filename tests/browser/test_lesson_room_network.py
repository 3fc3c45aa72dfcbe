"""The lesson room on a real (if small) network: two headless Chromiums in a network namespace
this test makes, the server on the host end of a veth pair (no media on loopback), 2 % of UDP
packets dropped each way inside the namespace (so on each hop: sender to server, server to
receiver). Asserted on what the receiving browser measures: RED in use, little audio concealed,
the stereo tones apart and steady, and the jitter buffer back to its level after a reload and
after a bitrate change (which also opens no new connection).

Needs root, ``ip`` and ``iptables`` (CI has them: ``.ci/run``). Elsewhere it skips and says why,
unless ``DUET_REQUIRE_NETNS`` is set, when it fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from tests.browser.conftest import CspWatch
from tests.browser.room_network import (
    TRACE,
    concealment,
    lesson_room_in,
    recovery,
    wait_connected,
)
from tests.helpers import run_async
from tests.netns import Namespace, namespace_problem, network_namespace
from tests.video.lessons import make_lesson
from tests.video.server import LiveRoomServer, live_room_server, loopback_room_settings

# Solo: in the full parallel run, the other worker's tests starved the browsers' audio (1.4-4.4 %
# concealed, a 3.1 dB level range, against 0.18 % and 0.1 dB alone); see tests/solo.py.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.solo]


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    problem = namespace_problem()
    if problem is not None:
        if os.environ.get("DUET_REQUIRE_NETNS"):
            pytest.fail(f"{problem}; DUET_REQUIRE_NETNS is set, so this test must run")
        pytest.skip(problem)
    with network_namespace() as made:
        yield made


@pytest.fixture
def room_on_veth(
    settings: Settings, queue: DramatiqQueue, namespace: Namespace
) -> Iterator[LiveRoomServer]:
    address = namespace.host_address
    with live_room_server(loopback_room_settings(settings, address), queue, host=address) as s:
        yield s


def test_music_survives_two_percent_loss_a_reload_and_a_bitrate_change(
    room_on_veth: LiveRoomServer,
    namespace: Namespace,
    database_url: str,
    tmp_path: Path,
    csp_watch: CspWatch,
) -> None:
    from playwright.sync_api import sync_playwright

    lesson = run_async(make_lesson(database_url))
    with (
        sync_playwright() as playwright,
        lesson_room_in(
            namespace, room_on_veth.url, lesson, tmp_path, playwright, csp_watch
        ) as room,
    ):
        for page in (room.tutor, room.student):
            stats = room.snapshot(page)
            assert stats["sendCodec"] == "audio/red", stats
            assert stats["remoteAddress"] == namespace.host_address, stats  # the veth, not lo

        clean = room.baseline_ms(room.tutor)
        print(f"no loss: jitter buffer {clean:.0f} ms")
        namespace.set_udp_loss(2)
        room.tutor.wait_for_timeout(2000)
        before = room.snapshot(room.tutor)
        samples = room.listen(10)
        after = room.snapshot(room.tutor)
        concealed = concealment(before, after)
        lost = (after["lost"] - before["lost"]) / max(
            1, after["lost"] - before["lost"] + after["received"] - before["received"]
        )
        settled = samples[4:]
        levels = {ch: [row[ch]["rms"] for row in settled] for ch in ("ch0", "ch1")}
        level_range = max(max(v) - min(v) for v in levels.values())
        print(
            f"2 % loss each hop: last hop lost {lost:.2%}, concealed {concealed:.2%}, "
            f"marker level range {level_range:.1f} dB, shown loss {after['shownLoss']}"
        )
        assert concealed <= 0.015, (concealed, before, after)  # 3.9-4.8 % without RED
        for row in settled:
            assert row["ch0"]["left"] - row["ch0"]["right"] >= 30, row
            assert row["ch1"]["right"] - row["ch1"]["left"] >= 30, row
        assert level_range <= 2.0, levels  # 6.7 dB without RED
        # The label counts the loss before the server too, not just this browser's last hop.
        shown = after["shownLoss"]
        assert shown["beforeServer"] > 0 and shown["endToEnd"] > shown["lastHop"], shown

        # The student reloads: the tutor's jitter buffer is back at its level within seconds.
        baseline = room.baseline_ms(room.tutor)
        room.student.reload()
        wait_connected(room.student)
        rows = room.tutor.evaluate(TRACE, 6)
        reload = recovery(baseline, rows, tolerance_ms=60)
        print(f"after a reload: {reload}")
        # Near where it was, at once: it sat at 450-560 ms for good before the timestamps
        # followed the wall clock across the gap. (The goal, within 20 ms in 2 s, is not met
        # under loss: +30 ms was measured; see docs/architecture.md.)
        # The bound is the defect's (450-560 ms), not the goal's: how far above its baseline
        # the buffer settles follows the machine's load (+30 ms idle, +63 ms and +73 ms with
        # the cores busy), which bench/rooms.py --browsers measures instead.
        # Under a loaded machine the level before the reload is itself high (200 ms was seen in
        # a full parallel run, 38 ms alone): the bound follows it, still far below the defect's
        # +400-500 ms.
        assert reload.settle_s is not None and reload.settle_s <= 2.0, reload
        assert max(reload.windows_ms[-4:]) <= max(250, baseline + 150), reload

        # The tutor changes the bitrate: same connections, no gap, the buffer stays.
        for page in (room.tutor, room.student):
            page.evaluate("() => { window.firstConnection = window.duetRoom.pc; }")
        baseline = room.baseline_ms(room.tutor)
        room.tutor.get_by_text("Devices and sound").click()
        room.tutor.get_by_test_id("bitrate-select").select_option("128")
        rows = room.tutor.evaluate(TRACE, 4)
        change = recovery(baseline, rows)
        print(f"after a bitrate change: {change}")
        for page in (room.tutor, room.student):
            assert page.evaluate("() => window.duetRoom.bitrateChanges") == 1
            assert page.evaluate("() => window.duetRoom.pc === window.firstConnection")
        assert change.longest_gap_ms <= 60, change
