"""JSON API: quiz authoring for the course's tutor, and attempts for students."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath, JSONBody

from lessons._web import me, services_of, signer_of
from lessons.courses import publishing
from lessons.courses import service as courses
from lessons.quizzes import definitions, presenters, service
from lessons.quizzes.models import AttemptStatus
from lessons.quizzes.schemas import (
    AttemptOut,
    QuestionIn,
    QuizSettingsIn,
    ResultOut,
    SubmitIn,
)
from marketplace.errors import Conflict
from marketplace.web.access import Access


class QuestionKeyOut(msgspec.Struct):
    """A question with its answer key: for the course's tutor only."""

    id: int
    kind: str
    bank: str
    prompt: str
    points: int
    feedback_correct: str
    feedback_incorrect: str
    definition: dict[str, Any]
    audio_url: str | None
    problems: list[str]


class QuizOut(msgspec.Struct):
    id: int
    item_id: int
    course_id: int
    pass_percent: int
    time_limit_minutes: int | None
    max_attempts: int | None
    shuffle_questions: bool
    shuffle_options: bool
    review_policy: str
    draw_rules: list[dict[str, Any]]
    problems: list[str]
    questions: list[QuestionKeyOut]


async def quiz_out(session: Any, services: Any, quiz: Any) -> QuizOut:
    questions = await service.questions_of(session, quiz)
    return QuizOut(
        id=quiz.id,
        item_id=quiz.item_id,
        course_id=quiz.course_id,
        pass_percent=quiz.pass_percent,
        time_limit_minutes=quiz.time_limit_seconds // 60 if quiz.time_limit_seconds else None,
        max_attempts=quiz.max_attempts,
        shuffle_questions=quiz.shuffle_questions,
        shuffle_options=quiz.shuffle_options,
        review_policy=quiz.review_policy,
        draw_rules=list(quiz.draw_rules),
        problems=await publishing.quiz_problems(session, quiz),
        questions=[
            QuestionKeyOut(
                id=q.id,
                kind=q.kind,
                bank=q.bank,
                prompt=q.prompt,
                points=q.points,
                feedback_correct=q.feedback_correct,
                feedback_incorrect=q.feedback_incorrect,
                definition=definitions.to_form(q.kind, q.spec),
                audio_url=services.media_links.url(q.audio_key) if q.audio_key else None,
                problems=definitions.problems(q.kind, q.spec, q.audio_key is not None),
            )
            for q in questions
        ],
    )


class QuizAuthoringController(Controller):
    path = "/api/v1/tutor/courses/{course_id:int}/quizzes/{quiz_id:int}"
    tags = ["course authoring"]

    @get("/", access=Access.TUTOR)
    async def show(
        self, request: Request[Any, Any, Any], course_id: FromPath[int], quiz_id: FromPath[int]
    ) -> QuizOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await courses.owned_course(session, course_id, me(request).id)
            quiz = await service.quiz_for_course(session, course, quiz_id)
            return await quiz_out(session, services, quiz)

    @put("/", access=Access.TUTOR)
    async def settings(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        quiz_id: FromPath[int],
        data: JSONBody[QuizSettingsIn],
    ) -> QuizOut:
        """Pass mark, time limit, attempts, shuffling, review policy and bank draws."""
        services = services_of(request)
        async with services.transaction() as session:
            course = await courses.owned_course(session, course_id, me(request).id)
            quiz = await service.quiz_for_course(session, course, quiz_id)
            await service.update_settings(session, quiz, data)
            return await quiz_out(session, services, quiz)

    @post("/questions", access=Access.TUTOR, status_code=201)
    async def add_question(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        quiz_id: FromPath[int],
        data: JSONBody[QuestionIn],
    ) -> QuizOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await courses.owned_course(session, course_id, me(request).id)
            quiz = await service.quiz_for_course(session, course, quiz_id)
            await service.save_question(session, services.storage, quiz, data)
            return await quiz_out(session, services, quiz)

    @put("/questions/{question_id:int}", access=Access.TUTOR)
    async def replace_question(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        quiz_id: FromPath[int],
        question_id: FromPath[int],
        data: JSONBody[QuestionIn],
    ) -> QuizOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await courses.owned_course(session, course_id, me(request).id)
            quiz = await service.quiz_for_course(session, course, quiz_id)
            await service.save_question(session, services.storage, quiz, data, question_id)
            return await quiz_out(session, services, quiz)

    @delete("/questions/{question_id:int}", access=Access.TUTOR, status_code=200)
    async def delete_question(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        quiz_id: FromPath[int],
        question_id: FromPath[int],
    ) -> QuizOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await courses.owned_course(session, course_id, me(request).id)
            quiz = await service.quiz_for_course(session, course, quiz_id)
            await service.delete_question(session, quiz, question_id)
            return await quiz_out(session, services, quiz)


