"""Pages: home, tutor directory, public tutor page, the tutor's editor, the admin review queue."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from marketplace import money, places, vocab
from marketplace.accounts.models import User
from marketplace.errors import DomainError, NotFound, ValidationFailed
from marketplace.profiles import changes, service
from marketplace.profiles.api import AUDIO_BODY_LIMIT
from marketplace.profiles.models import TutorProfile
from marketplace.profiles.presenters import my_tutor_out, tutor_out
from marketplace.profiles.schemas import InstrumentIn, PriceIn, TutorProfileIn
from marketplace.web.access import Access, principal_of, require_principal
from marketplace.web.forms import form_data, form_failure, redirect
from marketplace.web.services import Services
from marketplace.web.templating import page
from marketplace.web.uploads import form_file, read_upload

EDITOR_INSTRUMENT_ROWS = 4


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


@get("/", access=Access.PUBLIC, include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Template:
    services = _services(request)
    async with services.sessions() as session:
        rows, total = await service.public_tutors(session, page=1, per_page=12)
    return page(
        request,
        "home.html",
        tutors=[tutor_out(p, services.storage) for p in rows],
        total=total,
        default_radius_km=places.DEFAULT_SEARCH_RADIUS_KM,
    )


@get("/tutors", access=Access.PUBLIC, include_in_schema=False)
async def directory(request: Request[Any, Any, Any]) -> Redirect:
    """The old unfiltered list: the search page lists the same tutors, with filters (and only
    those a student can book)."""
    query = request.url.query
    return Redirect("/search" + (f"?{query}" if query else ""), status_code=301)


@get("/tutors/{tutor_id:int}", access=Access.PUBLIC, include_in_schema=False)
async def tutor_page(request: Request[Any, Any, Any], tutor_id: FromPath[int]) -> Template:
    """Public when approved; the tutor and admins may preview it before that."""
    services = _services(request)
    viewer = principal_of(request)
    async with services.sessions() as session:
        profile = await session.get(TutorProfile, tutor_id)
        may_preview = viewer is not None and (viewer.id == tutor_id or viewer.is_admin)
        if profile is None or not (profile.is_public or may_preview):
            raise NotFound("No such tutor.", code="tutor_not_found")
        # Sections of higher packages (reviews, ...), registered by the composition root.
        subject = {"tutor_id": tutor_id, "preview": not profile.is_public}
        fragments = await services.fragments.render("tutor_page", request, session, **subject)
        header = await services.fragments.render("tutor_header", request, session, **subject)
    return page(
        request,
        "profiles/tutor.html",
        tutor=tutor_out(profile, services.storage),
        status=profile.status,
        preview=not profile.is_public,
        fragments=fragments,
        header_fragments=header,
    )


async def _editor(
    request: Request[Any, Any, Any],
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Template:
    services = _services(request)
    async with services.transaction() as session:
        user = await session.get(User, require_principal(request).id)
        if user is None:
            raise NotFound("No such user.")
        profile = await service.tutor_profile_for(
            session, user, services.settings.marketplace.currency
        )
        pending = await changes.pending_of(session, user.id)
        held = changes.differences(profile, pending.changes) if pending else []
        # What stands between the tutor and students (search adds it: payouts, free time).
        checklist = await services.fragments.render(
            "tutor_editor", request, session, tutor_id=user.id
        )
    mine = my_tutor_out(profile, services.storage)
    prices = {p.duration_minutes: p.price_minor for p in profile.prices}
    instruments = [(i.instrument, list(i.levels)) for i in profile.instruments]
    instruments += [("", [])] * max(0, EDITOR_INSTRUMENT_ROWS - len(instruments))
    return page(
        request,
        "profiles/editor.html",
        status_code=status_code,
        profile=mine,
        checklist=checklist,
        held=held,
        photo_url=_photo_url(services),
        instruments=instruments,
        prices=prices,
        durations=service.ALLOWED_DURATIONS,
        errors=errors or {},
        problem=problem,
        money_input=_money_input,
        languages=sorted(vocab.LANGUAGES.items(), key=lambda kv: kv[1]),
        city_label=f"{profile.city_name}, {profile.country_code}" if profile.city_name else "",
    )


def _money_input(minor: int | None, currency: str) -> str:
    if minor is None:
        return ""
    exp = money.exponent(currency)
    return f"{minor / 10**exp:.{exp}f}" if exp else str(minor)


@get("/tutor/profile", access=Access.TUTOR, include_in_schema=False)
async def editor(request: Request[Any, Any, Any]) -> Template:
    return await _editor(request)


def _profile_from_form(form: Any, currency: str) -> tuple[TutorProfileIn, dict[str, str]]:
    """Form fields → the API's input struct; amounts and the city are parsed here."""
    errors: dict[str, str] = {}
    instruments = []
    for row in range(EDITOR_INSTRUMENT_ROWS):
        slug = form.get(f"instrument_{row}", "")
        if slug:
            instruments.append(
                InstrumentIn(instrument=slug, levels=form.getall(f"levels_{row}", []))
            )
    prices = []
    for duration in service.ALLOWED_DURATIONS:
        try:
            minor = money.parse_major(form.get(f"price_{duration}", ""), currency)
        except ValueError:
            errors[f"price_{duration}"] = "Enter an amount such as 45 or 45.50."
            continue
        if minor is not None:
            prices.append(PriceIn(duration_minutes=duration, price_minor=minor))
    try:
        trial = money.parse_major(form.get("trial_price", ""), currency)
    except ValueError:
        errors["trial_price_minor"] = "Enter an amount such as 20, or leave it empty."
        trial = None
    city_id: int | None = None
    if raw_id := form.get("city_geoname_id", "").strip():
        city_id = int(raw_id) if raw_id.isdigit() else -1
    elif city_text := form.get("city", "").strip():
        name, _, country = (part.strip() for part in city_text.partition(","))
        code = country.upper() or None
        found = places.find_city(name, code) if code else None
        found = found or next(iter(places.search_cities(name, country_code=code, limit=1)), None)
        if found is None:
            errors["city_geoname_id"] = f"We do not know a city called “{city_text}”."
        city_id = found.geoname_id if found else None
    radius = form.get("travel_radius_km", "").strip()
    data = TutorProfileIn(
        display_name=form.get("display_name", ""),
        headline=form.get("headline", ""),
        bio=form.get("bio", ""),
        instruments=instruments,
        genres=form.getall("genres", []),
        languages=form.getall("languages", []),
        formats=form.getall("formats", []),
        travel_radius_km=int(radius) if radius.isdigit() else None,
        city_geoname_id=city_id,
        prices=prices,
        trial_price_minor=trial,
    )
    return data, errors


@post("/tutor/profile", access=Access.TUTOR, include_in_schema=False)
async def editor_save(request: Request[Any, Any, Any]) -> Response[Any]:
    services = _services(request)
    form = await form_data(request)
    data, errors = _profile_from_form(form, services.settings.marketplace.currency)
    try:
        if errors:
            raise ValidationFailed(errors)
        async with services.transaction() as session:
            user = await session.get(User, require_principal(request).id)
            assert user is not None
            await service.update_tutor_profile(
                session, user, data, services.settings.marketplace.currency
            )
    except DomainError as exc:
        return await _editor(request, **form_failure(exc))
    return redirect("/tutor/profile", "profile_saved")


@post("/tutor/profile/photo", access=Access.TUTOR, include_in_schema=False)
async def editor_photo(request: Request[Any, Any, Any]) -> Response[Any]:
    services = _services(request)
    limit = services.settings.media.max_photo_bytes
    try:
        upload = form_file(await form_data(request), "photo")
        content = await read_upload(upload, limit, "photo")
        async with services.transaction() as session:
            user = await session.get(User, require_principal(request).id)
            assert user is not None
            await service.set_photo(
                session,
                services.storage,
                user,
                content,
                limit,
                services.settings.marketplace.currency,
            )
    except DomainError as exc:
        return await _editor(request, **form_failure(exc, "photo"))
    return redirect("/tutor/profile", "photo_saved")


@post(
    "/tutor/profile/audio",
    access=Access.TUTOR,
    include_in_schema=False,
    request_max_body_size=AUDIO_BODY_LIMIT,
)
async def editor_audio(request: Request[Any, Any, Any]) -> Response[Any]:
    services = _services(request)
    media = services.settings.media
    try:
        upload = form_file(await form_data(request), "audio")
        content = await read_upload(upload, media.max_audio_bytes, "audio")
        async with services.transaction() as session:
            user = await session.get(User, require_principal(request).id)
            assert user is not None
            await service.upload_audio_sample(
                session,
                services.storage,
                user,
                content,
                upload.filename or "",
                max_bytes=media.max_audio_bytes,
                max_seconds=media.max_audio_seconds,
                currency=services.settings.marketplace.currency,
            )
    except DomainError as exc:
        return await _editor(request, **form_failure(exc, "audio"))
    return redirect("/tutor/profile", "audio_processing")


@post("/tutor/profile/submit", access=Access.TUTOR, include_in_schema=False)
async def editor_submit(request: Request[Any, Any, Any]) -> Response[Any]:
    services = _services(request)
    try:
        async with services.transaction() as session:
            user = await session.get(User, require_principal(request).id)
            assert user is not None
            await service.submit_for_review(session, user, services.settings.marketplace.currency)
    except DomainError as exc:
        return await _editor(request, **form_failure(exc))
    return redirect("/tutor/profile", "submitted")


def _photo_url(services: Services) -> Any:
    def url(base: str | None) -> str:
        return services.storage.url(service.photo_rendition_key(base, "medium")) if base else ""

    return url


async def _queue_page(
    request: Request[Any, Any, Any],
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Template:
    services = _services(request)
    async with services.sessions() as session:
        rows = await service.review_queue(session)
        held = await changes.review_queue(session)
    return page(
        request,
        "profiles/admin_queue.html",
        status_code=status_code,
        pending=[my_tutor_out(p, services.storage) for p in rows],
        changed=[(p, changes.differences(p, c.changes), c) for p, c in held],
        photo_url=_photo_url(services),
        errors=errors or {},
        problem=problem,
    )


@get("/admin/tutors", access=Access.ADMIN, include_in_schema=False)
async def admin_queue(request: Request[Any, Any, Any]) -> Template:
    return await _queue_page(request)


@post("/admin/tutors/{tutor_id:int}/changes", access=Access.ADMIN, include_in_schema=False)
async def admin_changes(request: Request[Any, Any, Any], tutor_id: FromPath[int]) -> Response[Any]:
    services = _services(request)
    form = await form_data(request)
    try:
        async with services.transaction() as session:
            await changes.decide(
                session,
                services.storage,
                require_principal(request).id,
                tutor_id,
                form.get("action", ""),
                form.get("reason", ""),
            )
    except DomainError as exc:
        return await _queue_page(request, **form_failure(exc, "reason"))
    return redirect("/admin/tutors", "moderated")


@post("/admin/tutors/{tutor_id:int}/moderate", access=Access.ADMIN, include_in_schema=False)
async def admin_moderate(request: Request[Any, Any, Any], tutor_id: FromPath[int]) -> Response[Any]:
    services = _services(request)
    form = await form_data(request)
    try:
        async with services.transaction() as session:
            await service.moderate(
                session,
                require_principal(request).id,
                tutor_id,
                form.get("action", ""),
                form.get("reason", ""),
            )
    except DomainError as exc:
        return await _queue_page(request, **form_failure(exc, "reason"))
    return redirect("/admin/tutors", "moderated")


ROUTES = [
    home,
    directory,
    tutor_page,
    editor,
    editor_save,
    editor_photo,
    editor_audio,
    editor_submit,
    admin_queue,
    admin_moderate,
    admin_changes,
]
