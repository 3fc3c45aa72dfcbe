"""Automatic grading, one pure function per question kind.

Partial credit (see docs/architecture.md, "Courses"):

- single choice, true/false, short answer, numeric and music questions are right or wrong;
- multiple choice: (right options ticked − wrong options ticked) / right options, never below 0;
- ordering: the share of items in their correct position;
- matching: the share of left-hand items matched to the right partner.

Answers arrive as JSON from the browser and are checked defensively: anything of the wrong shape
scores 0, never raises.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

EPSILON = 1e-9


@dataclass(frozen=True)
class Grade:
    earned: float  # points, rounded to 2 decimals
    points: int
    feedback: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.earned / self.points if self.points else 0.0

    @property
    def correct(self) -> bool:
        return self.points > 0 and self.earned >= self.points - EPSILON


def grade(kind: str, spec: dict[str, Any], points: int, answer: Any) -> Grade:
    fraction, feedback = _GRADERS[kind](spec, answer)
    fraction = min(1.0, max(0.0, fraction))
    return Grade(earned=round(fraction * points, 2), points=points, feedback=feedback)


def _option_feedback(spec: dict[str, Any], chosen: set[str]) -> list[str]:
    return [o["feedback"] for o in spec["options"] if o["id"] in chosen and o.get("feedback")]


def _single(spec: dict[str, Any], answer: Any) -> tuple[float, list[str]]:
    if not isinstance(answer, str):
        return 0.0, []
    return (1.0 if answer in spec["correct"] else 0.0), _option_feedback(spec, {answer})


def _multiple(spec: dict[str, Any], answer: Any) -> tuple[float, list[str]]:
    if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
        return 0.0, []
    known = {o["id"] for o in spec["options"]}
    chosen = {a for a in answer if a in known}
    correct = set(spec["correct"])
    if not correct:
        return 0.0, []
    hits = len(chosen & correct)
    wrong = len(chosen - correct)
    return max(0, hits - wrong) / len(correct), _option_feedback(spec, chosen)


def _true_false(spec: dict[str, Any], answer: Any) -> tuple[float, list[str]]:
    if isinstance(answer, str) and answer in ("true", "false"):
        answer = answer == "true"
    if not isinstance(answer, bool):
        return 0.0, []
    return (1.0 if answer is spec["correct"] else 0.0), []


_SIGNS = str.maketrans({"♯": "#", "♭": "b", "♮": "", "’": "'", "‘": "'", "“": '"', "”": '"'})
_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = ".,;:!?\"'()[]"


def normalise(text: str, *, ignore_accents: bool = True) -> str:
    """Unicode-normalised, case-folded, spaces collapsed, edge punctuation dropped; accents
    ignored unless the tutor says they matter. Music signs become ASCII (F♯ = F#)."""
    text = unicodedata.normalize("NFKC", text).translate(_SIGNS).casefold()
    if ignore_accents:
        text = "".join(
            c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
        )
    return _SPACES.sub(" ", text).strip().strip(_EDGE_PUNCTUATION).strip()


def _short(spec: dict[str, Any], answer: Any) -> tuple[float, list[str]]:
    if not isinstance(answer, str) or not answer.strip():
        return 0.0, []
    ignore = bool(spec.get("ignore_accents", True))
    given = normalise(answer, ignore_accents=ignore)
    accepted = {normalise(a, ignore_accents=ignore) for a in spec["accepted"]}
    return (1.0 if given in accepted else 0.0), []


def parse_number(raw: Any) -> float | None:
    """A number typed by a person: '440', '-2.5', '2,5' (decimal comma), '1 000', '4.4e2'."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        text = raw.strip().replace(" ", "").replace("\u00a0", "").replace("−", "-")
        if "," in text and "." not in text:
            text = text.replace(",", ".")
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            return None
        value = float(text)
    else:
        return None
    return value if math.isfinite(value) else None


def within_tolerance(value: float, target: float, tolerance: float, kind: str) -> bool:
    """Inclusive at the edge: 440 ± 0.5 accepts 439.5 and 440.5 (despite float rounding)."""
    allowed = abs(target) * tolerance / 100 if kind == "percent" else tolerance
    return abs(value - target) <= allowed + EPSILON * max(1.0, abs(target))


def _numeric(spec: dict[str, Any], answer: Any) -> tuple[float, list[str]]:
    value = parse_number(answer)
    if value is None:
        return 0.0, []
    ok = within_tolerance(
        value, float(spec["value"]), float(spec["tolerance"]), spec["tolerance_kind"]
    )
    return (1.0 if ok else 0.0), []


def _ordering(spec: dict[str, Any], answer: Any) -> tuple[float, list[str]]:
    order = [item["id"] for item in spec["items"]]
    if not isinstance(answer, list) or sorted(map(str, answer)) != sorted(order):
        return 0.0, []
    in_place = sum(1 for given, right in zip(answer, order, strict=True) if given == right)
    return in_place / len(order), []


def _matching(spec: dict[str, Any], answer: Any) -> tuple[float, list[str]]:
    if not isinstance(answer, dict):
        return 0.0, []
    pairs = spec["pairs"]
    right = sum(1 for p in pairs if answer.get(p["id"]) == p["right_id"])
    return right / len(pairs), []


_GRADERS: dict[str, Callable[[dict[str, Any], Any], tuple[float, list[str]]]] = {
    "single": _single,
    "music": _single,
    "multiple": _multiple,
    "true_false": _true_false,
    "short": _short,
    "numeric": _numeric,
    "ordering": _ordering,
    "matching": _matching,
}
KINDS = tuple(_GRADERS)


def correct_answer(kind: str, spec: dict[str, Any]) -> Any:
    """The answer key in the same shape as an answer, for the review after submission."""
    if kind in ("single", "music"):
        return spec["correct"][0] if spec["correct"] else None
    if kind == "multiple":
        return list(spec["correct"])
    if kind == "true_false":
        return spec["correct"]
    if kind == "short":
        return spec["accepted"][0] if spec["accepted"] else None
    if kind == "numeric":
        return spec["value"]
    if kind == "ordering":
        return [item["id"] for item in spec["items"]]
    return {p["id"]: p["right_id"] for p in spec["pairs"]}
