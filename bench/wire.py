"""The server's added latency on the wire: the same audio packet entering and leaving.

An ``AF_PACKET`` socket on the loopback interface (root only) sees every packet the benchmark's
participants and the server send, with the kernel's timestamp of the moment each one went out.
Packets are SRTP, encrypted differently on each leg, but their RTP headers are in the clear: the
server keeps every Opus packet's timestamp plus a constant per source (``ForwardedTrack``
rebases only when the source changes), so a packet from the tutor and its forwarded copy to the
student are paired by that constant offset, found as the offset most pairs share. The delay is
out-time minus in-time: the server's whole residence (socket, event loop, SRTP both ways, the
forwarding), which the server's own timing (from a complete packet to its RTP sent) leaves out.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field

SO_TIMESTAMPNS = 35
PACKET_OUTGOING = 4
MASK32 = 0xFFFFFFFF


@dataclass
class Flow:
    """RTP packets of one payload type from or to one UDP port: (kernel ns, RTP timestamp)."""

    packets: list[tuple[int, int]] = field(default_factory=list)


class WireCapture:
    def __init__(self, interface: str = "lo") -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((interface, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        # The reading thread shares the benchmark's process: room for a few seconds of packets.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 2**20)
        self.sock.settimeout(0.2)
        self.sources: dict[int, Flow] = {}  # by UDP source port (a participant sending)
        self.sinks: dict[int, Flow] = {}  # by UDP destination port (a participant receiving)
        self.payload_type = 96
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wire-capture", daemon=True)

    def watch(self, senders: list[int], receivers: list[int]) -> None:
        for port in senders:
            self.sources[port] = Flow()
        for port in receivers:
            self.sinks[port] = Flow()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, ancillary, _, address = self.sock.recvmsg(2048, 64)
            except TimeoutError:
                continue
            if address[2] != PACKET_OUTGOING or len(data) < 14 + 20 + 8 + 12:
                continue  # loopback shows each packet twice: count it going out
            if data[12:14] != b"\x08\x00" or data[23] != 17:
                continue  # IPv4 UDP only
            ip_header = (data[14] & 0x0F) * 4
            udp = 14 + ip_header
            source, destination = struct.unpack_from("!HH", data, udp)
            rtp = udp + 8
            if data[rtp] >> 6 != 2 or data[rtp + 1] & 0x7F != self.payload_type:
                continue  # not RTP (STUN, DTLS, RTCP) or not audio
            flow = self.sources.get(source) or self.sinks.get(destination)
            if flow is None:
                continue
            stamp = next(
                (
                    struct.unpack("=qq", value[:16])
                    for level, kind, value in ancillary
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS
                ),
                None,
            )
            if stamp is None:
                continue
            (timestamp,) = struct.unpack_from("!I", data, rtp + 4)
            flow.packets.append((stamp[0] * 1_000_000_000 + stamp[1], timestamp))


def paired_delays_ms(inbound: Flow, outbound: Flow) -> list[float]:
    """Delays of the packets found on both legs, paired by the RTP timestamp offset most
    packets leaving within 50 ms of one arriving share."""
    offsets: Counter[int] = Counter()
    arrivals = inbound.packets
    for sent_ns, out_ts in outbound.packets[:200]:
        for came_ns, in_ts in arrivals:
            if 0 <= sent_ns - came_ns <= 50_000_000:
                offsets[(out_ts - in_ts) & MASK32] += 1
    if not offsets:
        return []
    offset = offsets.most_common(1)[0][0]
    came = {ts: ns for ns, ts in arrivals}
    delays: list[float] = []
    for sent_ns, out_ts in outbound.packets:
        arrived = came.get((out_ts - offset) & MASK32)
        if arrived is not None and sent_ns >= arrived:
            delays.append((sent_ns - arrived) / 1e6)
    return delays
