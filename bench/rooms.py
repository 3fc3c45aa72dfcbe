"""Benchmark: lesson rooms on one media server process.

    .venv/bin/python bench/rooms.py [--audio-rooms 1,8] [--video-rooms 1,8] [--seconds 15]
                                    [--rounds 2] [--janus auto|no] [--browsers yes|no|only]

Starts a throwaway embedded PostgreSQL in a temporary folder and the Duet web server (with its
media server) on 127.0.0.1 in a child process, with ``ROOM_MEDIA_ADDRESSES=127.0.0.1``: every
packet stays on loopback. For each count it opens that many rooms, each with two synthetic
aiortc participants (``tests/video/peers.py``) sending stereo Opus at 192 kbit/s (and, in the
second run, VP8 640x480 at about 1 Mbit/s), waits for media to flow, and then measures over
``--seconds``:

- server CPU per room, as the server process's CPU time (user + system, from psutil) divided by
  the measured wall time and the number of rooms, in % of one core. CPU *time* is used, not a
  wall-clock ratio, because this machine's cores are shared: time spent waiting for a core is
  not counted, so the figure is what a room costs, not how busy the machine was;
- memory per room: the server's resident memory with the rooms up, minus before, per room;
- the server's added latency per forwarded packet, from the moment the packet was complete at
  the media server to the moment its RTP left (the server's own timing, p50/p99, over the
  measured window) beside how late the server's event loop ran a 100 ms timer in the same
  window (the wait every packet shares when the process does not get a core), and, as a
  cross-check, the one-way delay of Opus packets from one participant to the other against a
  direct peer-to-peer connection measured in the same run;
- how many rooms fit under 75 % of the machine's two cores (one media process is one core at
  most, so: rooms per process at 75 % of a core, at the per-room cost of the largest run,
  times two processes).

Participants run in this process; the packet rate the server forwarded is printed next to the
expected rate, so a participant process that cannot keep up is visible.

Side by side with Janus (``bench/janus.py``), when the ``janus`` binary is installed and this
runs as root: Janus's videoroom plugin from a throwaway configuration, its HTTP API on
127.0.0.1 and its ICE on the host end of a veth pair in a namespace made for the run
(``tests/netns.py``; libnice gathers no loopback candidates, and the participants reach that
address locally, as they reach Duet's 127.0.0.1). The same participants and media: each
publishes its tracks and subscribes to the other's feed (two connections each, where Duet has
one). Every room count runs ``--rounds`` times on each server, interleaved and alternating which
goes first; the same CPU-time and memory figures are taken from the ``janus`` process, and the
table prints both, their ratio, and what each participant received (Opus packets/s, VP8
frames/s). A first room on each server, before the others, is measured apart: it pays for
set-up (Duet imports its media stack then). Without Janus, Duet's figures alone and why.

Then (``--browsers``, as root) two headless Chromiums in a network namespace
(``tests/netns.py``), a second server process on the host end of its veth pair, and a router
namespace dropping 0 % and then 2 % of UDP each way: from the tutor's browser's ``getStats()``
and Web Audio, the share of the student's sound concealed over 10 s, the marker tone's level
range, the jitter buffer delay, and how it moves after the student reloads and after the tutor
changes the bitrate (``tests/browser/room_network.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.janus import JanusParticipant, JanusServer, create_room, janus_binary
from bench.server_env import bench_secrets
from bench.wire import WireCapture, paired_delays_ms
from marketplace import db, migrate
from marketplace.accounts import service as accounts
from marketplace.accounts.models import TokenKind, User
from marketplace.embedded import EmbeddedPostgres
from tests.video.lessons import Lesson, make_lesson
from tests.video.peers import (
    LOOPBACK,
    PacedPackets,
    RoomClient,
    encode_opus,
    encode_vp8,
    no_ice_servers,
    stereo_tone,
    vp8_track,
)
from video.ice import AddressPolicy

GOALS = {"audio": 3.0, "video": 8.0}  # % of one core per room
LATENCY_GOAL_MS = 5.0
WIRE_GOAL_MS = 2.0  # the same packet in and out of the server's sockets, 8 rooms
SETTLE_SECONDS = 4.0
MAX_TOTAL_SECONDS = 20 * 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_server(
    url: str, port: int, var: Path, host: str = "127.0.0.1"
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        **bench_secrets(),
        "DUET_VAR_DIR": str(var),
        "ROOM_MEDIA_ADDRESSES": host,
        "BASE_URL": f"http://{host}:{port}",
    }
    code = (
        "import logging, uvicorn; from marketplace.app import create_app; "
        "from marketplace.settings import Settings; "
        "logging.basicConfig(level=logging.WARNING); "
        f"uvicorn.run(create_app(Settings.from_env()), host='{host}', port={port}, "
        "log_level='warning', access_log=False)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the bench server did not start")


async def admin_token(url: str) -> str:
    engine = db.create_engine(url, pool_size=1)
    try:
        async with db.create_session_factory(engine)() as session, session.begin():
            admin = User(
                email="admin@bench.example",
                password_hash="!",  # noqa: S106 - unusable: the bench uses a token
                full_name="Bench Admin",
                roles=["admin"],
            )
            session.add(admin)
            await session.flush()
            issued = await accounts.issue_token(
                session, admin, TokenKind.API, lifetime=timedelta(hours=2)
            )
            return issued.secret
    finally:
        await engine.dispose()


class Media:
    """Encoded once, shared by every participant (each gets its own paced copy)."""

    def __init__(self) -> None:
        print("  encoding test media (stereo Opus 192 kbit/s, VP8 640x480)…", flush=True)
        self.opus = [
            encode_opus(stereo_tone(10, left, right), 192)
            for left, right in ((440, 660), (523, 784))
        ]
        self.vp8 = encode_vp8(300, 640, 480, bitrate=1_000_000)

    def tracks(self, who: int, video: bool) -> list[PacedPackets]:
        tracks = [PacedPackets("audio", self.opus[who], 0.020, 48_000)]
        if video:
            tracks.append(vp8_track(self.vp8))
        return tracks


def one_way_delays(sender: PacedPackets, arrivals: list[tuple[float, bytes]]) -> list[float]:
    """Send-to-arrival delay (ms) of each Opus packet, matched by its payload to the latest
    time it was sent before it arrived (the packets loop every 10 s)."""
    sent_at: dict[bytes, list[float]] = {}
    for payload, at in zip(sender.sent, sender.sent_at, strict=True):
        sent_at.setdefault(payload, []).append(at)
    delays = []
    for arrived, payload in arrivals:
        earlier = [at for at in sent_at.get(payload, ()) if at <= arrived]
        if earlier:
            delays.append((arrived - max(earlier)) * 1000)
    return delays


def watch_arrivals(pc: Any) -> list[tuple[float, bytes]]:
    """Record (time, payload) of every Opus RTP packet as the participant's transport gets it."""
    arrivals: list[tuple[float, bytes]] = []
    for transceiver in pc.getTransceivers():
        if transceiver.kind != "audio":
            continue
        receiver = transceiver.receiver
        original = receiver._handle_rtp_packet

        async def capture(packet: Any, arrival_time_ms: int, original: Any = original) -> None:
            arrivals.append((time.monotonic(), bytes(packet.payload)))
            await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = capture
    return arrivals


