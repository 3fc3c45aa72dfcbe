"""Question definitions: from what a tutor types to the stored spec, and whether it can be graded.

Saving keeps a draft even when it is not gradable yet (a tutor writes options before ticking the
right one); ``problems`` says what is missing, and publishing refuses a course while any quiz
has problems. Option, item and partner ids are random, so neither their order nor their names
hint at the answer key.
"""

from __future__ import annotations

import secrets
from typing import Any

from lessons.quizzes import tones
from lessons.quizzes.grading import KINDS
from lessons.quizzes.schemas import QuestionIn
from marketplace.errors import FieldErrors

MAX_OPTIONS = 12
MAX_TEXT = 500
MAX_PROMPT = 4000
KIND_NAMES = {
    "single": "Single choice",
    "multiple": "Multiple choice",
    "true_false": "True or false",
    "short": "Short answer",
    "numeric": "Number",
    "ordering": "Put in order",
    "matching": "Match pairs",
    "music": "Listen and answer",
}


def new_id() -> str:
    return secrets.token_hex(4)


def build_spec(data: QuestionIn) -> dict[str, Any]:
    """The stored spec for ``data`` or a 422 naming each malformed field."""
    errors = FieldErrors()
    if data.kind not in KINDS:
        errors.add("kind", "Choose a question type.")
        errors.raise_if_any()
    if not data.prompt.strip() or len(data.prompt) > MAX_PROMPT:
        errors.add("prompt", f"Write the question (at most {MAX_PROMPT} characters).")
    if not 1 <= data.points <= 100:
        errors.add("points", "Points must be between 1 and 100.")
    if not data.bank.strip() or len(data.bank) > 40:
        errors.add("bank", "Name the question bank (at most 40 characters).")
    spec: dict[str, Any] = {}
    if data.kind in ("single", "multiple", "music"):
        if len(data.options) > MAX_OPTIONS:
            errors.add("options", f"At most {MAX_OPTIONS} options.")
        options = []
        for i, o in enumerate(data.options):
            if not o.text.strip() or len(o.text) > MAX_TEXT:
                errors.add(f"options[{i}]", "Each option needs a text of at most 500 characters.")
            options.append({"id": new_id(), "text": o.text.strip(), "feedback": o.feedback.strip()})
        spec = {
            "options": options,
            "correct": [
                opt["id"] for opt, o in zip(options, data.options, strict=True) if o.correct
            ],
        }
        if data.kind == "music":
            if data.clip is None:
                errors.add("clip", "Give the notes the audio prompt plays.")
            else:
                try:
                    tones.parse_clip(data.clip.mode, data.clip.notes, data.clip.tempo)
                except ValueError as exc:
                    errors.add("clip", str(exc))
                spec["clip"] = {
                    "mode": data.clip.mode,
                    "notes": data.clip.notes.strip(),
                    "tempo": data.clip.tempo,
                }
    elif data.kind == "true_false":
        spec = {"correct": data.answer}
    elif data.kind == "short":
        accepted = [a.strip() for a in data.accepted if a.strip()]
        if any(len(a) > MAX_TEXT for a in accepted):
            errors.add("accepted", "Each accepted answer must be at most 500 characters.")
        spec = {"accepted": accepted, "ignore_accents": data.ignore_accents}
    elif data.kind == "numeric":
        if data.tolerance < 0:
            errors.add("tolerance", "The tolerance cannot be negative.")
        if data.tolerance_kind not in ("absolute", "percent"):
            errors.add("tolerance_kind", "Choose an absolute or a percentage tolerance.")
        spec = {
            "value": data.value,
            "tolerance": data.tolerance,
            "tolerance_kind": data.tolerance_kind,
            "unit": data.unit.strip()[:20],
        }
    elif data.kind == "ordering":
        items = [t.strip() for t in data.items if t.strip()]
        if len(items) > MAX_OPTIONS:
            errors.add("items", f"At most {MAX_OPTIONS} items.")
        spec = {"items": [{"id": new_id(), "text": t} for t in items]}
    elif data.kind == "matching":
        pairs = [(p.left.strip(), p.right.strip()) for p in data.pairs if p.left.strip()]
        if len(pairs) > MAX_OPTIONS:
            errors.add("pairs", f"At most {MAX_OPTIONS} pairs.")
        spec = {
            "pairs": [
                {"id": new_id(), "left": left, "right": right, "right_id": new_id()}
                for left, right in pairs
            ]
        }
    errors.raise_if_any()
    return spec


