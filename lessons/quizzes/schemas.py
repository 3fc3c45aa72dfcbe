"""Quiz request and response types."""

from __future__ import annotations

from typing import Any

import msgspec


class OptionIn(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    correct: bool = False
    feedback: str = ""


class PairIn(msgspec.Struct, forbid_unknown_fields=True):
    left: str
    right: str


class ClipIn(msgspec.Struct, forbid_unknown_fields=True):
    """An audio prompt generated from note names: "C4 E4" (melodic or harmonic), or a rhythm
    such as "q q e e h" (q quarter, e eighth, s sixteenth, h half, w whole; a trailing . dots
    it, r before it makes a rest)."""

    mode: str  # melodic, harmonic or rhythm
    notes: str
    tempo: int = 90


class QuestionIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    prompt: str
    points: int = 1
    bank: str = "main"
    feedback_correct: str = ""
    feedback_incorrect: str = ""
    options: list[OptionIn] = []
    answer: bool | None = None  # true/false
    accepted: list[str] = []  # short answer
    ignore_accents: bool = True
    value: float | None = None  # numeric
    tolerance: float = 0.0
    tolerance_kind: str = "absolute"
    unit: str = ""
    items: list[str] = []  # ordering, in the correct order
    pairs: list[PairIn] = []  # matching
    clip: ClipIn | None = None  # music


class DrawRuleIn(msgspec.Struct, forbid_unknown_fields=True):
    bank: str
    count: int


class QuizSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    pass_percent: int = 70
    time_limit_minutes: int | None = None
    max_attempts: int | None = None
    shuffle_questions: bool = True
    shuffle_options: bool = True
    review_policy: str = "after_submission"
    draw_rules: list[DrawRuleIn] = []


class SubmitIn(msgspec.Struct, forbid_unknown_fields=True):
    """Answers keyed by question id: an option id (single, music), a list of option ids
    (multiple), true/false, text (short), a number or text (numeric), item ids in order
    (ordering), or {left id: right id} (matching)."""

    answers: dict[str, Any]


class ChoiceOut(msgspec.Struct):
    id: str
    text: str


class QuestionOut(msgspec.Struct):
    """A question as the student sees it while answering: no answer key, no feedback."""

    id: int
    kind: str
    prompt: str
    points: int
    choices: list[ChoiceOut] = []  # options, ordering items or matching right-hand side
    left: list[ChoiceOut] = []  # matching: the items to match
    unit: str = ""
    audio_url: str | None = None


class AttemptOut(msgspec.Struct):
    id: int
    quiz_id: int
    number: int
    status: str
    started_at: str
    deadline_at: str | None
    seconds_left: int | None
    preview: bool
    questions: list[QuestionOut]


class QuestionResultOut(msgspec.Struct):
    question_id: int
    earned: float
    points: int
    correct: bool | None = None  # shown when the review policy allows
    your_answer: Any = None
    correct_answer: Any = None
    feedback: list[str] = []


class ResultOut(msgspec.Struct):
    attempt_id: int
    quiz_id: int
    number: int
    status: str
    score_points: float
    max_points: int
    percent: float
    passed: bool
    pass_percent: int
    review_shown: bool
    attempts_left: int | None
    questions: list[QuestionResultOut]
