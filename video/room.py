"""A lesson room in memory: who is in it, what goes where, chat, and its end.

One ``Room`` per lesson, kept by the app's ``RoomRegistry`` (``video.registry``). Each
participant has one signaling connection and at most one ``Peer``. Media of a participant goes
to the matching slot of every other participant's peer (and to the recorder while recording);
nothing is decoded. Slots are fixed per viewer: the tutor sees the student in slot 0 and the
student the tutor; an observer sees the tutor in slot 0 and the student in slot 1. A slot whose
participant is away simply carries nothing until they are back, so nobody renegotiates when the
other side joins, leaves or rejoins.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aiortc import RTCConfiguration

from scheduling.rooms import RoomPass, RoomRole
from video.forwarding import ForwardedTrack
from video.ice import AddressPolicy
from video.packets import LatencyStats, MediaPacket
from video.peer import Peer

logger = logging.getLogger(__name__)

CHAT_HISTORY = 200


class Connection(Protocol):
    """A participant's signaling channel (the WebSocket, or a test double)."""

    async def send(self, message: dict[str, Any]) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class MediaSink(Protocol):
    """Anything besides peers that takes a participant's packets (the recorder); ``source``
    changes when the participant's peer connection does."""

    def write(self, user_id: int, packet: MediaPacket, source: object) -> None: ...


@dataclass
class Participant:
    user_id: int
    name: str
    role: RoomRole
    connection: Connection
    joined_at: datetime
    peer: Peer | None = None
    muted: bool = False
    camera: bool = True
    mode: str = "music"  # or "speech": echo cancellation on, for someone without headphones
    connected: bool = False  # the peer connection is up
    # Audio loss as fractions, measured every few seconds: on the way in from this participant
    # (sequence gaps at the server) and on the way out to them (their RTCP receiver reports).
    uplink_loss: float | None = None
    downlink_loss: float | None = None

    @property
    def sends(self) -> bool:
        return self.role is not RoomRole.OBSERVER

    def public(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "role": self.role.value,
            "muted": self.muted,
            "camera": self.camera,
            "mode": self.mode,
            "connected": self.connected,
        }


@dataclass
class ChatLine:
    user_id: int
    name: str
    text: str
    at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "type": "chat",
            "user_id": self.user_id,
            "name": self.name,
            "text": self.text,
            "at": self.at.isoformat(),
        }


