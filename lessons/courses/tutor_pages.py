"""Course pages for tutors: my courses, the course editor, the item editor, students."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from lessons._web import language_choices, load_user, me, services_of
from lessons.courses import media_service, publishing, service
from lessons.courses.authoring_api import (
    UPLOAD_BODY_LIMIT,
    student_progress,
    upload_media,
)
from lessons.courses.models import Course
from lessons.courses.presenters import course_out
from lessons.courses.schemas import CourseIn, ItemIn, ItemUpdateIn
from lessons.quizzes import definitions
from marketplace import money
from marketplace.errors import DomainError, NotFound, ValidationFailed
from marketplace.web.access import Access
from marketplace.web.forms import form_data, form_failure, redirect
from marketplace.web.templating import page
from marketplace.web.uploads import PageForm, form_file


@get("/teach/courses", access=Access.TUTOR, include_in_schema=False)
async def tutor_courses(request: Request[Any, Any, Any]) -> Template:
    return await _tutor_list(request)


async def _tutor_list(
    request: Request[Any, Any, Any],
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Template:
    async with services_of(request).sessions() as session:
        courses = await service.tutor_courses(session, me(request).id)
    return page(
        request,
        "lessons/tutor_courses.html",
        status_code=status_code,
        courses=courses,
        errors=errors or {},
        problem=problem,
        languages=language_choices(),
    )


def _course_in(form: Any, currency: str) -> tuple[CourseIn, dict[str, str]]:
    errors: dict[str, str] = {}
    try:
        price = money.parse_major(form.get("price", ""), currency) or 0
    except ValueError:
        errors["price_minor"] = "Enter a price such as 49 or 49.50, or 0 for free."
        price = 0
    return (
        CourseIn(
            title=form.get("title", ""),
            instrument=form.get("instrument", ""),
            level=form.get("level", ""),
            language=form.get("language", ""),
            summary=form.get("summary", ""),
            description=form.get("description", ""),
            price_minor=price,
        ),
        errors,
    )


@post("/teach/courses", access=Access.TUTOR, include_in_schema=False)
async def create_course_form(request: Request[Any, Any, Any]) -> Any:
    services = services_of(request)
    form = await form_data(request)
    data, errors = _course_in(form, services.settings.marketplace.currency)
    try:
        if errors:
            raise ValidationFailed(errors)
        async with services.transaction() as session:
            tutor = await load_user(session, me(request).id)
            course = await service.create_course(
                session, tutor, data, services.settings.marketplace.currency
            )
    except DomainError as exc:
        return await _tutor_list(request, **form_failure(exc))
    return redirect(f"/teach/courses/{course.id}", "course_created")


async def _editor(
    request: Request[Any, Any, Any],
    course_id: int,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Template:
    services = services_of(request)
    async with services.transaction() as session:
        course = await service.owned_course(session, course_id, me(request).id)
        plan = await service.outline(session, course)
        name = await service.tutor_name(session, course.tutor_id)
        problems = await publishing.publish_problems(session, course)
    view = course_out(plan, name, services.media_links, for_tutor=True, with_content=True)
    return page(
        request,
        "lessons/editor.html",
        status_code=status_code,
        course=view,
        c=course,
        problems=problems,
        errors=errors or {},
        problem=problem,
        languages=language_choices(),
        price=_major(course.price_minor, course.currency),
        kinds=[
            ("text", "Text"),
            ("audio", "Audio"),
            ("video", "Video"),
            ("file", "Sheet music (PDF)"),
            ("quiz", "Quiz"),
        ],
    )


def _major(minor: int, currency: str) -> str:
    exp = money.exponent(currency)
    return f"{minor / 10**exp:.{exp}f}" if exp else str(minor)


@get("/teach/courses/{course_id:int}", access=Access.TUTOR, include_in_schema=False)
async def editor(request: Request[Any, Any, Any], course_id: FromPath[int]) -> Template:
    return await _editor(request, course_id)


async def _edit(
    request: Request[Any, Any, Any],
    course_id: int,
    action: Any,
    notice: str,
    target: str | None = None,
) -> Any:
    try:
        async with services_of(request).transaction() as session:
            course = await service.owned_course(session, course_id, me(request).id)
            await action(session, course)
    except DomainError as exc:
        return await _editor(request, course_id, **form_failure(exc))
    return redirect(target or f"/teach/courses/{course_id}", notice)


@post("/teach/courses/{course_id:int}", access=Access.TUTOR, include_in_schema=False)
async def save_course_form(request: Request[Any, Any, Any], course_id: FromPath[int]) -> Any:
    services = services_of(request)
    form = await form_data(request)
    data, errors = _course_in(form, services.settings.marketplace.currency)
    if errors:
        return await _editor(request, course_id, **form_failure(ValidationFailed(errors)))

    async def action(session: Any, course: Course) -> None:
        await service.update_course(session, course, data)

    return await _edit(request, course_id, action, "course_saved")


@post("/teach/courses/{course_id:int}/modules", access=Access.TUTOR, include_in_schema=False)
async def add_module_form(request: Request[Any, Any, Any], course_id: FromPath[int]) -> Any:
    form = await form_data(request)

    async def action(session: Any, course: Course) -> None:
        await service.add_module(session, course, form.get("title", ""))

    return await _edit(request, course_id, action, "module_added")


@post(
    "/teach/courses/{course_id:int}/modules/{module_id:int}/{op:str}",
    access=Access.TUTOR,
    include_in_schema=False,
)
async def module_action_form(
    request: Request[Any, Any, Any],
    course_id: FromPath[int],
    module_id: FromPath[int],
    op: FromPath[str],
) -> Any:
    form = await form_data(request)

    async def action(session: Any, course: Course) -> None:
        if op in ("up", "down"):
            await service.move_module(session, course, module_id, op)
        elif op == "rename":
            await service.rename_module(session, course, module_id, form.get("title", ""))
        elif op == "delete":
            await service.delete_module(session, course, module_id)
        else:
            raise NotFound("Nothing lives at this address.")

    notice = {"delete": "module_deleted", "rename": "course_saved"}.get(op, "moved")
    return await _edit(request, course_id, action, notice)


@post("/teach/courses/{course_id:int}/items", access=Access.TUTOR, include_in_schema=False)
async def add_item_form(request: Request[Any, Any, Any], course_id: FromPath[int]) -> Any:
    form = await form_data(request)
    created: dict[str, int] = {}

    async def action(session: Any, course: Course) -> None:
        module = form.get("module_id", "")
        item = await service.add_item(
            session,
            course,
            ItemIn(
                kind=form.get("kind", ""),
                title=form.get("title", ""),
                module_id=int(module) if module.isdigit() else 0,
                required=form.get("required", "1") == "1",
            ),
        )
        created["id"] = item.id

    result = await _edit(request, course_id, action, "item_added")
    if "id" in created:
        return redirect(f"/teach/courses/{course_id}/items/{created['id']}", "item_added")
    return result


@post(
    "/teach/courses/{course_id:int}/items/{item_id:int}/{op:str}",
    access=Access.TUTOR,
    include_in_schema=False,
)
async def item_action_form(
    request: Request[Any, Any, Any],
    course_id: FromPath[int],
    item_id: FromPath[int],
    op: FromPath[str],
) -> Any:
    services = services_of(request)
    if op not in ("up", "down", "delete", "retry"):
        raise NotFound("Nothing lives at this address.")
    keys: list[str] = []

    async def action(session: Any, course: Course) -> None:
        if op in ("up", "down"):
            await service.move_item(session, course, item_id, op)
        elif op == "delete":
            keys.extend(await service.delete_item(session, course, item_id))
        else:
            await media_service.retry(session, course, item_id)

    target = f"/teach/courses/{course_id}/items/{item_id}" if op == "retry" else None
    notice = {"delete": "item_deleted", "retry": "retrying"}.get(op, "moved")
    result = await _edit(request, course_id, action, notice, target)
    media_service.remove_files(services.storage, keys)
    return result


async def _item_editor(
    request: Request[Any, Any, Any],
    course_id: int,
    item_id: int,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Template:
    from lessons.quizzes.api import quiz_out

    services = services_of(request)
    async with services.transaction() as session:
        course = await service.owned_course(session, course_id, me(request).id)
        plan = await service.outline(session, course)
        name = await service.tutor_name(session, course.tutor_id)
        view = course_out(plan, name, services.media_links, for_tutor=True, with_content=True)
        item = next((i for m in view.modules for i in m.items if i.id == item_id), None)
        if item is None:
            raise NotFound("No such item in this course.", code="item_not_found")
        raw = next(i for i in plan.items if i.id == item_id)
        quiz = plan.quizzes.get(item_id)
        quiz_view = await quiz_out(session, services, quiz) if quiz else None
    limits = services.settings.courses
    return page(
        request,
        "lessons/item_editor.html",
        status_code=status_code,
        course=view,
        item=item,
        body=raw.body_markdown,
        quiz=quiz_view,
        errors=errors or {},
        problem=problem,
        limit_mb=int(media_service.limits_for(item.kind, limits).max_bytes / 1_048_576),
        question_kinds=definitions.KIND_NAMES,
    )


@get(
    "/teach/courses/{course_id:int}/items/{item_id:int}",
    access=Access.TUTOR,
    include_in_schema=False,
)
async def item_editor(
    request: Request[Any, Any, Any], course_id: FromPath[int], item_id: FromPath[int]
) -> Template:
    return await _item_editor(request, course_id, item_id)


@post(
    "/teach/courses/{course_id:int}/items/{item_id:int}",
    access=Access.TUTOR,
    include_in_schema=False,
)
async def save_item_form(
    request: Request[Any, Any, Any], course_id: FromPath[int], item_id: FromPath[int]
) -> Any:
    form = await form_data(request)
    try:
        async with services_of(request).transaction() as session:
            course = await service.owned_course(session, course_id, me(request).id)
            await service.update_item(
                session,
                course,
                item_id,
                ItemUpdateIn(
                    title=form.get("title", ""),
                    required=form.get("required") == "1",
                    body=form.get("body", ""),
                ),
            )
    except DomainError as exc:
        return await _item_editor(request, course_id, item_id, **form_failure(exc))
    return redirect(f"/teach/courses/{course_id}/items/{item_id}", "item_saved")


@post(
    "/teach/courses/{course_id:int}/items/{item_id:int}/upload",
    access=Access.TUTOR,
    include_in_schema=False,
    request_max_body_size=UPLOAD_BODY_LIMIT,
)
async def upload_form(
    request: Request[Any, Any, Any],
    course_id: FromPath[int],
    item_id: FromPath[int],
    data: PageForm,
) -> Any:
    try:
        await upload_media(request, course_id, item_id, form_file(data, "file"))
    except DomainError as exc:
        return await _item_editor(request, course_id, item_id, **form_failure(exc, "file"))
    return redirect(f"/teach/courses/{course_id}/items/{item_id}", "uploaded")


@post("/teach/courses/{course_id:int}/publish", access=Access.TUTOR, include_in_schema=False)
async def publish_form(request: Request[Any, Any, Any], course_id: FromPath[int]) -> Any:
    form = await form_data(request)
    publish = form.get("publish", "1") == "1"

    async def action(session: Any, course: Course) -> None:
        if publish:
            await publishing.publish(session, course)
        else:
            await publishing.unpublish(session, course)

    return await _edit(request, course_id, action, "published" if publish else "unpublished")


@get("/teach/courses/{course_id:int}/students", access=Access.TUTOR, include_in_schema=False)
async def students_page(request: Request[Any, Any, Any], course_id: FromPath[int]) -> Template:
    async with services_of(request).transaction() as session:
        course = await service.owned_course(session, course_id, me(request).id)
        rows = await student_progress(session, course)
        plan = await service.outline(session, course)
    quizzes_by_id = {str(q.id): i for i in plan.items for q in [plan.quizzes.get(i.id)] if q}
    return page(
        request,
        "lessons/students.html",
        c=course,
        rows=rows,
        quizzes=quizzes_by_id,
        zone=me(request).time_zone,
    )


ROUTES = [
    tutor_courses,
    create_course_form,
    editor,
    save_course_form,
    add_module_form,
    module_action_form,
    add_item_form,
    item_action_form,
    item_editor,
    save_item_form,
    upload_form,
    publish_form,
    students_page,
]
