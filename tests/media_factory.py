"""Media made at test time: images with Pillow, audio with PyAV."""

from __future__ import annotations

import array
import io
import math
import struct
import zlib

import av
from PIL import Image


def png(width: int = 400, height: int = 300, color: tuple[int, int, int] = (90, 60, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def wav(seconds: float = 2.0, rate: int = 44_100, freq: float = 440.0) -> bytes:
    """A stereo sine tone (A4 left, E5 right) as 16-bit WAV."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout="stereo")
        total = int(seconds * rate)
        chunk = 1024
        for start in range(0, total, chunk):
            n = min(chunk, total - start)
            interleaved = array.array("h")
            for i in range(start, start + n):
                t = i / rate
                interleaved.append(int(0.3 * 32767 * math.sin(2 * math.pi * freq * t)))
                interleaved.append(int(0.3 * 32767 * math.sin(2 * math.pi * freq * 1.5 * t)))
            frame = av.AudioFrame(format="s16", layout="stereo", samples=n)
            frame.planes[0].update(interleaved.tobytes())
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A PNG of a few dozen bytes that declares ``width`` × ``height`` RGB pixels (a
    decompression bomb: decoding it would need width × height × 3 bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )
