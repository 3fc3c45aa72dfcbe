"""JSON API for tutor and student profiles, public tutors and admin review."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace import places, vocab
from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.profiles import changes, service
from marketplace.profiles.models import TutorProfile
from marketplace.profiles.presenters import my_tutor_out, tutor_out
from marketplace.profiles.schemas import (
    DifferenceOut,
    ModerationIn,
    MyTutorProfileOut,
    PendingChangesOut,
    StudentInstrumentIn,
    StudentProfileIn,
    StudentProfileOut,
    TutorOut,
    TutorPage,
    TutorProfileIn,
)
from marketplace.web.access import Access, require_principal
from marketplace.web.services import Services
from marketplace.web.uploads import DataForm, read_upload

AUDIO_BODY_LIMIT = 25 * 1024 * 1024


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


async def _me(session: Any, request: Request[Any, Any, Any]) -> User:
    user: User | None = await session.get(User, require_principal(request).id)
    if user is None:
        raise NotFound("No such user.")
    return user


class TutorProfileController(Controller):
    path = "/api/v1/tutors/me"
    tags = ["tutor profile"]

    @get("/profile", access=Access.TUTOR)
    async def show(self, request: Request[Any, Any, Any]) -> MyTutorProfileOut:
        services = _services(request)
        async with services.transaction() as session:
            user = await _me(session, request)
            profile = await service.tutor_profile_for(
                session, user, services.settings.marketplace.currency
            )
        return my_tutor_out(profile, services.storage)

    @get("/changes", access=Access.TUTOR)
    async def my_changes(self, request: Request[Any, Any, Any]) -> PendingChangesOut:
        """Name, photo and price edits of an approved profile that wait for review."""
        async with _services(request).sessions() as session:
            user = await _me(session, request)
            profile = await session.get(TutorProfile, user.id)
            row = await changes.pending_of(session, user.id)
        diffs = changes.differences(profile, row.changes) if profile and row else []
        return _pending_out(user.id, diffs)

    @put("/profile", access=Access.TUTOR)
    async def update(
        self, request: Request[Any, Any, Any], data: JSONBody[TutorProfileIn]
    ) -> MyTutorProfileOut:
        services = _services(request)
        async with services.transaction() as session:
            user = await _me(session, request)
            profile = await service.update_tutor_profile(
                session, user, data, services.settings.marketplace.currency
            )
        return my_tutor_out(profile, services.storage)

    @post("/photo", access=Access.TUTOR, status_code=200)
    async def photo(self, request: Request[Any, Any, Any], data: DataForm) -> MyTutorProfileOut:
        """JPEG, PNG or WebP, at least 200×200 px; stored as square WebP renditions."""
        services = _services(request)
        limit = services.settings.media.max_photo_bytes
        content = await read_upload(data.data, limit, "photo")
        async with services.transaction() as session:
            user = await _me(session, request)
            profile = await service.set_photo(
                session,
                services.storage,
                user,
                content,
                limit,
                services.settings.marketplace.currency,
            )
        return my_tutor_out(profile, services.storage)

    @post(
        "/audio-sample",
        access=Access.TUTOR,
        status_code=202,
        request_max_body_size=AUDIO_BODY_LIMIT,
    )
    async def audio_sample(
        self, request: Request[Any, Any, Any], data: DataForm
    ) -> MyTutorProfileOut:
        """Any common audio format; converted to AAC in the background (status: processing)."""
        services = _services(request)
        media = services.settings.media
        content = await read_upload(data.data, media.max_audio_bytes, "audio")
        async with services.transaction() as session:
            user = await _me(session, request)
            await service.upload_audio_sample(
                session,
                services.storage,
                user,
                content,
                data.data.filename or "",
                max_bytes=media.max_audio_bytes,
                max_seconds=media.max_audio_seconds,
                currency=services.settings.marketplace.currency,
            )
        async with services.sessions() as session:
            profile = await service.tutor_profile_for(
                session, await _me(session, request), services.settings.marketplace.currency
            )
        return my_tutor_out(profile, services.storage)

    @post("/submit", access=Access.TUTOR, status_code=200)
    async def submit(self, request: Request[Any, Any, Any]) -> MyTutorProfileOut:
        """Send a draft (or rejected) profile to the admins for review."""
        services = _services(request)
        async with services.transaction() as session:
            user = await _me(session, request)
            profile = await service.submit_for_review(
                session, user, services.settings.marketplace.currency
            )
        return my_tutor_out(profile, services.storage)


class StudentProfileController(Controller):
    path = "/api/v1/students/me"
    tags = ["student profile"]

    @get("/profile", access=Access.STUDENT)
    async def show(self, request: Request[Any, Any, Any]) -> StudentProfileOut:
        async with _services(request).transaction() as session:
            profile = await service.student_profile_for(session, await _me(session, request))
        return _student_out(profile)

    @put("/profile", access=Access.STUDENT)
    async def update(
        self, request: Request[Any, Any, Any], data: JSONBody[StudentProfileIn]
    ) -> StudentProfileOut:
        async with _services(request).transaction() as session:
            profile = await service.update_student_profile(
                session, await _me(session, request), data
            )
        return _student_out(profile)


def _student_out(profile: Any) -> StudentProfileOut:
    return StudentProfileOut(
        instruments=[
            StudentInstrumentIn(instrument=i.instrument, level=i.level) for i in profile.instruments
        ],
    )


class PublicTutorController(Controller):
    path = "/api/v1/tutors"
    tags = ["tutors"]

    @get("/", access=Access.PUBLIC)
    async def list_tutors(
        self,
        request: Request[Any, Any, Any],
        page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> TutorPage:
        """Approved tutors, newest first. Search with filters lives at /api/v1/search."""
        services = _services(request)
        async with services.sessions() as session:
            rows, total = await service.public_tutors(session, page=page, per_page=per_page)
        return TutorPage(
            items=[tutor_out(p, services.storage) for p in rows],
            page=page,
            per_page=per_page,
            total=total,
        )

    @get("/{tutor_id:int}", access=Access.PUBLIC)
    async def show(self, request: Request[Any, Any, Any], tutor_id: FromPath[int]) -> TutorOut:
        services = _services(request)
        async with services.sessions() as session:
            profile = await service.public_tutor(session, tutor_id)
        return tutor_out(profile, services.storage)


class AdminTutorController(Controller):
    path = "/api/v1/admin/tutors"
    tags = ["admin"]

    @get("/pending", access=Access.ADMIN)
    async def pending(self, request: Request[Any, Any, Any]) -> list[MyTutorProfileOut]:
        services = _services(request)
        async with services.sessions() as session:
            rows = await service.review_queue(session)
        return [my_tutor_out(p, services.storage) for p in rows]

    @post("/{tutor_id:int}/moderation", access=Access.ADMIN, status_code=200)
    async def moderate(
        self, request: Request[Any, Any, Any], tutor_id: FromPath[int], data: JSONBody[ModerationIn]
    ) -> MyTutorProfileOut:
        """Approve, reject (with a reason) or suspend (with a reason) a tutor."""
        services = _services(request)
        async with services.transaction() as session:
            profile = await service.moderate(
                session, require_principal(request).id, tutor_id, data.action, data.reason
            )
        return my_tutor_out(profile, services.storage)

    @get("/changes", access=Access.ADMIN)
    async def changes_waiting(self, request: Request[Any, Any, Any]) -> list[PendingChangesOut]:
        """Edits to approved profiles waiting for review, each as live now → proposed."""
        async with _services(request).sessions() as session:
            rows = await changes.review_queue(session)
        return [_pending_out(p.user_id, changes.differences(p, c.changes)) for p, c in rows]

    @post("/{tutor_id:int}/changes", access=Access.ADMIN, status_code=200)
    async def decide_changes(
        self, request: Request[Any, Any, Any], tutor_id: FromPath[int], data: JSONBody[ModerationIn]
    ) -> MyTutorProfileOut:
        """Approve (apply) or reject (discard, with a reason) a tutor's waiting changes."""
        services = _services(request)
        async with services.transaction() as session:
            profile = await changes.decide(
                session,
                services.storage,
                require_principal(request).id,
                tutor_id,
                data.action,
                data.reason,
            )
        return my_tutor_out(profile, services.storage)


