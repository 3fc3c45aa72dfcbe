"""Each question type's grading, partial credit and tolerance edges (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from lessons.quizzes import definitions, grading
from lessons.quizzes.schemas import ClipIn, OptionIn, PairIn, QuestionIn


def spec(**q: Any) -> tuple[str, dict[str, Any]]:
    data = QuestionIn(prompt="?", **q)
    return data.kind, definitions.build_spec(data)


def ids(s: dict[str, Any]) -> list[str]:
    return [o["id"] for o in s["options"]]


def test_single_choice_is_all_or_nothing_with_option_feedback() -> None:
    kind, s = spec(kind="single", options=[OptionIn("A", True), OptionIn("B", feedback="no")])
    a, b = ids(s)
    assert grading.grade(kind, s, 2, a).earned == 2
    wrong = grading.grade(kind, s, 2, b)
    assert wrong.earned == 0 and wrong.feedback == ["no"]
    assert grading.grade(kind, s, 2, ["not", "a", "string"]).earned == 0
    assert grading.grade(kind, s, 2, None).earned == 0


def test_multiple_choice_right_minus_wrong_never_below_zero() -> None:
    kind, s = spec(
        kind="multiple",
        options=[OptionIn("A", True), OptionIn("B", True), OptionIn("C"), OptionIn("D")],
    )
    a, b, c, d = ids(s)
    assert grading.grade(kind, s, 4, [a, b]).earned == 4
    assert grading.grade(kind, s, 4, [a]).earned == 2  # half the right ones
    assert grading.grade(kind, s, 4, [a, c]).earned == 0  # one right, one wrong
    assert grading.grade(kind, s, 4, [a, b, c]).earned == 2
    assert grading.grade(kind, s, 4, [a, b, c, d]).earned == 0  # ticking all earns nothing
    assert grading.grade(kind, s, 4, [c, d]).earned == 0  # floored at zero
    assert grading.grade(kind, s, 4, [a, a, "bogus"]).earned == 2  # duplicates, unknowns ignored
    assert grading.grade(kind, s, 3, [a]).earned == 1.5


def test_true_false() -> None:
    kind, s = spec(kind="true_false", answer=False)
    assert grading.grade(kind, s, 1, False).correct
    assert grading.grade(kind, s, 1, "false").correct
    assert not grading.grade(kind, s, 1, True).correct
    assert not grading.grade(kind, s, 1, 0).correct  # 0 is not False here


@pytest.mark.parametrize(
    ("given", "right"),
    [
        ("F#", True),
        ("  f♯ ", True),
        ("F sharp", True),
        ("F SHARP.", True),
        ("fa diése", True),  # accents ignored by default
        ("F", False),
        ("", False),
    ],
)
def test_short_answer_normalised_with_variants(given: str, right: bool) -> None:
    kind, s = spec(kind="short", accepted=["F#", "F sharp", "Fa dièse"])
    assert grading.grade(kind, s, 1, given).correct is right


def test_short_answer_where_accents_matter() -> None:
    kind, s = spec(kind="short", accepted=["Dó"], ignore_accents=False)
    assert grading.grade(kind, s, 1, "dó").correct
    assert not grading.grade(kind, s, 1, "do").correct


@pytest.mark.parametrize(
    ("answer", "right"),
    [
        ("440", True),
        ("439.5", True),  # the edge is inclusive
        ("440.5", True),
        ("440,5", True),  # decimal comma
        ("439.49", False),
        ("440.51", False),
        ("4.4e2", True),
        (440, True),
        ("abc", False),
        ("nan", False),
        ("inf", False),
        (True, False),
    ],
)
def test_numeric_absolute_tolerance(answer: Any, right: bool) -> None:
    kind, s = spec(kind="numeric", value=440, tolerance=0.5)
    assert grading.grade(kind, s, 1, answer).correct is right


def test_numeric_tolerance_edges_survive_float_rounding() -> None:
    kind, s = spec(kind="numeric", value=0.3, tolerance=0.1)
    assert grading.grade(kind, s, 1, "0.2").correct  # 0.3 - 0.2 = 0.09999999999999998
    assert grading.grade(kind, s, 1, "0.4").correct  # 0.4 - 0.3 = 0.10000000000000003
    kind, s = spec(kind="numeric", value=120, tolerance=5, tolerance_kind="percent")
    assert grading.grade(kind, s, 1, "126").correct
    assert grading.grade(kind, s, 1, "114").correct
    assert not grading.grade(kind, s, 1, "126.1").correct
    kind, s = spec(kind="numeric", value=-3, tolerance=0)
    assert grading.grade(kind, s, 1, "−3").correct  # typographic minus
    assert not grading.grade(kind, s, 1, "-3.0001").correct


def test_ordering_partial_credit_by_position() -> None:
    kind, s = spec(kind="ordering", items=["one", "two", "three", "four"])
    order = [i["id"] for i in s["items"]]
    assert grading.grade(kind, s, 4, order).earned == 4
    swapped = [order[1], order[0], order[2], order[3]]
    assert grading.grade(kind, s, 4, swapped).earned == 2
    assert grading.grade(kind, s, 4, list(reversed(order))).earned == 0
    assert grading.grade(kind, s, 4, order[:3]).earned == 0  # incomplete: not an ordering
    assert grading.grade(kind, s, 4, [*order[:3], order[0]]).earned == 0


def test_matching_partial_credit_per_pair() -> None:
    kind, s = spec(kind="matching", pairs=[PairIn("m3", "3"), PairIn("M3", "4"), PairIn("P4", "5")])
    p = s["pairs"]
    right = {x["id"]: x["right_id"] for x in p}
    assert grading.grade(kind, s, 3, right).earned == 3
    one_wrong = {**right, p[0]["id"]: p[1]["right_id"]}
    assert grading.grade(kind, s, 3, one_wrong).earned == 2
    assert grading.grade(kind, s, 3, {}).earned == 0
    assert grading.grade(kind, s, 3, "nonsense").earned == 0
    # The ids never hint at the partner: a left id is not its right id.
    assert all(x["id"] != x["right_id"] for x in p)


def test_music_question_grades_like_single_choice_and_needs_a_clip() -> None:
    kind, s = spec(
        kind="music",
        options=[OptionIn("Major third", True), OptionIn("Minor third")],
        clip=ClipIn(mode="melodic", notes="C4 E4", tempo=80),
    )
    assert grading.grade(kind, s, 1, ids(s)[0]).correct
    assert definitions.problems(kind, s, has_audio=False) == ["has no audio prompt"]
    assert definitions.problems(kind, s, has_audio=True) == []


@pytest.mark.parametrize(
    ("q", "problem"),
    [
        ({"kind": "single", "options": [OptionIn("A"), OptionIn("B")]}, "has no correct option"),
        ({"kind": "single", "options": [OptionIn("A", True)]}, "needs at least two options"),
        (
            {"kind": "single", "options": [OptionIn("A", True), OptionIn("B", True)]},
            "has more than one correct option (use multiple choice)",
        ),
        ({"kind": "true_false"}, "does not say whether the statement is true or false"),
        ({"kind": "short", "accepted": ["  "]}, "has no accepted answer"),
        ({"kind": "numeric"}, "has no correct number"),
        ({"kind": "ordering", "items": ["only"]}, "needs at least two items to order"),
        ({"kind": "matching", "pairs": [PairIn("a", "x")]}, "needs at least two pairs"),
        (
            {"kind": "matching", "pairs": [PairIn("a", "x"), PairIn("b", "x")]},
            "has two pairs with the same partner",
        ),
    ],
)
def test_ungradable_definitions_are_named(q: dict[str, Any], problem: str) -> None:
    kind, s = spec(**q)
    assert problem in definitions.problems(kind, s, has_audio=False)


def test_malformed_definitions_are_422() -> None:
    from marketplace.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        definitions.build_spec(
            QuestionIn(
                kind="music",
                prompt="",
                points=0,
                options=[OptionIn("A", True)],
                clip=ClipIn(mode="melodic", notes="H9", tempo=80),
            )
        )
    assert {"prompt", "points", "clip"} <= set(caught.value.fields)
