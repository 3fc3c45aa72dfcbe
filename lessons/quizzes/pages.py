"""Quiz pages: the tutor's question and settings forms, taking an attempt, and its result."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from lessons._web import me, services_of, signer_of
from lessons.courses import service as courses
from lessons.quizzes import definitions, presenters, service
from lessons.quizzes.models import AttemptStatus
from lessons.quizzes.schemas import ClipIn, DrawRuleIn, OptionIn, PairIn, QuestionIn, QuizSettingsIn
from marketplace.errors import DomainError, ValidationFailed
from marketplace.web.access import Access
from marketplace.web.forms import form_data, form_failure, redirect
from marketplace.web.templating import NOTICES, page

OPTION_ROWS = 6
NOTICES.update(
    {
        "question_added": "Question added.",
        "question_deleted": "Question deleted.",
        "question_saved": "Question saved.",
        "quiz_saved": "Quiz settings saved.",
    }
)


def _int(raw: str, field: str, default: int | None = None) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return default
    if not raw.lstrip("-").isdigit():
        raise ValidationFailed({field: "Enter a whole number."})
    return int(raw)


def question_from_form(form: Any) -> QuestionIn:
    kind = form.get("kind", "")
    options = []
    correct = set(form.getall("correct", []))
    for i in range(OPTION_ROWS):
        text = form.get(f"option_{i}", "").strip()
        if text:
            options.append(
                OptionIn(
                    text=text,
                    correct=str(i) in correct,
                    feedback=form.get(f"option_feedback_{i}", ""),
                )
            )
    pairs = []
    for line in form.get("pairs", "").splitlines():
        if "=" in line:
            left, _, right = line.partition("=")
            pairs.append(PairIn(left=left.strip(), right=right.strip()))
        elif line.strip():
            raise ValidationFailed({"pairs": "Write each pair as “left = right”."})
    value = None
    if kind == "numeric":
        raw = form.get("value", "").strip().replace(",", ".")
        try:
            value = float(raw) if raw else None
        except ValueError:
            raise ValidationFailed({"value": "Enter the correct number."}) from None
    try:
        tolerance = float((form.get("tolerance", "") or "0").replace(",", "."))
    except ValueError:
        raise ValidationFailed({"tolerance": "Enter a number (0 for exact)."}) from None
    answer = {"true": True, "false": False}.get(form.get("answer", ""))
    clip = None
    if kind == "music":
        clip = ClipIn(
            mode=form.get("clip_mode", "melodic"),
            notes=form.get("clip_notes", ""),
            tempo=_int(form.get("clip_tempo", ""), "clip_tempo", 90) or 90,
        )
    return QuestionIn(
        kind=kind,
        prompt=form.get("prompt", ""),
        points=_int(form.get("points", ""), "points", 1) or 1,
        bank=form.get("bank", "").strip() or "main",
        feedback_correct=form.get("feedback_correct", ""),
        feedback_incorrect=form.get("feedback_incorrect", ""),
        options=options,
        answer=answer,
        accepted=form.get("accepted", "").splitlines(),
        ignore_accents=form.get("accents_matter") != "1",
        value=value,
        tolerance=tolerance,
        tolerance_kind=form.get("tolerance_kind", "absolute"),
        unit=form.get("unit", ""),
        items=form.get("items", "").splitlines(),
        pairs=pairs,
        clip=clip,
    )


def settings_from_form(form: Any) -> QuizSettingsIn:
    rules = []
    for line in form.get("draw_rules", "").splitlines():
        if not line.strip():
            continue
        bank, _, count = line.rpartition(":")
        if not bank.strip() or not count.strip().isdigit():
            raise ValidationFailed({"draw_rules": "Write each draw as “bank: number”."})
        rules.append(DrawRuleIn(bank=bank.strip(), count=int(count)))
    return QuizSettingsIn(
        pass_percent=_int(form.get("pass_percent", ""), "pass_percent", 70) or 0,
        time_limit_minutes=_int(form.get("time_limit_minutes", ""), "time_limit_minutes"),
        max_attempts=_int(form.get("max_attempts", ""), "max_attempts"),
        shuffle_questions=form.get("shuffle_questions") == "1",
        shuffle_options=form.get("shuffle_options") == "1",
        review_policy=form.get("review_policy", "after_submission"),
        draw_rules=rules,
    )


async def _quiz_edit(
    request: Request[Any, Any, Any], course_id: int, quiz_id: int, action: Any, notice: str
) -> Any:
    from lessons.courses.tutor_pages import _item_editor

    services = services_of(request)
    item_id = 0
    try:
        async with services.transaction() as session:
            course = await courses.owned_course(session, course_id, me(request).id)
            quiz = await service.quiz_for_course(session, course, quiz_id)
            item_id = quiz.item_id
            await action(session, quiz)
    except DomainError as exc:
        if not item_id:
            raise
        return await _item_editor(request, course_id, item_id, **form_failure(exc))
    return redirect(f"/teach/courses/{course_id}/items/{item_id}", notice)


@post(
    "/teach/courses/{course_id:int}/quizzes/{quiz_id:int}/settings",
    access=Access.TUTOR,
    include_in_schema=False,
)
async def settings_form(
    request: Request[Any, Any, Any], course_id: FromPath[int], quiz_id: FromPath[int]
) -> Any:
    form = await form_data(request)

    async def action(session: Any, quiz: Any) -> None:
        await service.update_settings(session, quiz, settings_from_form(form))

    return await _quiz_edit(request, course_id, quiz_id, action, "quiz_saved")


@post(
    "/teach/courses/{course_id:int}/quizzes/{quiz_id:int}/questions",
    access=Access.TUTOR,
    include_in_schema=False,
)
async def question_form(
    request: Request[Any, Any, Any], course_id: FromPath[int], quiz_id: FromPath[int]
) -> Any:
    form = await form_data(request)
    services = services_of(request)

    async def action(session: Any, quiz: Any) -> None:
        await service.save_question(session, services.storage, quiz, question_from_form(form))

    return await _quiz_edit(request, course_id, quiz_id, action, "question_added")


@post(
    "/teach/courses/{course_id:int}/quizzes/{quiz_id:int}/questions/{question_id:int}",
    access=Access.TUTOR,
    include_in_schema=False,
)
async def edit_question_form(
    request: Request[Any, Any, Any],
    course_id: FromPath[int],
    quiz_id: FromPath[int],
    question_id: FromPath[int],
) -> Any:
    form = await form_data(request)
    services = services_of(request)

    async def action(session: Any, quiz: Any) -> None:
        await service.save_question(
            session, services.storage, quiz, question_from_form(form), question_id
        )

    return await _quiz_edit(request, course_id, quiz_id, action, "question_saved")


@post(
    "/teach/courses/{course_id:int}/quizzes/{quiz_id:int}/questions/{question_id:int}/delete",
    access=Access.TUTOR,
    include_in_schema=False,
)
async def delete_question_form(
    request: Request[Any, Any, Any],
    course_id: FromPath[int],
    quiz_id: FromPath[int],
    question_id: FromPath[int],
) -> Any:
    async def action(session: Any, quiz: Any) -> None:
        await service.delete_question(session, quiz, question_id)

    return await _quiz_edit(request, course_id, quiz_id, action, "question_deleted")


@post("/quizzes/{quiz_id:int}/start", access=Access.USER, include_in_schema=False)
async def start_form(request: Request[Any, Any, Any], quiz_id: FromPath[int]) -> Any:
    services = services_of(request)
    try:
        async with services.transaction() as session:
            _, attempt = await service.start_attempt(
                session, quiz_id, me(request).id, datetime.now(UTC)
            )
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        async with services.sessions() as session:
            ctx = await service.context(session, quiz_id)
        return page(
            request,
            "lessons/quiz_refused.html",
            status_code=exc.status_code,
            message=exc.message,
            code=exc.code,
            course_id=ctx.course.id,
            item_id=ctx.item.id,
        )
    return redirect(f"/quiz-attempts/{attempt.id}")


@get("/quiz-attempts/{attempt_id:int}", access=Access.USER, include_in_schema=False)
async def attempt_page(request: Request[Any, Any, Any], attempt_id: FromPath[int]) -> Template:
    return await _attempt_page(request, attempt_id)


async def _attempt_page(
    request: Request[Any, Any, Any],
    attempt_id: int,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Template:
    services = services_of(request)
    now = datetime.now(UTC)
    async with services.transaction() as session:
        ctx, attempt = await service.attempt_for(session, attempt_id, me(request).id, now)
        questions = await service.drawn_questions(session, attempt)
        attempts = await service.attempts_of(session, ctx.quiz, attempt.student_id)
    common = {"ctx": ctx, "attempt": attempt, "errors": errors or {}, "problem": problem}
    if attempt.status == AttemptStatus.IN_PROGRESS.value:
        return page(
            request,
            "lessons/attempt.html",
            status_code=status_code,
            a=presenters.attempt_out(attempt, questions, services.media_links, now),
            **common,
        )
    review = service.review_shown(ctx.quiz, attempt, attempts)
    result = presenters.result_out(
        ctx.quiz,
        attempt,
        questions,
        review=review,
        attempts_left=service.attempts_left(ctx.quiz, attempts),
    )
    by_id = {q.id: q for q in questions}
    words = {
        r.question_id: (
            presenters.answer_text(by_id[r.question_id], r.your_answer),
            presenters.answer_text(by_id[r.question_id], r.correct_answer),
        )
        for r in result.questions
        if review
    }
    return page(
        request,
        "lessons/result.html",
        status_code=status_code,
        r=result,
        questions=by_id,
        words=words,
        **common,
    )


def answers_from_form(form: Any, a: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for q in a.questions:
        name = f"q{q.id}"
        if q.kind == "multiple":
            answers[str(q.id)] = form.getall(name, [])
        elif q.kind == "ordering":
            ranked = []
            for choice in q.choices:
                raw = form.get(f"{name}_{choice.id}", "")
                ranked.append((int(raw) if raw.isdigit() else 999, choice.id))
            answers[str(q.id)] = [cid for _, cid in sorted(ranked)]
        elif q.kind == "matching":
            answers[str(q.id)] = {left.id: form.get(f"{name}_{left.id}", "") for left in q.left}
        elif q.kind == "true_false":
            raw = form.get(name, "")
            answers[str(q.id)] = {"true": True, "false": False}.get(raw)
        else:
            answers[str(q.id)] = form.get(name, "")
    return answers


@post("/quiz-attempts/{attempt_id:int}", access=Access.USER, include_in_schema=False)
async def submit_form(request: Request[Any, Any, Any], attempt_id: FromPath[int]) -> Any:
    services = services_of(request)
    form = await form_data(request)
    now = datetime.now(UTC)
    async with services.sessions() as session:
        _, attempt = await service.attempt_for(session, attempt_id, me(request).id, now)
        questions = await service.drawn_questions(session, attempt)
        shown = presenters.attempt_out(attempt, questions, services.media_links, now)
    try:
        async with services.transaction() as session:
            await service.submit(
                session,
                signer_of(services),
                attempt_id,
                me(request).id,
                answers_from_form(form, shown),
                now,
            )
    except DomainError as exc:
        return await _attempt_page(request, attempt_id, **form_failure(exc))
    return redirect(f"/quiz-attempts/{attempt_id}")


ROUTES = [
    settings_form,
    question_form,
    edit_question_form,
    delete_question_form,
    start_form,
    attempt_page,
    submit_form,
]

KIND_NAMES = definitions.KIND_NAMES
