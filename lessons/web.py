"""Everything the lessons package serves: JSON API, pages, templates and static files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.static_files import create_static_files_router

from lessons.certificates.api import ROUTES as CERTIFICATE_ROUTES
from lessons.certificates.signing import signer_for
from lessons.courses.api import ROUTES as COURSE_API
from lessons.courses.authoring_api import ROUTES as AUTHORING_API
from lessons.courses.pages import ROUTES as COURSE_PAGES
from lessons.discussions.api import ROUTES as DISCUSSION_API
from lessons.discussions.pages import ROUTES as DISCUSSION_PAGES
from lessons.notes.api import ROUTES as NOTES_ROUTES
from lessons.quizzes.api import ROUTES as QUIZ_API
from lessons.quizzes.pages import ROUTES as QUIZ_PAGES
from marketplace.settings import Settings
from marketplace.web.access import Access

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def routes(settings: Settings) -> list[Any]:
    """Checks the certificate signing key now, so a bad key stops start-up, not a student."""
    signer_for(settings.courses.signing_key, settings.web.base_url)
    return [
        *COURSE_API,
        *AUTHORING_API,
        *COURSE_PAGES,
        *QUIZ_API,
        *QUIZ_PAGES,
        *CERTIFICATE_ROUTES,
        *NOTES_ROUTES,
        *DISCUSSION_API,
        *DISCUSSION_PAGES,
        create_static_files_router(
            path="/static/lessons",
            directories=[STATIC],
            opt={"access": Access.PUBLIC},
            include_in_schema=False,
        ),
    ]