async def direct_baseline(media: Media, seconds: float) -> list[float]:
    """Two participants connected to each other, no server: the delay of the stack alone."""
    from aiortc import RTCPeerConnection

    a, b = RTCPeerConnection(no_ice_servers()), RTCPeerConnection(no_ice_servers())
    tracks = [media.tracks(0, False)[0], media.tracks(1, False)[0]]
    try:
        a.addTransceiver(tracks[0], direction="sendrecv")
        LOOPBACK.apply(a)
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        b.getTransceivers()[0].sender.replaceTrack(tracks[1])
        b.getTransceivers()[0].direction = "sendrecv"
        LOOPBACK.apply(b)
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        arrivals = watch_arrivals(b)
        _silence_decoder(b)
        _silence_decoder(a)
        await asyncio.sleep(SETTLE_SECONDS + seconds)
        return one_way_delays(tracks[0], arrivals)[int(SETTLE_SECONDS * 50) :]
    finally:
        await a.close()
        await b.close()


def _silence_decoder(pc: Any) -> None:
    from video.forwarding import PacketTap

    for transceiver in pc.getTransceivers():
        PacketTap.install(transceiver.receiver, transceiver.kind, lambda packet: None)


async def idle_cpu(server: psutil.Process, seconds: float = 3.0) -> float:
    """The server's own CPU use with no media (its timers, the room watchdog), in cores."""
    cpu0, wall0 = server.cpu_times(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, wall1 = server.cpu_times(), time.monotonic()
    return ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / (wall1 - wall0)


async def run_rooms(
    base: str,
    lessons: list[Lesson],
    media: Media,
    *,
    video: bool,
    seconds: float,
    server: psutil.Process,
    admin: str,
) -> dict[str, Any]:
    clients: list[tuple[RoomClient, RoomClient]] = []
    rss_before = server.memory_info().rss
    idle = await idle_cpu(server)
    try:
        for lesson in lessons:
            tutor = RoomClient(base, lesson.booking_id, lesson.tutor)
            student = RoomClient(base, lesson.booking_id, lesson.student)
            for who, client in enumerate((tutor, student)):
                await client.connect()
                await client.join_media(media.tracks(who, video), capture_raw=False)
            clients.append((tutor, student))
        for pair in clients:
            for client in pair:
                await client.connected(within=60)
        arrivals = [watch_arrivals(student.pc) for _, student in clients]
        await asyncio.sleep(SETTLE_SECONDS)
        # The capture thread reads every loopback packet in this process: with many video
        # rooms it would starve the participants, so it runs for audio and one video room.
        wire = _wire_capture(clients) if not video or len(lessons) == 1 else None
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {admin}"}) as http:
            before = (await http.get(base + "/api/v1/admin/rooms")).json()
            cpu0, wall0 = server.cpu_times(), time.monotonic()
            marks = [len(a) for a in arrivals]
            got0 = received_counts(clients)
            await asyncio.sleep(seconds)
            cpu1, wall1 = server.cpu_times(), time.monotonic()
            got1 = received_counts(clients)
            wire_delays: list[float] = []
            if wire is not None:
                wire.stop()
                for tutor, student in clients:
                    wire_delays += paired_delays_ms(
                        wire.sources[_port(tutor)], wire.sinks[_port(student)]
                    )
            after = (
                await http.get(
                    base + "/api/v1/admin/rooms",
                    params={"since": before["forwarded_packets"], "window": wall1 - wall0},
                )
            ).json()
        rss_after = server.memory_info().rss
        wall = wall1 - wall0
        cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        delays: list[float] = []
        for (tutor, _), got, mark in zip(clients, arrivals, marks, strict=True):
            delays += one_way_delays(tutor.tracks[0], got[mark:])
        forwarded = after["forwarded_packets"] - before["forwarded_packets"]
        return {
            "rooms": len(lessons),
            "cpu_per_room": 100 * (cpu / wall - idle) / len(lessons),
            "cpu_total": 100 * cpu / wall,
            "cpu_idle": 100 * idle,
            "cpu_system_share": (cpu1.system - cpu0.system) / cpu if cpu else 0.0,
            "mem_per_room_mb": (rss_after - rss_before) / len(lessons) / 2**20,
            "server_p50": after["latency_ms"]["p50"],
            "server_p99": after["latency_ms"]["p99"],
            "lag_p99": after["loop_lag_ms"]["p99"] or 0.0,
            "e2e_p50": statistics.median(delays) if delays else float("nan"),
            "e2e_p99": pct(delays, 0.99) if delays else float("nan"),
            "pps_per_room": forwarded / wall / len(lessons),
            "wire_p50": statistics.median(wire_delays) if wire_delays else float("nan"),
            "wire_p99": pct(wire_delays, 0.99) if wire_delays else float("nan"),
            "wire_pairs": len(wire_delays),
            **receive_rates(got0, got1, wall1 - wall0, len(clients) * 2),
        }
    finally:
        await asyncio.gather(*(c.close() for pair in clients for c in pair))
        await asyncio.sleep(1.0)


def received_counts(clients: list[tuple[RoomClient, RoomClient]]) -> dict[str, int]:
    """Opus packets and VP8 frames the participants' taps handed on so far, all together."""
    return {
        kind: sum(len(c.received.packets[kind]) for pair in clients for c in pair)
        for kind in ("audio", "video")
    }


def receive_rates(
    before: dict[str, int], after: dict[str, int], wall: float, receivers: int
) -> dict[str, float]:
    """Per receiving participant: Opus packets/s (50 sent) and VP8 frames/s (30 sent)."""
    return {
        f"{kind}_rate": (after[kind] - before[kind]) / wall / receivers
        for kind in ("audio", "video")
    }


async def run_janus_rooms(
    janus: JanusServer,
    policy: AddressPolicy,
    rooms: int,
    media: Media,
    *,
    video: bool,
    seconds: float,
    first_room: int,
) -> dict[str, Any]:
    """The same rooms on Janus: each participant publishes its tracks and subscribes to the
    other's feed; the same CPU and memory figures from the ``janus`` process."""
    assert janus.process is not None
    server = psutil.Process(janus.process.pid)
    pairs: list[tuple[JanusParticipant, JanusParticipant]] = []
    rss_before = server.memory_info().rss
    idle = await idle_cpu(server)
    async with httpx.AsyncClient() as http:
        try:
            for index in range(rooms):
                room = first_room + index
                await create_room(http, janus.url, room, video)
                pair = (
                    JanusParticipant(janus.url, http, policy),
                    JanusParticipant(janus.url, http, policy),
                )
                pairs.append(pair)
                for who, participant in enumerate(pair):
                    await participant.publish(room, media.tracks(who, video))
            for tutor, student in pairs:
                await tutor.connected(60, subscriber=False)
                await student.connected(60, subscriber=False)
                assert tutor.feed is not None and student.feed is not None
                await tutor.subscribe(tutor.room, student.feed)
                await student.subscribe(student.room, tutor.feed)
            for pair in pairs:
                for participant in pair:
                    await participant.connected(60)
            await asyncio.sleep(SETTLE_SECONDS)
            got0 = janus_counts(pairs)
            cpu0, wall0 = server.cpu_times(), time.monotonic()
            await asyncio.sleep(seconds)
            cpu1, wall1 = server.cpu_times(), time.monotonic()
            got1 = janus_counts(pairs)
            rss_after = server.memory_info().rss
        finally:
            await asyncio.gather(
                *(p.close() for pair in pairs for p in pair), return_exceptions=True
            )
            await asyncio.sleep(1.0)
    wall = wall1 - wall0
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {
        "rooms": rooms,
        "cpu_per_room": 100 * (cpu / wall - idle) / rooms,
        "cpu_total": 100 * cpu / wall,
        "cpu_idle": 100 * idle,
        "mem_per_room_mb": (rss_after - rss_before) / rooms / 2**20,
        **receive_rates(got0, got1, wall, rooms * 2),
    }


def janus_counts(pairs: list[tuple[JanusParticipant, JanusParticipant]]) -> dict[str, int]:
    return {
        kind: sum(p.received.counts[kind] for pair in pairs for p in pair)
        for kind in ("audio", "video")
    }


def _port(client: RoomClient) -> int:
    assert client.pc is not None
    gatherer = client.pc.getTransceivers()[0].sender.transport.transport.iceGatherer
    return int(gatherer.getLocalCandidates()[0].port)


def _wire_capture(clients: list[tuple[RoomClient, RoomClient]]) -> WireCapture | None:
    """Capture the tutors' audio going in and its copies going out (root only)."""
    if os.geteuid() != 0:
        return None
    capture = WireCapture("lo")
    capture.watch(
        [_port(tutor) for tutor, _ in clients], [_port(student) for _, student in clients]
    )
    capture.start()
    return capture


def report(kind: str, rows: list[dict[str, Any]], baseline: list[float]) -> None:
    expected = 100 if kind == "audio" else None
    print(
        f"\n  {kind}: two participants per room, stereo Opus 192 kbit/s"
        + (" + VP8 640x480" if kind == "video" else "")
    )
    print(
        "    rooms  CPU/room  CPU total  MB/room  server added p50/p99 (event loop lag p99)   "
        "one-way via server p50/p99   packets/s per room"
    )
    for r in rows:
        rate = f"{r['pps_per_room']:.0f}" + (f" (expected {expected})" if expected else "")
        print(
            f"    {r['rooms']:5d}  {r['cpu_per_room']:6.2f} %  {r['cpu_total']:7.1f} %"
            f" ({r['cpu_idle']:.1f} %, kernel {100 * r['cpu_system_share']:.0f} %)"
            f"  {r['mem_per_room_mb']:7.2f}  {r['server_p50']:7.3f} / {r['server_p99']:6.3f} ms"
            f" (loop lag p99 {r['lag_p99']:5.2f})"
            f"   {r['e2e_p50']:8.2f} / {r['e2e_p99']:6.2f} ms        {rate}"
        )
    worst = max(r["cpu_per_room"] for r in rows)
    print(
        f"    goal ≤ {GOALS[kind]:.0f} % of a core per room: worst {worst:.2f} % → "
        f"{'met' if worst <= GOALS[kind] else 'NOT met'} ("
        + ", ".join(
            f"{r['rooms']} room{'s' if r['rooms'] > 1 else ''}: "
            f"{'met' if r['cpu_per_room'] <= GOALS[kind] else 'not met'}"
            for r in rows
        )
        + ")"
    )
    largest = max(rows, key=lambda r: r["rooms"])
    per_process = int(75 / largest["cpu_per_room"]) if largest["cpu_per_room"] > 0 else 0
    print(
        f"    rooms under 75 % of the 2 cores (at the cost per room with {largest['rooms']} "
        f"rooms): {per_process} per media process at 75 % of one core, {2 * per_process} "
        "with two processes"
    )
    for r in rows:
        print(
            f"    on the wire (same packet in and out, {r['wire_pairs']} pairs): "
            f"{r['rooms']} room(s) p50 {r['wire_p50']:.3f} ms, p99 {r['wire_p99']:.3f} ms "
            f"(goal p99 ≤ {WIRE_GOAL_MS:.0f} ms with 8 rooms)"
        )
    p99 = max(r["server_p99"] for r in rows)
    print(
        f"    server added latency p99 ≤ {LATENCY_GOAL_MS:.0f} ms: worst {p99:.3f} ms → "
        f"{'met' if p99 <= LATENCY_GOAL_MS else 'NOT met'}"
    )
    if baseline:
        print(
            f"    baseline, direct peer to peer (no server): one-way p50 "
            f"{statistics.median(baseline):.2f} ms, p99 {pct(baseline, 0.99):.2f} ms"
        )


def browser_figures(base: str, lesson: Lesson, namespace: Any, folder: Path, loss: float) -> None:
    """Two Chromiums in ``namespace`` (behind its router dropping ``loss`` % of UDP each way):
    what the tutor's browser measures of the student's sound."""
    from playwright.sync_api import sync_playwright

    from tests.browser.room_network import TRACE, concealment, lesson_room_in, recovery
    from tests.browser.room_network import wait_connected as connected

    with (
        sync_playwright() as playwright,
        lesson_room_in(namespace, base, lesson, folder, playwright, None) as room,
    ):
        namespace.set_udp_loss(loss)
        room.tutor.wait_for_timeout(3000)
        before = room.snapshot(room.tutor)
        samples = room.listen(10)[4:]
        after = room.snapshot(room.tutor)
        level_range = max(
            max(row[ch]["rms"] for row in samples) - min(row[ch]["rms"] for row in samples)
            for ch in ("ch0", "ch1")
        )
        steady = room.baseline_ms(room.tutor)
        room.student.reload()
        connected(room.student)
        reload = recovery(steady, room.tutor.evaluate(TRACE, 6))
        before_change = room.baseline_ms(room.tutor)
        room.tutor.get_by_text("Devices and sound").click()
        room.tutor.get_by_test_id("bitrate-select").select_option("128")
        change = recovery(before_change, room.tutor.evaluate(TRACE, 5))
        namespace.set_udp_loss(0)

    def settle(value: float | None) -> str:
        return "never" if value is None else f"{value:.1f} s"

    print(
        f"  {loss:.0f} % loss each hop: concealed {concealment(before, after):.2%}, "
        f"marker level range {level_range:.1f} dB over 10 s, send codec {after['sendCodec']}\n"
        f"    jitter buffer {steady:.0f} ms; after a reload {reload.final_ms:.0f} ms "
        f"(within 20 ms: {settle(reload.settle_s)}, longest gap {reload.longest_gap_ms:.0f} ms); "
        f"after a bitrate change {before_change:.0f} -> {change.final_ms:.0f} ms "
        f"(within 20 ms: {settle(change.settle_s)}, longest gap {change.longest_gap_ms:.0f} ms)"
    )


def run_browsers(url: str, var: Path, folder: Path) -> None:
    from tests.netns import namespace_problem, network_namespace

    problem = namespace_problem()
    if problem is not None:
        print(f"\nBrowsers on a lossy network: skipped ({problem})")
        return
    lessons = [asyncio.run(make_lesson(url)) for _ in range(2)]
    with network_namespace() as namespace:
        port = free_port()
        process = start_server(url, port, var, host=namespace.host_address)
        try:
            base = f"http://{namespace.host_address}:{port}"
            print(
                "\nTwo Chromiums in a network namespace, the server over veth, UDP loss each way:"
            )
            for lesson, loss in zip(lessons, (0, 2), strict=True):
                browser_figures(base, lesson, namespace, folder, loss)
        finally:
            process.terminate()
            process.wait(20)


def counts(text: str) -> list[int]:
    values = [int(x) for x in text.split(",") if x.strip()]
    if any(v < 1 or v > 40 for v in values):
        raise SystemExit("room counts must be between 1 and 40")
    return values


GOAL_RATIO = {"audio": 1.2, "video": 1.3}  # Duet's CPU per room over Janus's
GOAL_MB_PER_ROOM = 3.0


def compare(kind: str, duet: list[dict[str, Any]], janus: list[dict[str, Any]]) -> None:
    """Duet next to Janus, per room count: the mean of the interleaved rounds and the ratio."""
    print(
        f"\n  {kind}: Duet / Janus (mean of {len(duet) // len({r['rooms'] for r in duet})} rounds)"
    )
    print(
        "    rooms  CPU/room Duet  Janus  ratio (goal)     MB/room Duet  Janus   "
        "received per participant Duet / Janus (sent: 50 Opus packets/s, 30 VP8 frames/s)"
    )
    for rooms in sorted({r["rooms"] for r in duet}):
        ours = [r for r in duet if r["rooms"] == rooms]
        theirs = [r for r in janus if r["rooms"] == rooms]
        if not theirs:
            continue

        def mean(rows: list[dict[str, Any]], key: str) -> float:
            return statistics.fmean(r[key] for r in rows)

        cpu, base = mean(ours, "cpu_per_room"), mean(theirs, "cpu_per_room")
        ratio = cpu / base if base > 0 else float("nan")
        each = ", ".join(
            f"{a['cpu_per_room'] / b['cpu_per_room']:.2f}"
            for a, b in zip(ours, theirs, strict=False)
            if b["cpu_per_room"] > 0
        )
        mem, base_mem = mean(ours, "mem_per_room_mb"), mean(theirs, "mem_per_room_mb")
        rates = f"audio {mean(ours, 'audio_rate'):.1f} / {mean(theirs, 'audio_rate'):.1f}" + (
            f", video {mean(ours, 'video_rate'):.1f} / {mean(theirs, 'video_rate'):.1f}"
            if kind == "video"
            else ""
        )
        met = "met" if ratio <= GOAL_RATIO[kind] else "NOT met"
        print(
            f"    {rooms:5d}  {cpu:8.2f} %  {base:5.2f} %  {ratio:5.2f} "
            f"(≤ {GOAL_RATIO[kind]}: {met}; rounds {each})"
            f"  {mem:8.2f}  {base_mem:6.2f}   {rates}"
        )
    worst = max(r["mem_per_room_mb"] for r in duet)
    print(
        f"    Duet memory per room ≤ {GOAL_MB_PER_ROOM:.0f} MB (after the first room): worst "
        f"{worst:.2f} MB → {'met' if worst <= GOAL_MB_PER_ROOM else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio-rooms", default="1,8", type=counts)
    parser.add_argument("--video-rooms", default="1,8", type=counts)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--rounds", type=int, default=2, help="interleaved Duet/Janus runs per room count (1-4)"
    )
    parser.add_argument(
        "--janus",
        choices=("auto", "no"),
        default="auto",
        help="auto: also run Janus when the janus binary is installed (needs root)",
    )
    parser.add_argument(
        "--browsers",
        choices=("yes", "no", "only"),
        default="yes",
        help="also (or only) measure two Chromiums under 0 and 2 %% loss (needs root)",
    )
    args = parser.parse_args()
    if not 5 <= args.seconds <= 120:
        raise SystemExit("--seconds must be between 5 and 120")
    if not 1 <= args.rounds <= 4:
        raise SystemExit("--rounds must be between 1 and 4")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="duet-bench-rooms-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg", fast_unsafe=True)
        pg.start()
        server_process: subprocess.Popen[bytes] | None = None
        try:
            pg.ensure_database("bench")
            url = pg.url("bench")
            migrate.upgrade(url)
            most = max(args.audio_rooms + args.video_rooms)
            lessons = [asyncio.run(make_lesson(url)) for _ in range(most)]
            admin = asyncio.run(admin_token(url))
            port = free_port()
            server_process = start_server(url, port, Path(tmp) / "var")
            server = psutil.Process(server_process.pid)
            base = f"http://127.0.0.1:{port}"
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(
                f"Lesson rooms on one media process ({os.cpu_count()} CPUs, shared; load {load}):"
            )
            if args.browsers != "only":
                with contextlib.ExitStack() as stack:
                    janus = start_janus(args.janus, Path(tmp), stack)
                    media = Media()
                    asyncio.run(run_all(args, started, base, lessons, media, server, admin, janus))
            if args.browsers != "no":
                run_browsers(url, Path(tmp) / "var", Path(tmp))
        finally:
            if server_process is not None:
                server_process.terminate()
                server_process.wait(20)
            pg.stop()


def start_janus(
    wanted: str, tmp: Path, stack: contextlib.ExitStack
) -> tuple[JanusServer, AddressPolicy] | None:
    """Janus on the host end of a veth pair in a namespace made for it (libnice gathers no
    loopback candidates; the participants reach that address locally), or None, saying why."""
    if wanted == "no":
        return None
    from tests.netns import namespace_problem, network_namespace

    problem = None if janus_binary() else "Janus was not found (apt-get install janus)"
    problem = problem or namespace_problem()
    if problem is not None:
        print(f"  Janus: not measured: {problem}")
        return None
    namespace = stack.enter_context(network_namespace())
    janus = JanusServer(tmp / "janus", namespace.host_address, free_port())
    janus.start()
    stack.callback(janus.stop)
    print(f"  Janus 1.1.x videoroom on {namespace.host_address} (process {janus.process.pid})")
    return janus, AddressPolicy((namespace.host_address,))


async def run_all(
    args: argparse.Namespace,
    started: float,
    base: str,
    lessons: list[Lesson],
    media: Media,
    server: psutil.Process,
    admin: str,
    janus: tuple[JanusServer, AddressPolicy] | None,
) -> None:
    baseline = await direct_baseline(media, min(args.seconds, 10))
    janus_room = iter(range(1000, 100_000, 100))

    async def duet(size: int, video: bool, seconds: float) -> dict[str, Any]:
        return await run_rooms(
            base, lessons[:size], media, video=video, seconds=seconds, server=server, admin=admin
        )

    async def baseline_server(size: int, video: bool, seconds: float) -> dict[str, Any]:
        assert janus is not None
        return await run_janus_rooms(
            janus[0], janus[1], size, media, video=video, seconds=seconds,
            first_room=next(janus_room),
        )  # fmt: skip

    # The first room of each server pays for its set-up (Duet imports its media stack then):
    # measured once, apart, so the figures below are per further room.
    print("  first room (set-up)…", flush=True)
    first = [("Duet", await duet(1, False, 5))]
    if janus is not None:
        first.append(("Janus", await baseline_server(1, False, 5)))
    print(
        "  memory of the first audio room: "
        + ", ".join(f"{name} {row['mem_per_room_mb']:.1f} MB" for name, row in first)
    )
    for kind, sizes in (("audio", args.audio_rooms), ("video", args.video_rooms)):
        ours: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        for size in sizes:
            for round_ in range(args.rounds):
                if time.monotonic() - started > MAX_TOTAL_SECONDS:
                    print(f"  stopping: the benchmark has run {MAX_TOTAL_SECONDS} s")
                    break
                # Interleaved, alternating which goes first, so drifting load hits both.
                order = ("Duet", "Janus") if round_ % 2 == 0 else ("Janus", "Duet")
                for name in order:
                    video = kind == "video"
                    if name == "Duet":
                        print(f"  {kind}: {size} room(s), Duet…", flush=True)
                        ours.append(await duet(size, video, args.seconds))
                    elif janus is not None:
                        print(f"  {kind}: {size} room(s), Janus…", flush=True)
                        theirs.append(await baseline_server(size, video, args.seconds))
        if ours:
            report(kind, ours, baseline)
        if ours and theirs:
            compare(kind, ours, theirs)
    load_now = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n  load average at the end: {load_now}")


if __name__ == "__main__":
    main()
