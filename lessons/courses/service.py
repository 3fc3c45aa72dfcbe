"""Authoring and the catalogue: courses, modules, items, order, publishing.

Tutors own their courses; every function that changes one takes the course already checked by
``owned_course``. A published course must stay gradable, so quiz edits on it are checked again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.courses.models import (
    Course,
    CourseItem,
    CourseMedia,
    CourseModule,
    CourseStatus,
    Enrolment,
    ItemKind,
)
from lessons.courses.schemas import CourseIn, ItemIn, ItemUpdateIn, OrderIn
from lessons.quizzes.models import Quiz
from marketplace import vocab
from marketplace.accounts.models import User
from marketplace.errors import Conflict, FieldErrors, NotFound, ValidationFailed
from marketplace.profiles.models import TutorProfile, TutorStatus
from marketplace.text import render_markdown

MIN_PRICE_MINOR = 100
MAX_PRICE_MINOR = 200_000
MAX_DESCRIPTION = 20_000
MAX_BODY = 50_000
MAX_MODULES = 50
MAX_ITEMS = 300


# ---------------------------------------------------------------- loading


async def load_course(session: AsyncSession, course_id: int, *, lock: bool = False) -> Course:
    course = await session.get(Course, course_id, with_for_update=lock)
    if course is None:
        raise NotFound("No such course.", code="course_not_found")
    return course


async def owned_course(
    session: AsyncSession, course_id: int, user_id: int, *, is_admin: bool = False
) -> Course:
    """The caller's course, locked for the change; someone else's is a 404."""
    course = await load_course(session, course_id, lock=True)
    if course.tutor_id != user_id and not is_admin:
        raise NotFound("No such course.", code="course_not_found")
    return course


async def viewable_course(
    session: AsyncSession, course_id: int, viewer_id: int | None, is_admin: bool = False
) -> Course:
    """Published courses of approved tutors for everyone; any course for its tutor (preview),
    admins and the students enrolled in it (who keep access if it is taken down)."""
    course = await load_course(session, course_id)
    if course.is_published and await tutor_is_approved(session, course.tutor_id):
        return course
    if viewer_id is not None:
        if viewer_id == course.tutor_id or is_admin:
            return course
        enrolled = await session.scalar(
            select(Enrolment.id).where(
                Enrolment.course_id == course.id,
                Enrolment.student_id == viewer_id,
                Enrolment.ended_at.is_(None),
            )
        )
        if enrolled is not None:
            return course
    raise NotFound("No such course.", code="course_not_found")


async def tutor_is_approved(session: AsyncSession, tutor_id: int) -> bool:
    profile = await session.get(TutorProfile, tutor_id)
    return profile is not None and profile.status == TutorStatus.APPROVED.value


async def item_of(session: AsyncSession, course: Course, item_id: int) -> CourseItem:
    item = await session.get(CourseItem, item_id)
    if item is None or item.course_id != course.id:
        raise NotFound("No such item in this course.", code="item_not_found")
    return item


async def module_of(session: AsyncSession, course: Course, module_id: int) -> CourseModule:
    module = await session.get(CourseModule, module_id)
    if module is None or module.course_id != course.id:
        raise NotFound("No such module in this course.", code="module_not_found")
    return module


@dataclass
class Outline:
    """A course's modules and items in order, with each item's media and quiz."""

    course: Course
    modules: list[tuple[CourseModule, list[CourseItem]]]
    media: dict[int, CourseMedia] = field(default_factory=dict)
    quizzes: dict[int, Quiz] = field(default_factory=dict)

    @property
    def items(self) -> list[CourseItem]:
        return [item for _, items in self.modules for item in items]

    def neighbours(self, item_id: int) -> tuple[CourseItem | None, CourseItem | None]:
        items = self.items
        for i, item in enumerate(items):
            if item.id == item_id:
                return (items[i - 1] if i else None, items[i + 1] if i + 1 < len(items) else None)
        return None, None


async def outline(session: AsyncSession, course: Course) -> Outline:
    modules = list(
        await session.scalars(
            select(CourseModule)
            .where(CourseModule.course_id == course.id)
            .order_by(CourseModule.position, CourseModule.id)
        )
    )
    items = list(
        await session.scalars(
            select(CourseItem)
            .where(CourseItem.course_id == course.id)
            .order_by(CourseItem.position, CourseItem.id)
        )
    )
    by_module: dict[int, list[CourseItem]] = {m.id: [] for m in modules}
    for item in items:
        by_module.setdefault(item.module_id, []).append(item)
    ids = [i.id for i in items]
    media = {
        m.item_id: m
        for m in await session.scalars(select(CourseMedia).where(CourseMedia.item_id.in_(ids)))
    }
    quizzes = {
        q.item_id: q for q in await session.scalars(select(Quiz).where(Quiz.item_id.in_(ids)))
    }
    return Outline(course, [(m, by_module[m.id]) for m in modules], media, quizzes)


# ---------------------------------------------------------------- courses


def _check_course(data: CourseIn) -> FieldErrors:
    errors = FieldErrors()
    if not 3 <= len(data.title.strip()) <= 140:
        errors.add("title", "Give the course a title of 3 to 140 characters.")
    if len(data.summary) > 300:
        errors.add("summary", "Keep the summary to 300 characters.")
    if len(data.description) > MAX_DESCRIPTION:
        errors.add("description", f"Keep the description to {MAX_DESCRIPTION} characters.")
    if vocab.instrument(data.instrument) is None:
        errors.add("instrument", "Choose an instrument from the list.")
    if vocab.level(data.level) is None:
        errors.add("level", "Choose a level.")
    if data.language not in vocab.LANGUAGES:
        errors.add("language", "Choose the language the course is taught in.")
    if data.price_minor != 0 and not MIN_PRICE_MINOR <= data.price_minor <= MAX_PRICE_MINOR:
        errors.add("price_minor", "A paid course costs between 1 and 2000; 0 makes it free.")
    return errors


async def create_course(
    session: AsyncSession, tutor: User, data: CourseIn, currency: str
) -> Course:
    _check_course(data).raise_if_any()
    course = Course(
        tutor_id=tutor.id,
        status=CourseStatus.DRAFT.value,
        currency=currency,
        description_markdown="",
        description_html="",
    )
    _apply(course, data)
    session.add(course)
    await session.flush()
    return course


def _apply(course: Course, data: CourseIn) -> None:
    course.title = data.title.strip()
    course.summary = data.summary.strip()
    course.description_markdown = data.description
    course.description_html = render_markdown(data.description)
    course.instrument = data.instrument
    course.level = data.level
    course.language = data.language
    course.price_minor = data.price_minor


async def update_course(session: AsyncSession, course: Course, data: CourseIn) -> Course:
    _check_course(data).raise_if_any()
    _apply(course, data)
    await session.flush()
    return course


async def tutor_courses(session: AsyncSession, tutor_id: int) -> list[Course]:
    return list(
        await session.scalars(
            select(Course).where(Course.tutor_id == tutor_id).order_by(Course.created_at.desc())
        )
    )


# ---------------------------------------------------------------- modules and items


async def add_module(session: AsyncSession, course: Course, title: str) -> CourseModule:
    if not 1 <= len(title.strip()) <= 140:
        raise ValidationFailed({"title": "Give the module a title of at most 140 characters."})
    count = await session.scalar(
        select(func.count()).select_from(CourseModule).where(CourseModule.course_id == course.id)
    )
    if (count or 0) >= MAX_MODULES:
        raise Conflict(f"A course has at most {MAX_MODULES} modules.", code="too_many_modules")
    module = CourseModule(course_id=course.id, title=title.strip(), position=(count or 0) + 1)
    session.add(module)
    await session.flush()
    return module


async def rename_module(
    session: AsyncSession, course: Course, module_id: int, title: str
) -> CourseModule:
    module = await module_of(session, course, module_id)
    if not 1 <= len(title.strip()) <= 140:
        raise ValidationFailed({"title": "Give the module a title of at most 140 characters."})
    module.title = title.strip()
    return module


async def delete_module(session: AsyncSession, course: Course, module_id: int) -> None:
    module = await module_of(session, course, module_id)
    await session.delete(module)
    await session.flush()
    await _renumber(session, course)


def _check_item(title: str, body: str) -> None:
    errors = FieldErrors()
    if not 1 <= len(title.strip()) <= 140:
        errors.add("title", "Give the item a title of at most 140 characters.")
    if len(body) > MAX_BODY:
        errors.add("body", f"Keep the text to {MAX_BODY} characters.")
    errors.raise_if_any()


async def add_item(session: AsyncSession, course: Course, data: ItemIn) -> CourseItem:
    if data.kind not in {k.value for k in ItemKind}:
        raise ValidationFailed({"kind": "Choose text, audio, video, file or quiz."})
    _check_item(data.title, data.body)
    module = await module_of(session, course, data.module_id)
    total = await session.scalar(
        select(func.count()).select_from(CourseItem).where(CourseItem.course_id == course.id)
    )
    if (total or 0) >= MAX_ITEMS:
        raise Conflict(f"A course has at most {MAX_ITEMS} items.", code="too_many_items")
    last = await session.scalar(
        select(func.max(CourseItem.position)).where(CourseItem.module_id == module.id)
    )
    item = CourseItem(
        course_id=course.id,
        module_id=module.id,
        kind=data.kind,
        title=data.title.strip(),
        position=(last or 0) + 1,
        required=data.required,
        body_markdown=data.body if data.kind == ItemKind.TEXT.value else "",
        body_html=render_markdown(data.body) if data.kind == ItemKind.TEXT.value else "",
    )
    session.add(item)
    await session.flush()
    if data.kind == ItemKind.QUIZ.value:
        session.add(Quiz(item_id=item.id, course_id=course.id, draw_rules=[]))
        await session.flush()
    return item


async def update_item(
    session: AsyncSession, course: Course, item_id: int, data: ItemUpdateIn
) -> CourseItem:
    item = await item_of(session, course, item_id)
    _check_item(data.title, data.body)
    item.title = data.title.strip()
    item.required = data.required
    if item.kind == ItemKind.TEXT.value:
        item.body_markdown = data.body
        item.body_html = render_markdown(data.body)
    await session.flush()
    return item


async def delete_item(session: AsyncSession, course: Course, item_id: int) -> list[str]:
    """Deletes the item; returns the media keys to remove once the change is committed."""
    item = await item_of(session, course, item_id)
    media = await session.scalar(select(CourseMedia).where(CourseMedia.item_id == item.id))
    keys = media_keys(media) if media else []
    await session.delete(item)
    await session.flush()
    await _renumber(session, course)
    return keys


def media_keys(media: CourseMedia) -> list[str]:
    return [k for k in (media.original_key, media.playable_key, media.hls_key) if k]


async def move_item(session: AsyncSession, course: Course, item_id: int, direction: str) -> None:
    """One step up or down; across the module boundary into the neighbouring module."""
    if direction not in ("up", "down"):
        raise ValidationFailed({"direction": "Move up or down."})
    plan = await outline(session, course)
    order = [(m.id, [i.id for i in items]) for m, items in plan.modules]
    for index, (_, ids) in enumerate(order):
        if item_id not in ids:
            continue
        at = ids.index(item_id)
        if direction == "up" and at > 0:
            ids[at - 1], ids[at] = ids[at], ids[at - 1]
        elif direction == "down" and at < len(ids) - 1:
            ids[at + 1], ids[at] = ids[at], ids[at + 1]
        elif direction == "up" and index > 0:
            ids.pop(at)
            order[index - 1][1].append(item_id)
        elif direction == "down" and index < len(order) - 1:
            ids.pop(at)
            order[index + 1][1].insert(0, item_id)
        await _write_order(session, course, order)
        return
    raise NotFound("No such item in this course.", code="item_not_found")


async def move_module(
    session: AsyncSession, course: Course, module_id: int, direction: str
) -> None:
    if direction not in ("up", "down"):
        raise ValidationFailed({"direction": "Move up or down."})
    plan = await outline(session, course)
    order = [(m.id, [i.id for i in items]) for m, items in plan.modules]
    ids = [m for m, _ in order]
    if module_id not in ids:
        raise NotFound("No such module in this course.", code="module_not_found")
    at = ids.index(module_id)
    to = at - 1 if direction == "up" else at + 1
    if 0 <= to < len(order):
        order[at], order[to] = order[to], order[at]
    await _write_order(session, course, order)


async def reorder(session: AsyncSession, course: Course, data: OrderIn) -> None:
    """Replace the whole order; it must name every module and item of the course once."""
    plan = await outline(session, course)
    modules = {m.id for m, _ in plan.modules}
    items = {i.id for i in plan.items}
    given_modules = [m.id for m in data.modules]
    given_items = [i for m in data.modules for i in m.items]
    if sorted(given_modules) != sorted(modules) or sorted(given_items) != sorted(items):
        raise ValidationFailed(
            {"modules": "List every module and every item of the course exactly once."}
        )
    await _write_order(session, course, [(m.id, list(m.items)) for m in data.modules])


async def _write_order(
    session: AsyncSession, course: Course, order: Sequence[tuple[int, list[int]]]
) -> None:
    modules = {
        m.id: m
        for m in await session.scalars(
            select(CourseModule).where(CourseModule.course_id == course.id)
        )
    }
    items = {
        i.id: i
        for i in await session.scalars(select(CourseItem).where(CourseItem.course_id == course.id))
    }
    for m_pos, (module_id, item_ids) in enumerate(order, start=1):
        modules[module_id].position = m_pos
        for i_pos, item_id in enumerate(item_ids, start=1):
            items[item_id].module_id = module_id
            items[item_id].position = i_pos
    await session.flush()


async def _renumber(session: AsyncSession, course: Course) -> None:
    plan = await outline(session, course)
    await _write_order(session, course, [(m.id, [i.id for i in its]) for m, its in plan.modules])


async def tutor_name(session: AsyncSession, tutor_id: int) -> str:
    profile = await session.get(TutorProfile, tutor_id)
    if profile is not None and profile.display_name:
        return profile.display_name
    user = await session.get(User, tutor_id)
    return user.full_name if user else "A Duet tutor"