@dataclass
class Room:
    booking_id: int
    tutor_id: int
    student_id: int
    names: dict[int, str]
    starts_at: datetime
    ends_at: datetime
    closes_at: datetime
    bitrate_kbps: int
    configuration: RTCConfiguration
    policy: AddressPolicy
    latency: LatencyStats
    participants: dict[int, Participant] = field(default_factory=dict)
    chat: deque[ChatLine] = field(default_factory=lambda: deque(maxlen=CHAT_HISTORY))
    sinks: list[MediaSink] = field(default_factory=list)
    closed: bool = False
    empty_since: float | None = None
    on_change: Callable[[Room], Awaitable[None]] | None = None  # recording follows presence
    # (source user, kind) -> the tracks its packets go to; rebuilt when anyone comes or goes.
    _routes: dict[tuple[int, str], list[ForwardedTrack]] = field(default_factory=dict)
    _tasks: set[asyncio.Future[None]] = field(default_factory=set)
    # Packets in from participants and out to them, counted on the hot path; turned into
    # rates for operators every few seconds (``sample_rates``).
    packets_in: int = 0
    packets_out: int = 0
    packet_rates: dict[str, float] = field(default_factory=lambda: {"in": 0.0, "out": 0.0})
    _rates_at: tuple[float, int, int] = (0.0, 0, 0)

    # ------------------------------------------------------------------ who sees whom

    def sender_order(self) -> list[int]:
        return [self.tutor_id, self.student_id]

    def slots_for(self, viewer: RoomRole, user_id: int) -> list[int]:
        """The users whose media fill this viewer's slots, in slot order."""
        return [uid for uid in self.sender_order() if uid != user_id]

    def _reroute(self) -> None:
        routes: dict[tuple[int, str], list[ForwardedTrack]] = {}
        for viewer in self.participants.values():
            if viewer.peer is None or viewer.peer.closed:
                continue
            for slot, source_id in enumerate(self.slots_for(viewer.role, viewer.user_id)):
                for kind, track in viewer.peer.output_tracks(slot).items():
                    routes.setdefault((source_id, kind), []).append(track)
                    track.on_keyframe_request = self._keyframe_requester(source_id)
        # A new subscriber to a source's video needs a keyframe to start from.
        for (source_id, kind), tracks in routes.items():
            if kind == "video" and tracks != self._routes.get((source_id, kind)):
                self.request_keyframe(source_id)
        self._routes = routes

    def _keyframe_requester(self, source_id: int) -> Callable[[], None]:
        return lambda: self.request_keyframe(source_id)

    def request_keyframe(self, source_id: int) -> None:
        source = self.participants.get(source_id)
        if source is not None and source.peer is not None:
            source.peer.request_keyframe()

    def on_media(self, peer: Peer, packet: MediaPacket) -> None:
        """Hot path: one call per Opus packet or VP8 frame."""
        tracks = self._routes.get((peer.participant_id, packet.kind), ())
        self.packets_in += 1
        self.packets_out += len(tracks)
        for track in tracks:
            track.push(packet, peer)
        for sink in self.sinks:
            sink.write(peer.participant_id, packet, peer)

    # ------------------------------------------------------------------ membership

    async def join(self, room_pass: RoomPass, name: str, connection: Connection) -> Participant:
        previous = self.participants.get(room_pass.user_id)
        if previous is not None:
            # The same person again (a reload, a second tab, a reconnect): the newest one wins.
            await self._drop(previous, notify=False)
            await _quietly(previous.connection.close(4409, "replaced"))
        participant = Participant(
            user_id=room_pass.user_id,
            name=name,
            role=room_pass.role,
            connection=connection,
            joined_at=datetime.now(UTC),
        )
        self.participants[participant.user_id] = participant
        self.empty_since = None
        await self.broadcast(
            {"type": "participant", "participant": participant.public()},
            skip=participant.user_id,
        )
        return participant

    async def leave(self, participant: Participant) -> None:
        if self.participants.get(participant.user_id) is not participant:
            return  # already replaced by a newer connection of the same person
        await self._drop(participant, notify=True)

    async def _drop(self, participant: Participant, *, notify: bool) -> None:
        self.participants.pop(participant.user_id, None)
        peer, participant.peer = participant.peer, None
        self._reroute()
        if peer is not None:
            await peer.close()
        if not self.participants:
            self.empty_since = time.monotonic()
        if notify:
            await self.broadcast({"type": "left", "user_id": participant.user_id})
        await self._changed()

    async def negotiate(self, participant: Participant, offer: str) -> str:
        """A (new) offer from ``participant``: build a fresh peer, replacing any old one."""
        old, participant.peer = participant.peer, None
        participant.connected = False
        self._reroute()
        if old is not None:
            await old.close()
        peer = Peer(
            participant_id=participant.user_id,
            configuration=self.configuration,
            policy=self.policy,
            latency=self.latency,
            on_media=self.on_media,
            on_failed=lambda failed: self._spawn(self._peer_failed(participant, failed)),
            may_send=participant.sends,
        )
        try:
            answer = await peer.negotiate(offer)
        except BaseException:
            await peer.close()
            raise
        if self.participants.get(participant.user_id) is not participant or self.closed:
            await peer.close()
            raise ConnectionError("left while negotiating")
        participant.peer = peer
        pc = peer.pc
        assert pc is not None

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            connected = pc.connectionState == "connected"
            if participant.peer is peer and connected != participant.connected:
                participant.connected = connected
                await self.broadcast({"type": "participant", "participant": participant.public()})
                await self._changed()

        self._reroute()
        return answer

    async def _peer_failed(self, participant: Participant, peer: Peer) -> None:
        if participant.peer is not peer:
            return
        participant.peer = None
        participant.connected = False
        self._reroute()
        await peer.close()
        # The browser builds a new connection (our "ICE restart") when told.
        await _quietly(participant.connection.send({"type": "peer_failed"}))
        await self.broadcast({"type": "participant", "participant": participant.public()})
        await self._changed()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _changed(self) -> None:
        if self.on_change is not None:
            await self.on_change(self)

    # ------------------------------------------------------------------ messages

    async def broadcast(self, message: dict[str, Any], skip: int | None = None) -> None:
        targets = [p for uid, p in self.participants.items() if uid != skip]
        await asyncio.gather(*(_quietly(p.connection.send(message)) for p in targets))

    async def update_state(self, participant: Participant, changes: dict[str, Any]) -> None:
        if "muted" in changes:
            participant.muted = bool(changes["muted"])
        if "camera" in changes:
            participant.camera = bool(changes["camera"])
        if changes.get("mode") in ("music", "speech"):
            participant.mode = changes["mode"]
        await self.broadcast({"type": "participant", "participant": participant.public()})

    async def say(self, participant: Participant, text: str) -> ChatLine:
        line = ChatLine(participant.user_id, participant.name, text, datetime.now(UTC))
        self.chat.append(line)
        await self.broadcast(line.public())
        return line

    def welcome(self, participant: Participant) -> dict[str, Any]:
        slots = self.slots_for(participant.role, participant.user_id)
        return {
            "type": "welcome",
            "you": participant.public(),
            "slots": [
                {
                    "user_id": uid,
                    "name": self.names.get(uid, ""),
                    "role": "tutor" if uid == self.tutor_id else "student",
                }
                for uid in slots
            ],
            "participants": [p.public() for p in self.participants.values()],
            "chat": [line.public() for line in self.chat],
            "bitrate_kbps": self.bitrate_kbps,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "closes_at": self.closes_at.isoformat(),
            "server_time": datetime.now(UTC).isoformat(),
        }

    async def set_bitrate(self, kbps: int) -> None:
        """Each browser applies it to its audio sender (``RTCRtpSender.setParameters``), with no
        new offer; new connections get it in the fmtp too (see room.js)."""
        self.bitrate_kbps = kbps
        await self.broadcast({"type": "bitrate", "kbps": kbps})

    async def bitrate_failed(self, participant: Participant, kbps: int) -> None:
        """Tell the tutor that ``participant``'s browser still sends at its previous bitrate."""
        tutor = self.participants.get(self.tutor_id)
        if tutor is not None:
            notice = {
                "type": "bitrate_failed",
                "user_id": participant.user_id,
                "name": participant.name,
                "kbps": kbps,
            }
            await _quietly(tutor.connection.send(notice))

    async def close(self, reason: str, code: int = 4000, *, notify: bool = True) -> None:
        """End the room; with ``notify`` off, only the media stops (the participants are
        moving to another process and must not hear that the lesson ended)."""
        if self.closed:
            return
        self.closed = True
        if notify:
            await self.broadcast({"type": "ended", "reason": reason})
        for participant in list(self.participants.values()):
            peer, participant.peer = participant.peer, None
            if peer is not None:
                await peer.close()
            if notify:
                await _quietly(participant.connection.close(code, reason))
        self.participants.clear()
        self._routes = {}
        await self._changed()

    # ------------------------------------------------------------------ loss

    async def measure_loss(self) -> None:
        """Close a loss window for everyone and tell each viewer the loss before the server on
        the media it receives: its browser sees only the last hop (the room renumbers packets),
        and combines the two for its connection label."""
        for participant in list(self.participants.values()):
            peer = participant.peer
            if peer is None or peer.closed:
                participant.uplink_loss = participant.downlink_loss = None
                continue
            participant.uplink_loss = peer.uplink_loss()
            participant.downlink_loss = await peer.downlink_loss()
        for viewer in list(self.participants.values()):
            uplink = {
                str(uid): _percent(self.participants[uid].uplink_loss)
                for uid in self.slots_for(viewer.role, viewer.user_id)
                if uid in self.participants
            }
            await _quietly(viewer.connection.send({"type": "loss", "uplink": uplink}))

    def received_loss(self, viewer: Participant) -> float | None:
        """End to end on what ``viewer`` hears: the worst source's way in, then the way out."""
        sources = [
            self.participants[uid].uplink_loss
            for uid in self.slots_for(viewer.role, viewer.user_id)
            if uid in self.participants
        ]
        known = [loss for loss in sources if loss is not None]
        if not known and viewer.downlink_loss is None:
            return None
        return combined_loss(max(known, default=0.0), viewer.downlink_loss or 0.0)

    def sample_rates(self) -> None:
        """Packets per second in and out since the last sample."""
        now = time.monotonic()
        then, packets_in, packets_out = self._rates_at
        if then:
            elapsed = max(1e-6, now - then)
            self.packet_rates = {
                "in": round((self.packets_in - packets_in) / elapsed, 1),
                "out": round((self.packets_out - packets_out) / elapsed, 1),
            }
        self._rates_at = (now, self.packets_in, self.packets_out)

    def snapshot(self) -> dict[str, Any]:
        return {
            "booking_id": self.booking_id,
            "packets_per_second": dict(self.packet_rates),
            "participants": [
                {
                    **p.public(),
                    "loss_percent": {
                        "sent": _percent(p.uplink_loss),
                        "last_hop": _percent(p.downlink_loss),
                        "received": _percent(self.received_loss(p)),
                    },
                }
                for p in self.participants.values()
            ],
            "bitrate_kbps": self.bitrate_kbps,
            "recording": bool(self.sinks),
            "closes_at": self.closes_at.isoformat(),
        }


def combined_loss(first: float, second: float) -> float:
    """Two hops in a row: a packet arrives only if neither loses it."""
    return 1 - (1 - first) * (1 - second)


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else round(100 * fraction, 2)


async def _quietly(awaitable: Awaitable[Any]) -> None:
    """Signaling to someone who just left must not break the room for the others."""
    try:
        await awaitable
    except Exception as exc:
        logger.debug("could not signal a participant: %s", exc)