def keep_ids(kind: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """An edited question keeps the ids of options, items and pairs whose text is unchanged, so
    open attempts and past reviews still point at the same choices."""

    def reuse(
        old_rows: list[dict[str, Any]],
        new_rows: list[dict[str, Any]],
        key: str,
        fields: tuple[str, ...],
    ) -> dict[str, str]:
        free: dict[str, list[dict[str, Any]]] = {}
        for row in old_rows:
            free.setdefault(row[key], []).append(row)
        renamed: dict[str, str] = {}
        for row in new_rows:
            match = free.get(row[key])
            if match:
                previous = match.pop(0)
                for name in fields:
                    renamed[row[name]] = previous[name]
                    row[name] = previous[name]
        return renamed

    if kind in ("single", "multiple", "music") and "options" in old:
        renamed = reuse(old["options"], new["options"], "text", ("id",))
        new["correct"] = [renamed.get(i, i) for i in new["correct"]]
    elif kind == "ordering" and "items" in old:
        reuse(old["items"], new["items"], "text", ("id",))
    elif kind == "matching" and "pairs" in old:
        reuse(old["pairs"], new["pairs"], "left", ("id",))
        reuse(old["pairs"], new["pairs"], "right", ("right_id",))
    return new


def problems(kind: str, spec: dict[str, Any], has_audio: bool) -> list[str]:
    """Why this question cannot be graded (empty when it can)."""
    found: list[str] = []
    if kind in ("single", "multiple", "music"):
        if len(spec["options"]) < 2:
            found.append("needs at least two options")
        if not spec["correct"]:
            found.append("has no correct option")
        elif kind != "multiple" and len(spec["correct"]) > 1:
            found.append("has more than one correct option (use multiple choice)")
        if kind == "music" and not has_audio:
            found.append("has no audio prompt")
    elif kind == "true_false":
        if spec.get("correct") is None:
            found.append("does not say whether the statement is true or false")
    elif kind == "short":
        if not spec["accepted"]:
            found.append("has no accepted answer")
    elif kind == "numeric":
        if spec.get("value") is None:
            found.append("has no correct number")
    elif kind == "ordering":
        if len(spec["items"]) < 2:
            found.append("needs at least two items to order")
    elif kind == "matching":
        if len(spec["pairs"]) < 2:
            found.append("needs at least two pairs")
        elif any(not p["right"] for p in spec["pairs"]):
            found.append("has a pair without a partner")
        elif len({p["right"] for p in spec["pairs"]}) < len(spec["pairs"]):
            found.append("has two pairs with the same partner")
    return found


def to_form(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The spec back in the authoring shape (for the tutor's editor; never for students)."""
    if kind in ("single", "multiple", "music"):
        return {
            "options": [
                {
                    "text": o["text"],
                    "correct": o["id"] in spec["correct"],
                    "feedback": o["feedback"],
                }
                for o in spec["options"]
            ],
            "clip": spec.get("clip"),
        }
    if kind == "true_false":
        return {"answer": spec.get("correct")}
    if kind == "short":
        return {"accepted": spec["accepted"], "ignore_accents": spec.get("ignore_accents", True)}
    if kind == "numeric":
        return dict(spec)
    if kind == "ordering":
        return {"items": [i["text"] for i in spec["items"]]}
    return {"pairs": [{"left": p["left"], "right": p["right"]} for p in spec["pairs"]]}
