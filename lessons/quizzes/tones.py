"""Audio prompts made from note names, so a tutor needs no recording.

``C4 E4`` played melodically (one after the other) or harmonically (together), or a rhythm such
as ``q q e e h`` tapped on one pitch after a one-bar count-in. The tone is a few decaying
harmonics (a plucked, piano-like sound) synthesised in pure Python and encoded to AAC/M4A with
PyAV, the format every browser plays.
"""

from __future__ import annotations

import array
import io
import math
import re
from dataclasses import dataclass

RATE = 22_050
NOTE = re.compile(r"^([A-Ga-g])([#b♯♭]?)(-?\d)$")
_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_BEATS = {"w": 4.0, "h": 2.0, "q": 1.0, "e": 0.5, "s": 0.25}
MODES = ("melodic", "harmonic", "rhythm")
MAX_NOTES = 16
MAX_SECONDS = 20.0


@dataclass(frozen=True)
class Clip:
    mode: str
    notes: tuple[float, ...]  # frequencies (Hz); for rhythms the durations in beats (<0: rest)
    tempo: int


def midi_number(name: str) -> int:
    """``C4`` → 60, ``F#3`` → 54, ``Bb5`` → 82 (scientific pitch notation)."""
    match = NOTE.match(name.strip())
    if not match:
        raise ValueError(f"“{name}” is not a note name such as C4, F#3 or Bb5.")
    letter, accidental, octave = match.groups()
    shift = {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental, 0)
    number = 12 * (int(octave) + 1) + _STEPS[letter.upper()] + shift
    if not 21 <= number <= 108:
        raise ValueError(f"{name} is outside the piano's range (A0 to C8).")
    return number


def frequency(midi: int) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def parse_clip(mode: str, notes: str, tempo: int) -> Clip:
    if mode not in MODES:
        raise ValueError("Choose melodic, harmonic or rhythm.")
    if not 40 <= tempo <= 240:
        raise ValueError("The tempo must be between 40 and 240 beats per minute.")
    tokens = notes.replace(",", " ").split()
    if not tokens:
        raise ValueError("Give at least one note (or rhythm value).")
    if len(tokens) > MAX_NOTES:
        raise ValueError(f"At most {MAX_NOTES} notes.")
    if mode == "rhythm":
        beats = []
        for token in tokens:
            rest = token.startswith("r")
            value = token[1:] if rest else token
            dotted = value.endswith(".")
            base = _BEATS.get(value.rstrip("."))
            if base is None:
                raise ValueError(f"“{token}” is not a rhythm value (w, h, q, e, s; r for a rest).")
            length = base * (1.5 if dotted else 1.0)
            beats.append(-length if rest else length)
        clip = Clip(mode, tuple(beats), tempo)
    else:
        clip = Clip(mode, tuple(frequency(midi_number(t)) for t in tokens), tempo)
    if duration(clip) > MAX_SECONDS:
        raise ValueError(f"The clip would be longer than {MAX_SECONDS:.0f} seconds.")
    return clip


def duration(clip: Clip) -> float:
    beat = 60.0 / clip.tempo
    if clip.mode == "harmonic":
        return 2.5
    if clip.mode == "melodic":
        return len(clip.notes) * beat + 1.0
    return (4 + sum(abs(b) for b in clip.notes)) * beat + 0.5


def _tone(
    samples: array.array[float], start: int, freq: float, seconds: float, gain: float
) -> None:
    """Adds a decaying tone (four harmonics) into ``samples`` from ``start``."""
    length = min(int(seconds * RATE), len(samples) - start)
    partials = [(freq * k, gain / k**1.5) for k in range(1, 5) if freq * k < RATE / 2]
    attack = int(0.008 * RATE)
    decay = 3.0 / max(seconds, 0.2)
    for i in range(length):
        t = i / RATE
        envelope = min(1.0, i / attack) * math.exp(-decay * t)
        value = 0.0
        for f, a in partials:
            value += a * math.sin(2 * math.pi * f * t)
        samples[start + i] += envelope * value


def render(clip: Clip) -> array.array[float]:
    total = int(duration(clip) * RATE)
    samples = array.array("f", bytes(4 * total))
    beat = 60.0 / clip.tempo
    if clip.mode == "harmonic":
        for freq in clip.notes:
            _tone(samples, 0, freq, 2.4, 0.5 / len(clip.notes))
    elif clip.mode == "melodic":
        for i, freq in enumerate(clip.notes):
            _tone(samples, int(i * beat * RATE), freq, beat + 0.6, 0.5)
    else:
        for i in range(4):  # count-in: four clicks an octave up
            _tone(samples, int(i * beat * RATE), 1760.0, 0.08, 0.3)
        at = 4 * beat
        for length in clip.notes:
            if length > 0:
                _tone(samples, int(at * RATE), 440.0, min(length * beat, 0.6), 0.5)
            at += abs(length) * beat
    return samples


def to_m4a(samples: array.array[float]) -> bytes:
    """Mono float samples at ``RATE`` → AAC in an M4A container."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=RATE, layout="mono")
        stream.bit_rate = 96_000
        chunk = 1024
        for start in range(0, len(samples), chunk):
            part = samples[start : start + chunk]
            frame = av.AudioFrame(format="flt", layout="mono", samples=len(part))
            frame.planes[0].update(part.tobytes())
            frame.sample_rate = RATE
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def clip_m4a(mode: str, notes: str, tempo: int) -> bytes:
    return to_m4a(render(parse_clip(mode, notes, tempo)))
