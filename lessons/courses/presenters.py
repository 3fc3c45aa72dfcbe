"""Course models → response structs, shared by the API and the pages."""

from __future__ import annotations

from lessons.courses.catalogue import Listed
from lessons.courses.models import Course, CourseMedia, ItemProgress
from lessons.courses.schemas import (
    CourseOut,
    CourseSummaryOut,
    ItemOut,
    MediaOut,
    ModuleOut,
)
from lessons.courses.service import Outline
from marketplace.media_links import Grant, MediaLinks


def media_out(
    m: CourseMedia, links: MediaLinks, *, for_tutor: bool, grant: Grant | None = None
) -> MediaOut:
    """Call only for someone who may see the course's content: the URLs are signed links that
    work for whoever holds them until they expire, and, bound to a student's enrolment
    (``grant``), only while it lasts."""
    ready = m.status == "ready"
    url = None
    if ready:
        url = links.url(m.playable_key or m.original_key, grant)
    return MediaOut(
        id=m.id,
        kind=m.kind,
        status=m.status,
        progress_percent=m.progress_percent,
        error=m.error if for_tutor else "",
        duration_seconds=m.duration_seconds,
        filename=m.original_filename,
        url=url,
        hls_url=links.playlist_url(m.hls_key, grant) if ready and m.hls_key else None,
    )


def summary_out(row: Listed) -> CourseSummaryOut:
    c = row.course
    return CourseSummaryOut(
        id=c.id,
        title=c.title,
        summary=c.summary,
        instrument=c.instrument,
        level=c.level,
        language=c.language,
        price_minor=c.price_minor,
        currency=c.currency,
        free=c.is_free,
        tutor_id=c.tutor_id,
        tutor_name=row.tutor_name,
        status=c.status,
        published_at=c.published_at.isoformat() if c.published_at else None,
        items=row.items,
        url=f"/courses/{c.id}",
    )


def course_out(
    plan: Outline,
    tutor_name: str,
    links: MediaLinks,
    *,
    for_tutor: bool = False,
    progress: dict[int, ItemProgress] | None = None,
    with_content: bool = False,
    grant: Grant | None = None,
) -> CourseOut:
    """The syllabus for everyone; bodies and media URLs only with ``with_content`` (enrolled
    students, whose links are bound to their enrolment by ``grant``; the tutor's preview)."""
    c: Course = plan.course
    modules = []
    for module, items in plan.modules:
        outs = []
        for item in items:
            media = plan.media.get(item.id)
            quiz = plan.quizzes.get(item.id)
            state = (progress or {}).get(item.id)
            outs.append(
                ItemOut(
                    id=item.id,
                    kind=item.kind,
                    title=item.title,
                    required=item.required,
                    position=item.position,
                    module_id=module.id,
                    body_html=item.body_html if with_content else "",
                    media=media_out(media, links, for_tutor=for_tutor, grant=grant)
                    if media and (with_content or for_tutor)
                    else None,
                    quiz_id=quiz.id if quiz else None,
                    completed=(state is not None and state.completed_at is not None)
                    if progress is not None
                    else None,
                    position_seconds=state.position_seconds if state else None,
                )
            )
        modules.append(
            ModuleOut(id=module.id, title=module.title, position=module.position, items=outs)
        )
    return CourseOut(
        id=c.id,
        title=c.title,
        summary=c.summary,
        description_html=c.description_html,
        instrument=c.instrument,
        level=c.level,
        language=c.language,
        price_minor=c.price_minor,
        currency=c.currency,
        free=c.is_free,
        tutor_id=c.tutor_id,
        tutor_name=tutor_name,
        status=c.status,
        modules=modules,
    )