async def result_for(session: Any, ctx: Any, attempt: Any) -> ResultOut:
    attempts = await service.attempts_of(session, ctx.quiz, attempt.student_id)
    questions = await service.drawn_questions(session, attempt)
    return presenters.result_out(
        ctx.quiz,
        attempt,
        questions,
        review=service.review_shown(ctx.quiz, attempt, attempts),
        attempts_left=service.attempts_left(ctx.quiz, attempts),
    )


class AttemptController(Controller):
    path = "/api/v1"
    tags = ["quizzes"]

    @post("/quizzes/{quiz_id:int}/attempts", access=Access.USER, status_code=201)
    async def start(self, request: Request[Any, Any, Any], quiz_id: FromPath[int]) -> AttemptOut:
        """Your open attempt, or a new one drawn from the quiz's banks. 409
        ``attempt_limit_reached`` when none are left. No answer key is ever included."""
        services = services_of(request)
        now = datetime.now(UTC)
        async with services.transaction() as session:
            _, attempt = await service.start_attempt(session, quiz_id, me(request).id, now)
            questions = await service.drawn_questions(session, attempt)
            return presenters.attempt_out(attempt, questions, services.media_links, now)

    @get("/quiz-attempts/{attempt_id:int}", access=Access.USER)
    async def show(self, request: Request[Any, Any, Any], attempt_id: FromPath[int]) -> AttemptOut:
        services = services_of(request)
        now = datetime.now(UTC)
        async with services.transaction() as session:
            _, attempt = await service.attempt_for(session, attempt_id, me(request).id, now)
            questions = await service.drawn_questions(session, attempt)
            return presenters.attempt_out(attempt, questions, services.media_links, now)

    @post("/quiz-attempts/{attempt_id:int}/submit", access=Access.USER, status_code=200)
    async def submit(
        self,
        request: Request[Any, Any, Any],
        attempt_id: FromPath[int],
        data: JSONBody[SubmitIn],
    ) -> ResultOut:
        """Grade the answers. 409 ``time_limit_exceeded`` after the deadline, ``attempt_closed``
        when already submitted."""
        services = services_of(request)
        now = datetime.now(UTC)
        async with services.transaction() as session:
            ctx, attempt = await service.submit(
                session, signer_of(services), attempt_id, me(request).id, data.answers, now
            )
            return await result_for(session, ctx, attempt)

    @get("/quiz-attempts/{attempt_id:int}/result", access=Access.USER)
    async def result(self, request: Request[Any, Any, Any], attempt_id: FromPath[int]) -> ResultOut:
        services = services_of(request)
        now = datetime.now(UTC)
        async with services.transaction() as session:
            ctx, attempt = await service.attempt_for(session, attempt_id, me(request).id, now)
            if attempt.status == AttemptStatus.IN_PROGRESS.value:
                raise Conflict("This attempt is still open.", code="attempt_open")
            return await result_for(session, ctx, attempt)


ROUTES = [QuizAuthoringController, AttemptController]
