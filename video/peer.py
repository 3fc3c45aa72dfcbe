"""One participant's peer connection to the room's media server (aiortc).

The browser always offers. Its first audio and video sections carry its own media (sendrecv) and
receive the other participant; an observer offers receive-only sections, one audio and video pair
per participant it watches ("slots"). The server answers with VP8 and Opus only (so any packet
can go to any other participant unchanged), with the room's music ``fmtp``, and with a
``ForwardedTrack`` on every sender. Audio is RED (RFC 2198) carrying Opus when the browser lists
RED before Opus, and plain Opus otherwise (``video.red``). aiortc cannot restart ICE on a live
connection, so a new offer (after a network change or a reconnect) builds a new peer connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_from_sdp

from marketplace.errors import ValidationFailed
from video import red, sdp
from video.fastpath import FastReceive
from video.forwarding import ForwardedTrack, PacketTap
from video.ice import AddressPolicy
from video.packets import LatencyStats, MediaPacket

logger = logging.getLogger(__name__)

MAX_SDP_BYTES = 64 * 1024
MAX_SLOTS = 2
_AUDIO = {c.name.lower(): c for c in RTCRtpSender.getCapabilities("audio").codecs}
_CODECS = {
    "audio": [_AUDIO["opus"]],
    "audio+red": [_AUDIO["red"], _AUDIO["opus"]],  # RED first: both sides send RED
    "video": [
        c for c in RTCRtpSender.getCapabilities("video").codecs if c.name.lower() in ("vp8", "rtx")
    ],
}


class OfferRefused(ValidationFailed):
    code = "bad_offer"


@dataclass
class Output:
    slot: int
    kind: str
    track: ForwardedTrack
    sender: RTCRtpSender | None = None


@dataclass
class Peer:
    """An ``RTCPeerConnection`` and what the room routes through it."""

    participant_id: int
    configuration: RTCConfiguration
    policy: AddressPolicy
    latency: LatencyStats
    on_media: Callable[[Peer, MediaPacket], None]
    on_failed: Callable[[Peer], None]
    may_send: bool = True  # observers send nothing
    pc: RTCPeerConnection | None = None
    outputs: list[Output] = field(default_factory=list)
    taps: dict[str, PacketTap] = field(default_factory=dict)
    closed: bool = False

    async def negotiate(self, offer: str) -> str:
        """Apply the browser's offer; return the answer with the room's music parameters.

        The answer's ``maxaveragebitrate`` is the highest bitrate the room offers: the browser
        sets the lesson's bitrate on its sender (``maxBitrate``), and a bitrate above the fmtp
        could not be reached that way without a new connection."""
        if not isinstance(offer, str) or not offer.startswith("v=0") or len(offer) > MAX_SDP_BYTES:
            raise OfferRefused({"sdp": "Send an SDP offer (at most 64 KiB)."})
        sections = [s for s in sdp.media_sections(offer) if s.kind in ("audio", "video")]
        slots = {kind: sum(1 for s in sections if s.kind == kind) for kind in ("audio", "video")}
        if not sections or max(slots.values()) > MAX_SLOTS:
            raise OfferRefused({"sdp": f"Offer 1 to {MAX_SLOTS} audio and video sections each."})
        sending = [s for s in sections if s.direction in ("sendrecv", "sendonly")]
        if len({s.kind for s in sending}) != len(sending):
            raise OfferRefused({"sdp": "Send at most one audio and one video track."})
        codecs = sdp.section_codecs(offer)
        pc = RTCPeerConnection(self.configuration)
        self.pc = pc
        counts = {"audio": 0, "video": 0}
        transceivers: list[tuple[RTCRtpTransceiver, sdp.MediaSection, bool]] = []
        for index, section in enumerate(sections):
            uses_red = section.kind == "audio" and _prefers_red(codecs[index])
            track = ForwardedTrack(section.kind, self.latency)
            transceiver = pc.addTransceiver(track, direction="sendrecv")
            transceiver.setCodecPreferences(_CODECS["audio+red" if uses_red else section.kind])
            track.attach(transceiver.sender)
            self.outputs.append(
                Output(counts[section.kind], section.kind, track, transceiver.sender)
            )
            counts[section.kind] += 1
            transceivers.append((transceiver, section, uses_red))
        self.policy.apply(pc)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "failed" and not self.closed:
                logger.info("peer of participant %s failed", self.participant_id)
                self.on_failed(self)

        try:
            await pc.setRemoteDescription(
                RTCSessionDescription(
                    sdp.drop_candidates(offer, self.policy.allows_candidate_line), "offer"
                )
            )
        except (ValueError, AssertionError) as exc:
            raise OfferRefused({"sdp": f"The offer could not be used: {exc}"}) from None
        tapped = {}
        for index, (transceiver, section, uses_red) in enumerate(transceivers):
            # Every receiving transceiver gets a tap at once: even media we do not forward must
            # never reach aiortc's decoder or pile up in its track queue.
            forward = self.may_send and section.direction in ("sendrecv", "sendonly")
            opus_types = codecs[index].types_of("opus") if uses_red else frozenset()
            tap = PacketTap.install(
                transceiver.receiver,
                section.kind,
                self._deliver if forward else _discard,
                red_types=codecs[index].types_of("red") if uses_red else frozenset(),
                opus_types=opus_types,
            )
            tapped[transceiver.receiver] = tap
            self.taps.setdefault(section.kind if forward else f"ignored-{transceiver.mid}", tap)
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        # Media packets from now on go from the socket to the taps in one call (video.fastpath).
        FastReceive.install(pc, tapped)
        for output, answered in zip(self.outputs, sdp.section_codecs(answer.sdp), strict=False):
            # aiortc sends the first codec of the answer: RED where the browser asked for it.
            if answered.first() == "red" and (opus := answered.types_of("opus")):
                output.track.red_opus_type = min(opus)
        described = sdp.set_opus_fmtp(pc.localDescription.sdp, sdp.music_fmtp(sdp.CEILING_KBPS))
        return sdp.set_red_fmtp(described)

    @property
    def sends_red(self) -> bool:
        """This participant's browser sends (and receives) its audio as RED."""
        return any(o.kind == "audio" and o.track.red_opus_type is not None for o in self.outputs)

    def _deliver(self, packet: MediaPacket) -> None:
        self.on_media(self, packet)

    async def add_candidate(
        self, candidate: str | None, sdp_mid: str | None, index: int | None
    ) -> None:
        """A trickled browser candidate; ``None`` ends them. Others' addresses are ignored."""
        if self.pc is None or self.closed:
            return
        if candidate is None or candidate == "":
            await self.pc.addIceCandidate(None)
            return
        if not isinstance(candidate, str) or len(candidate) > 1000:
            raise ValidationFailed({"candidate": "Send an ICE candidate line."})
        if not self.policy.allows_candidate_line(candidate.removeprefix("candidate:")):
            return
        try:
            parsed = candidate_from_sdp(candidate.removeprefix("candidate:"))
        except (ValueError, AssertionError, IndexError):
            raise ValidationFailed({"candidate": "This is not an ICE candidate."}) from None
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = index
        await self.pc.addIceCandidate(parsed)

    def uplink_loss(self) -> float | None:
        """Close a window of the loss on this participant's audio on its way to the server."""
        tap = self.taps.get("audio")
        return tap.loss.sample() if tap is not None else None

    async def downlink_loss(self) -> float | None:
        """The loss this participant's browser last reported (RTCP receiver report) on the
        audio the server sends it; the highest over its slots."""
        worst: float | None = None
        for output in self.outputs:
            if output.kind != "audio" or output.sender is None:
                continue
            report = await output.sender.getStats()
            for stats in report.values():
                if stats.type == "remote-inbound-rtp":
                    fraction = stats.fractionLost / 256  # RTCP's 8-bit fraction
                    worst = fraction if worst is None else max(worst, fraction)
        return worst

    def output_tracks(self, slot: int) -> dict[str, ForwardedTrack]:
        return {o.kind: o.track for o in self.outputs if o.slot == slot}

    def request_keyframe(self) -> None:
        tap = self.taps.get("video")
        if tap is not None:
            tap.request_keyframe()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for tap in self.taps.values():
            tap.close()
        for output in self.outputs:
            output.track.stop()
        if self.pc is not None:
            try:
                await asyncio.wait_for(self.pc.close(), timeout=5)
            except (TimeoutError, ConnectionError):
                logger.warning("peer of participant %s did not close cleanly", self.participant_id)


def _prefers_red(section: sdp.SectionCodecs) -> bool:
    """The browser put RED before Opus (it asks to send RED), under a number aiortc keeps."""
    names = [name for _, name in section.formats]
    if "red" not in names or "opus" not in names or names.index("red") > names.index("opus"):
        return False
    return all(red.acceptable_payload_type(pt) for pt in section.types_of("red"))


def _discard(packet: MediaPacket) -> None:
    return None
