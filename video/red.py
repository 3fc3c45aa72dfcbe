"""RED (RFC 2198) carrying Opus: parse, build, and the codec aiortc does not know by itself.

A RED payload is a list of block headers and then the blocks. Every header but the last is four
bytes: F bit (1: another header follows), the block's payload type (7 bits), its timestamp
offset before the packet's timestamp (14 bits) and its length (10 bits). The last header is one
byte, F bit 0 and the payload type; its block, the *primary*, runs to the end of the packet.
Browsers repeat the previous Opus packet(s) as redundant blocks, so a single lost packet is
rebuilt by the receiver from the next one, at the cost of about twice the bitrate.

The room never decodes RED: the receiving side splits it once (``parse``), everyone who
negotiated RED gets it built again with the Opus payload type of their own connection
(``build``), and everyone else gets the primary Opus block as it is.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from aiortc.codecs import CODECS
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

# The payload type Chromium offers RED under. aiortc adopts an offer's payload type only inside
# 96..127, so RED is registered with this number: an offer that puts RED elsewhere below 96 gets
# plain Opus (``acceptable_payload_type``).
RED_PAYLOAD_TYPE = 63
MAX_OFFSET = (1 << 14) - 1
MAX_BLOCK_BYTES = (1 << 10) - 1
MAX_BLOCKS = 8  # browsers send one or two; anything longer is not a packet we trust


class MalformedRed(ValueError):
    """A RED payload that cannot be split as RFC 2198 says."""


@dataclass(frozen=True, slots=True)
class RedBlock:
    """A redundant (older) encoding: ``offset`` clock ticks before the packet's timestamp."""

    offset: int
    data: bytes


def parse(payload: bytes, opus_types: Collection[int] = ()) -> tuple[bytes, tuple[RedBlock, ...]]:
    """Split a RED payload into its primary block and its redundant blocks, oldest first.

    Raises ``MalformedRed`` when a header or block runs past the end, there are too many blocks,
    or a block is of another payload type than ``opus_types`` (when given).
    """
    size = len(payload)
    headers: list[tuple[int, int, int]] = []
    position = 0
    while True:
        if position >= size:
            raise MalformedRed("the block headers run past the end of the packet")
        first = payload[position]
        if not first & 0x80:
            primary_type = first & 0x7F
            position += 1
            break
        if position + 4 > size:
            raise MalformedRed("a block header is cut short")
        offset = (payload[position + 1] << 6) | (payload[position + 2] >> 2)
        length = ((payload[position + 2] & 0x03) << 8) | payload[position + 3]
        headers.append((first & 0x7F, offset, length))
        position += 4
        if len(headers) > MAX_BLOCKS:
            raise MalformedRed("too many redundant blocks")
    if opus_types and (
        primary_type not in opus_types or any(pt not in opus_types for pt, _, _ in headers)
    ):
        raise MalformedRed("a block is not Opus")
    blocks: list[RedBlock] = []
    for _, offset, length in headers:
        end = position + length
        if end > size:
            raise MalformedRed("a redundant block runs past the end of the packet")
        blocks.append(RedBlock(offset, payload[position:end]))
        position = end
    return payload[position:], tuple(blocks)


def build(primary: bytes, blocks: Iterable[RedBlock], payload_type: int) -> bytes:
    """A RED payload: ``blocks`` (oldest first) then ``primary``, all of ``payload_type``.

    Blocks that RED cannot describe (empty, an offset or length beyond its fields) are left out.
    """
    if not 0 <= payload_type <= 0x7F:
        raise ValueError(f"payload type {payload_type}")
    headers = bytearray()
    data: list[bytes] = []
    for block in blocks:
        length = len(block.data)
        if not length or length > MAX_BLOCK_BYTES or not 0 < block.offset <= MAX_OFFSET:
            continue
        headers += bytes(
            (
                0x80 | payload_type,
                block.offset >> 6,
                ((block.offset & 0x3F) << 2) | (length >> 8),
                length & 0xFF,
            )
        )
        data.append(block.data)
    headers.append(payload_type)
    return bytes(headers) + b"".join(data) + primary


def acceptable_payload_type(payload_type: int) -> bool:
    """aiortc answers with the offer's number only inside 96..127, and with ours otherwise."""
    return payload_type == RED_PAYLOAD_TYPE or 96 <= payload_type <= 127


def register_codec() -> None:
    """Teach aiortc's negotiation that RED exists (once per process).

    aiortc answers only codecs in its ``CODECS`` table and drops packets of any other payload
    type. RED is appended last, so an aiortc peer that states no preference still prefers Opus;
    the room asks for it per connection (``video.peer``). aiortc can neither encode nor decode
    RED: the room's receivers never decode, and its senders get a ``PassThroughPacker``.
    """
    audio = CODECS["audio"]
    if any(codec.mimeType.lower() == "audio/red" for codec in audio):
        return
    audio.append(
        RTCRtpCodecParameters(
            mimeType="audio/red", clockRate=48_000, channels=2, payloadType=RED_PAYLOAD_TYPE
        )
    )


class PassThroughPacker:
    """aiortc's sender "encoder" for forwarded audio: each packet's bytes are one RTP payload.

    aiortc looks its encoder up by the first negotiated codec and knows none for RED; this one
    does what its Opus encoder does with a packet that is already encoded.
    """

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        raise TypeError("forwarded audio is never encoded")

    def pack(self, packet: Any) -> tuple[list[bytes], int]:
        return [bytes(packet)], int(packet.pts)


register_codec()