def _pending_out(tutor_id: int, diffs: list[changes.Difference]) -> PendingChangesOut:
    return PendingChangesOut(
        tutor_id=tutor_id,
        changes=[DifferenceOut(field=d.field, now=d.now, proposed=d.proposed) for d in diffs],
    )


class VocabularyController(Controller):
    path = "/api/v1"
    tags = ["vocabulary"]

    @get("/vocabulary", access=Access.PUBLIC, cache=3600)
    async def vocabulary(self) -> dict[str, Any]:
        """Instruments, genres, levels, formats and languages, with synonyms."""

        def terms(items: tuple[vocab.Term, ...]) -> list[dict[str, Any]]:
            return [{"slug": t.slug, "name": t.name, "synonyms": list(t.synonyms)} for t in items]

        return {
            "instruments": terms(vocab.INSTRUMENTS),
            "genres": terms(vocab.GENRES),
            "levels": terms(vocab.LEVELS),
            "formats": terms(vocab.FORMATS),
            "languages": [
                {"code": c, "name": n}
                for c, n in sorted(vocab.LANGUAGES.items(), key=lambda kv: kv[1])
            ],
        }

    @get("/places/cities", access=Access.PUBLIC)
    async def cities(
        self,
        q: Annotated[str, QueryParameter(min_length=1, max_length=80)],
        country: Annotated[str | None, QueryParameter(min_length=2, max_length=2)] = None,
    ) -> list[dict[str, Any]]:
        """City suggestions from the offline GeoNames data, largest first."""
        return [
            {
                "geoname_id": c.geoname_id,
                "name": c.name,
                "country_code": c.country_code,
                "country": c.country_name,
                "latitude": c.latitude,
                "longitude": c.longitude,
            }
            for c in places.search_cities(q, country_code=country.upper() if country else None)
        ]
