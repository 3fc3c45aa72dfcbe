"""Audio, video and PDFs made at test time (PyAV and fpdf2), for upload tests."""

from __future__ import annotations

import array
import io
import math

import av
from fpdf import FPDF


def video(seconds: float = 2.0, *, fmt: str = "webm", width: int = 320, height: int = 240) -> bytes:
    """A moving colour ramp with a 440 Hz tone: VP8 + Opus in WebM (a browser upload) or
    MPEG-4 Part 2 + AAC in MP4."""
    out = io.BytesIO()
    vcodec, acodec = ("libvpx", "libopus") if fmt == "webm" else ("mpeg4", "aac")
    with av.open(out, mode="w", format=fmt) as container:
        v = container.add_stream(vcodec, rate=25)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        a = container.add_stream(acodec, rate=48_000, layout="stereo")
        for i in range(int(seconds * 25)):
            frame = av.VideoFrame(width, height, "rgb24")
            frame.planes[0].update(bytes([(i * 7) % 256, 90, 200]) * (width * height))
            frame.pts = i
            container.mux(v.encode(frame.reformat(format="yuv420p")))
        container.mux(v.encode(None))
        resampler = av.AudioResampler(
            format=a.codec_context.format.name, layout="stereo", rate=48_000
        )
        total, pos, chunk = int(seconds * 48_000), 0, 1024
        while pos < total:
            n = min(chunk, total - pos)
            samples = array.array(
                "f", (0.2 * math.sin(2 * math.pi * 440 * (pos + j) / 48_000) for j in range(n))
            )
            frame = av.AudioFrame(format="flt", layout="mono", samples=n)
            frame.planes[0].update(samples.tobytes())
            frame.sample_rate = 48_000
            frame.pts = pos
            pos += n
            for r in resampler.resample(frame):
                container.mux(a.encode(r))
        container.mux(a.encode(None))
    return out.getvalue()


def pdf(text: str = "C major scale") -> bytes:
    doc = FPDF()
    doc.add_page()
    doc.set_font("helvetica", size=16)
    doc.cell(0, 10, text)
    return bytes(doc.output())
