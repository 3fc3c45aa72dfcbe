"""Janus (its videoroom plugin) as the baseline of bench/rooms.py, driven by the same clients.

``JanusServer`` writes a throwaway configuration (the HTTP API and the videoroom plugin only,
every other plugin, transport, event handler and logger disabled, ICE on one given address, no
STUN) and starts the ``janus`` binary on it. ``JanusParticipant`` is one lesson participant as
Janus's own demos do it: a publisher handle sending its audio (and video), and a subscriber handle
receiving the other participant's feed, each with its aiortc peer connection; the aiortc side is
the one ``tests/video/peers.py`` uses for Duet (paced pre-encoded packets, taps that count what
arrives without decoding it).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription

from tests.video.peers import PacedPackets, no_ice_servers
from video.forwarding import MediaPacket, PacketTap
from video.ice import AddressPolicy

PLUGIN = "janus.plugin.videoroom"
LIBRARIES = Path("/usr/lib/x86_64-linux-gnu/janus")


def janus_binary() -> str | None:
    return shutil.which("janus")


def _disabled(folder: Path, keep: str) -> str:
    if not folder.is_dir():
        return ""
    return ",".join(sorted(p.name for p in folder.glob("*.so") if p.name != keep))


def write_config(folder: Path, address: str, http_port: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    libraries = LIBRARIES
    (folder / "janus.jcfg").write_text(
        f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{libraries / "plugins"}"
    transports_folder = "{libraries / "transports"}"
    events_folder = "{folder / "none"}"
    loggers_folder = "{folder / "none"}"
    debug_level = 3
    admin_secret = "{secrets.token_hex(16)}"
}}
media: {{
    rtp_port_range = "20000-40000"
}}
nat: {{
    nice_debug = false
    ice_enforce_list = "{address}"
}}
plugins: {{
    disable = "{_disabled(libraries / "plugins", "libjanus_videoroom.so")}"
}}
transports: {{
    disable = "{_disabled(libraries / "transports", "libjanus_http.so")}"
}}
events: {{
    broadcast = false
}}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
    base_path = "/janus"
    http = true
    port = {http_port}
    ip = "127.0.0.1"
    https = false
}}
admin: {{
    admin_base_path = "/admin"
    admin_http = false
    admin_https = false
}}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    return folder


class JanusServer:
    """A ``janus`` process on a temporary configuration; ``url`` is its HTTP API."""

    def __init__(self, folder: Path, address: str, http_port: int) -> None:
        self.folder = write_config(folder, address, http_port)
        self.url = f"http://127.0.0.1:{http_port}/janus"
        self.log = folder / "janus.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        binary = janus_binary()
        if binary is None:
            raise RuntimeError("janus is not installed")
        self.process = subprocess.Popen(
            [binary, "-F", str(self.folder), "-C", str(self.folder / "janus.jcfg"),
             "-L", str(self.log), "-N"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"janus exited; see {self.log}")
            try:
                reply = httpx.post(self.url, json={"janus": "ping", "transaction": "p"}, timeout=1)
                if reply.status_code == 200:
                    return self.process
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"janus did not answer within 30 s; see {self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class JanusSession:
    """One Janus session over the HTTP API, with its event long-poll."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url
        self.session: int | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}  # by transaction
        self._poller: asyncio.Task[None] | None = None

    async def _post(self, path: str, body: dict[str, Any], transaction: str = "") -> dict[str, Any]:
        body = {**body, "transaction": transaction or secrets.token_hex(6)}
        reply = (await self.http.post(self.url + path, json=body, timeout=20)).json()
        if reply.get("janus") == "error":
            raise RuntimeError(reply)
        return dict(reply)

    async def create(self) -> None:
        self.session = (await self._post("", {"janus": "create"}))["data"]["id"]
        self._poller = asyncio.create_task(self._poll())

    async def attach(self) -> int:
        reply = await self._post(f"/{self.session}", {"janus": "attach", "plugin": PLUGIN})
        handle = int(reply["data"]["id"])
        return handle

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A plugin request; returns its synchronous answer or, when Janus acks it, the event
        that answers it."""
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        transaction = secrets.token_hex(6)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = answer
        try:
            reply = await self._post(f"/{self.session}/{handle}", request, transaction)
            if reply.get("janus") == "success":
                return reply
            return await asyncio.wait_for(answer, 20)
        finally:
            self._waiting.pop(transaction, None)

    async def _poll(self) -> None:
        while True:
            try:
                reply = await self.http.get(
                    f"{self.url}/{self.session}", params={"maxev": 10}, timeout=40
                )
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
                continue
            events = reply.json()
            for event in events if isinstance(events, list) else [events]:
                waiting = self._waiting.get(str(event.get("transaction")))
                if event.get("janus") == "event" and waiting is not None and not waiting.done():
                    waiting.set_result(event)

    async def destroy(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        if self.session is not None:
            with contextlib.suppress(httpx.HTTPError, RuntimeError):
                await self._post(f"/{self.session}", {"janus": "destroy"})


class Counter:
    """Media that reached a participant, counted as the taps hand it on (never decoded)."""

    def __init__(self) -> None:
        self.counts = {"audio": 0, "video": 0}

    def __call__(self, packet: MediaPacket) -> None:
        self.counts[packet.kind] += 1


class JanusParticipant:
    """A publisher and a subscriber handle in one session, each with an aiortc connection."""

    def __init__(self, server_url: str, http: httpx.AsyncClient, policy: AddressPolicy) -> None:
        self.janus = JanusSession(http, server_url)
        self.policy = policy
        self.tracks: list[PacedPackets] = []
        self.feed: int | None = None
        self.room = 0
        self.publisher_pc: RTCPeerConnection | None = None
        self.subscriber_pc: RTCPeerConnection | None = None
        self.received = Counter()

    async def publish(self, room: int, tracks: list[PacedPackets]) -> None:
        self.room = room
        await self.janus.create()
        handle = await self.janus.attach()
        joined = await self.janus.message(
            handle, {"request": "join", "ptype": "publisher", "room": room}
        )
        self.feed = int(joined["plugindata"]["data"]["id"])
        pc = RTCPeerConnection(no_ice_servers())
        self.publisher_pc = pc
        self.tracks = tracks
        for track in tracks:
            pc.addTransceiver(track, direction="sendonly")
        self.policy.apply(pc)
        await pc.setLocalDescription(await pc.createOffer())
        event = await self.janus.message(
            handle,
            {"request": "publish", "audio": True, "video": len(tracks) > 1},
            {"type": "offer", "sdp": pc.localDescription.sdp},
        )
        if "jsep" not in event:
            raise RuntimeError(f"janus did not answer the publish: {event}")
        await pc.setRemoteDescription(RTCSessionDescription(event["jsep"]["sdp"], "answer"))

    async def subscribe(self, room: int, feed: int) -> None:
        handle = await self.janus.attach()
        event = await self.janus.message(
            handle,
            {"request": "join", "ptype": "subscriber", "room": room, "streams": [{"feed": feed}]},
        )
        if "jsep" not in event:
            raise RuntimeError(f"janus did not offer the subscription: {event}")
        pc = RTCPeerConnection(no_ice_servers())
        self.subscriber_pc = pc
        await pc.setRemoteDescription(RTCSessionDescription(event["jsep"]["sdp"], "offer"))
        for transceiver in pc.getTransceivers():
            PacketTap.install(transceiver.receiver, transceiver.kind, self.received)
        self.policy.apply(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        await self.janus.message(
            handle, {"request": "start"}, {"type": "answer", "sdp": pc.localDescription.sdp}
        )

    async def connected(self, within: float, subscriber: bool = True) -> None:
        deadline = time.monotonic() + within
        for pc in (self.publisher_pc, self.subscriber_pc) if subscriber else (self.publisher_pc,):
            while pc is None or pc.connectionState != "connected":
                if time.monotonic() > deadline:
                    state = pc.connectionState if pc else "none"
                    raise TimeoutError(f"janus peer connection is {state}")
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        for pc in (self.publisher_pc, self.subscriber_pc):
            if pc is not None:
                await pc.close()
        await self.janus.destroy()


async def create_room(http: httpx.AsyncClient, url: str, room: int, video: bool) -> None:
    """A videoroom for two publishers: Opus (stereo, as the participants send) and VP8."""
    session = JanusSession(http, url)
    await session.create()
    try:
        handle = await session.attach()
        await session.message(
            handle,
            {
                "request": "create",
                "room": room,
                "publishers": 2,
                "audiocodec": "opus",
                "videocodec": "vp8",
                "bitrate": 2_000_000 if video else 0,
                "opus_fec": False,
            },
        )
    finally:
        await session.destroy()
