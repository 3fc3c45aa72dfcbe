"""Short synthesised recordings for demo tutors, one timbre per instrument family.

Simple physical and additive models, enough to tell a guitar from a cello by ear: Karplus-Strong
for plucked strings, inharmonic decaying partials for piano, a slow bow attack with vibrato for
bowed strings, breath noise for flutes, odd harmonics for reeds, a brightening attack for brass,
pitched membranes and noise for drums. Every tutor gets a deterministic phrase of their own.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

RATE = 48_000
Audio = npt.NDArray[np.float64]

# Instrument slug → family; anything not listed (production, theory, ...) plays the piano.
FAMILIES: dict[str, tuple[str, ...]] = {
    "plucked": (
        "acoustic-guitar", "electric-guitar", "classical-guitar", "portuguese-guitar",
        "bass-guitar", "ukulele", "harp", "lute", "mandolin", "banjo", "cavaquinho", "sitar",
        "oud", "bouzouki", "guzheng", "koto",
    ),
    "bowed": ("violin", "viola", "cello", "double-bass", "viola-da-gamba", "erhu"),
    "breathy": ("flute", "recorder", "tin-whistle", "bansuri"),
    "reed": ("clarinet", "oboe", "bassoon", "saxophone", "harmonica", "bagpipes", "accordion",
             "bandoneon", "organ"),
    "brass": ("trumpet", "trombone", "french-horn", "euphonium", "tuba"),
    "drums": ("drums", "percussion", "latin-percussion", "cajon", "djembe", "tabla"),
    "mallet": ("vibraphone", "steel-pan"),
    "voice": ("voice",),
}  # fmt: skip
# The register a phrase is played in: MIDI note of its lowest scale step.
LOW_INSTRUMENTS = {"bass-guitar": 28, "double-bass": 28, "cello": 36, "bassoon": 34, "tuba": 29,
                   "trombone": 40, "euphonium": 40, "viola-da-gamba": 38, "viola": 48}  # fmt: skip
HIGH_INSTRUMENTS = {"flute": 72, "recorder": 72, "tin-whistle": 74, "violin": 62, "ukulele": 60,
                    "mandolin": 62, "trumpet": 58, "oboe": 60, "steel-pan": 60}  # fmt: skip
MAJOR_PENTATONIC = (0, 2, 4, 7, 9, 12, 14, 16)
MINOR_PENTATONIC = (0, 3, 5, 7, 10, 12, 15, 17)


def family_of(instrument: str) -> str:
    for family, members in FAMILIES.items():
        if instrument in members:
            return family
    return "piano"


def recording(instrument: str, seed: str, seconds: float = 6.0) -> Audio:
    """A phrase on ``instrument``, the same for the same ``seed``: mono, -1..1, ``RATE`` Hz."""
    rng = random.Random(f"{seed}:{instrument}")
    family = family_of(instrument)
    base = (
        LOW_INSTRUMENTS.get(instrument)
        or HIGH_INSTRUMENTS.get(instrument)
        or 52 + (rng.randrange(0, 8))
    )
    scale = MAJOR_PENTATONIC if rng.random() < 0.6 else MINOR_PENTATONIC
    out = np.zeros(int(seconds * RATE) + RATE)
    voice = _VOICES[family]
    t = 0.15
    step = rng.randrange(0, 3)
    beat = rng.choice((0.32, 0.4, 0.5))
    while t < seconds - 0.6:
        length = beat * rng.choice((1, 1, 1, 2)) if family != "drums" else beat / 2
        if family == "drums":
            note = _drum(rng.random(), length, rng)
        else:
            step = max(0, min(len(scale) - 1, step + rng.choice((-2, -1, 1, 1, 2))))
            freq = 440.0 * 2 ** ((base + scale[step] - 69) / 12)
            note = voice(freq, min(length * 1.6, 2.0), rng)
        start = int(t * RATE)
        out[start : start + len(note)] += note[: len(out) - start]
        t += length
    out = out[: int(seconds * RATE)]
    fade = int(0.4 * RATE)
    out[-fade:] *= np.linspace(1.0, 0.0, fade)
    peak = float(np.max(np.abs(out))) or 1.0
    result: Audio = 0.8 * out / peak
    return result


def _time(seconds: float) -> Audio:
    return np.arange(int(seconds * RATE)) / RATE


def _plucked(freq: float, seconds: float, rng: random.Random) -> Audio:
    """Karplus-Strong, one period at a time (each period depends only on the one before)."""
    period = max(2, int(RATE / freq))
    total = int(seconds * RATE)
    noise = np.random.default_rng(rng.randrange(2**32)).uniform(-1, 1, period)
    out = np.empty(total + period)
    out[:period] = noise - noise.mean()
    decay = 0.996 if freq > 200 else 0.998
    done = period
    while done < total + period:
        prev = out[done - period : done]
        before = out[done - period - 1] if done > period else prev[0]
        shifted = np.concatenate(([before], prev[:-1]))
        block = decay * 0.5 * (prev + shifted)
        n = min(period, total + period - done)
        out[done : done + n] = block[:n]
        done += n
    result: Audio = out[period:] * 0.7
    return result


def _partials(
    freq: float, t: Audio, amps: tuple[float, ...], *, stretch: float = 0.0, vib: float = 0.0
) -> Audio:
    # Vibrato: the frequency swings by ±vib at 5.5 Hz; the phase is its integral.
    rate = 2 * np.pi * 5.5
    warped = t + vib * (1 - np.cos(rate * t)) / rate if vib else t
    out = np.zeros_like(t)
    for k, amp in enumerate(amps, start=1):
        f = freq * k * np.sqrt(1 + stretch * k * k)
        if f < RATE / 2.2:
            out += amp * np.sin(2 * np.pi * f * warped)
    return out


def _envelope(t: Audio, attack: float, release: float, decay: float = 0.0) -> Audio:
    env = np.minimum(1.0, t / attack) if attack else np.ones_like(t)
    if decay:
        env = env * np.exp(-t / decay)
    tail = int(release * RATE)
    if tail and tail < len(env):
        env[-tail:] *= np.linspace(1.0, 0.0, tail)
    result: Audio = env
    return result


def _piano(freq: float, seconds: float, rng: random.Random) -> Audio:
    t = _time(seconds)
    tone = _partials(freq, t, (1.0, 0.5, 0.3, 0.18, 0.1, 0.06), stretch=0.0004)
    return tone * _envelope(t, 0.004, 0.08, decay=0.9 if freq < 300 else 0.6) * 0.5


def _bowed(freq: float, seconds: float, rng: random.Random) -> Audio:
    t = _time(seconds)
    amps = tuple(1.0 / k for k in range(1, 11))  # a sawtooth: the bow's stick-slip
    tone = _partials(freq, t, amps, vib=0.004)
    return tone * _envelope(t, 0.12, 0.15) * 0.35


def _breathy(freq: float, seconds: float, rng: random.Random) -> Audio:
    t = _time(seconds)
    tone = _partials(freq, t, (1.0, 0.2, 0.08), vib=0.003)
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 1, len(t))
    breath = np.convolve(noise, np.ones(12) / 12, mode="same") * 0.15
    return (tone + breath) * _envelope(t, 0.06, 0.12) * 0.45


def _reed(freq: float, seconds: float, rng: random.Random) -> Audio:
    t = _time(seconds)
    tone = _partials(freq, t, (1.0, 0.02, 0.45, 0.02, 0.3, 0.02, 0.18, 0.0, 0.1), vib=0.002)
    return tone * _envelope(t, 0.03, 0.1) * 0.4


def _brass(freq: float, seconds: float, rng: random.Random) -> Audio:
    t = _time(seconds)
    bright = np.minimum(1.0, t / 0.08)
    tone = _partials(freq, t, (1.0,)) + bright * _partials(freq, t, (0.0, 0.7, 0.5, 0.35, 0.2))
    return tone * _envelope(t, 0.03, 0.1) * 0.35


def _mallet(freq: float, seconds: float, rng: random.Random) -> Audio:
    t = _time(seconds)
    strike = 0.3 * np.sin(2 * np.pi * freq * 4.0 * t) * np.exp(-t / 0.1)
    tremolo = 1 + 0.15 * np.sin(2 * np.pi * 6 * t)  # the vibraphone's motor
    return (_partials(freq, t, (1.0,)) + strike) * _envelope(t, 0.002, 0.05, decay=1.2) * tremolo


def _voice(freq: float, seconds: float, rng: random.Random) -> Audio:
    t = _time(seconds)
    # A sung "ah": harmonics weighted by two formants (~700 and ~1200 Hz).
    amps = tuple(
        np.exp(-(((freq * k - 700) / 180) ** 2)) + 0.6 * np.exp(-(((freq * k - 1200) / 220) ** 2))
        + (0.3 if k == 1 else 0.0)
        for k in range(1, 16)
    )  # fmt: skip
    return _partials(freq, t, amps, vib=0.006) * _envelope(t, 0.08, 0.15) * 0.5


def _drum(which: float, seconds: float, rng: random.Random) -> Audio:
    t = _time(max(seconds, 0.25))
    noise = np.random.default_rng(rng.randrange(2**32)).uniform(-1, 1, len(t))
    if which < 0.4:  # a low, pitched membrane falling in pitch
        pitch = 60 + 90 * np.exp(-t / 0.04)
        return np.sin(2 * np.pi * np.cumsum(pitch) / RATE) * np.exp(-t / 0.18)
    if which < 0.7:  # a snare-like slap
        body = 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.06)
        return body + 0.6 * noise * np.exp(-t / 0.08)
    return 0.35 * np.diff(noise, prepend=0.0) * np.exp(-t / 0.03)  # a hi-hat tick


_VOICES: dict[str, Callable[[float, float, random.Random], Audio]] = {
    "plucked": _plucked,
    "piano": _piano,
    "bowed": _bowed,
    "breathy": _breathy,
    "reed": _reed,
    "brass": _brass,
    "mallet": _mallet,
    "voice": _voice,
    "drums": lambda freq, seconds, rng: _drum(rng.random(), seconds, rng),
}
