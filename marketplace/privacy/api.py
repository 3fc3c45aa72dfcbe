"""JSON API for a user's own data: exports and account deletion."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from marketplace.privacy import presenters, service
from marketplace.privacy.blockers import blockers_for
from marketplace.privacy.files import Stores
from marketplace.privacy.schemas import DataExportOut, DataExportsOut, DeletionIn, DeletionOut
from marketplace.web.access import Access, require_principal
from marketplace.web.ranged import file_response
from marketplace.web.services import Services


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def stores_of(services: Services) -> Stores:
    return Stores.from_settings(services.settings)


class DataExportController(Controller):
    path = "/api/v1/me/data-exports"
    tags = ["account"]

    @post("/", access=Access.USER, errors=(409,), status_code=202)
    async def request_export(self, request: Request[Any, Any, Any]) -> DataExportOut:
        """Ask for a ZIP of everything Duet holds about you. It is built in the background; a
        notification says when it is ready. 409 ``export_in_progress`` while one is built."""
        async with _services(request).transaction() as session:
            row = await service.request_export(session, require_principal(request).id)
        return presenters.export_out(row)

    @get("/", access=Access.USER)
    async def list_exports(self, request: Request[Any, Any, Any]) -> DataExportsOut:
        """Your latest exports, newest first."""
        async with _services(request).sessions() as session:
            rows = await service.exports_for(session, require_principal(request).id)
        return DataExportsOut([presenters.export_out(r) for r in rows])

    @get("/{export_id:int}", access=Access.USER)
    async def get_export(
        self, request: Request[Any, Any, Any], export_id: FromPath[int]
    ) -> DataExportOut:
        async with _services(request).sessions() as session:
            row = await service.export_of(session, require_principal(request).id, export_id)
        return presenters.export_out(row)

    @get(
        "/{export_id:int}/download",
        access=Access.USER,
        errors=(409, 410),
        media_type="application/zip",
    )
    async def download(self, request: Request[Any, Any, Any], export_id: FromPath[int]) -> Any:
        """The ZIP (``data.json`` plus your files). Only its owner may fetch it; 409
        ``export_not_ready`` while it is built, 410 ``export_expired`` after it expired."""
        services = _services(request)
        async with services.sessions() as session:
            row, path = await service.export_file(
                session, stores_of(services), require_principal(request).id, export_id
            )
        created = row.created_at.strftime("%Y-%m-%d")
        return file_response(
            path,
            "application/zip",
            request_headers=request.headers,
            headers={
                "content-disposition": f'attachment; filename="duet-data-{created}.zip"',
                "cache-control": "private, no-store",
            },
        )


class DeletionController(Controller):
    path = "/api/v1/me/deletion"
    tags = ["account"]

    @get("/", access=Access.USER)
    async def deletion_status(self, request: Request[Any, Any, Any]) -> DeletionOut:
        """Whether your account can be deleted now, what stops it, and what Duet keeps."""
        user_id = require_principal(request).id
        async with _services(request).sessions() as session:
            deletion = await service.deletion_of(session, user_id)
            found = await blockers_for(session, user_id) if deletion is None else []
        return presenters.deletion_out(deletion, found)

    @post("/", access=Access.USER, errors=(409,), status_code=202)
    async def delete_account(
        self, request: Request[Any, Any, Any], data: JSONBody[DeletionIn]
    ) -> Response[DeletionOut]:
        """Delete your account, confirmed with your password. It closes at once (every session
        and token ends) and is erased in the background. 409 ``future_lesson`` or
        ``unsettled_lesson`` while a lesson must be cancelled or settled first."""
        user_id = require_principal(request).id
        async with _services(request).transaction() as session:
            deletion = await service.request_deletion(session, user_id, data.password)
        return Response(presenters.deletion_out(deletion, []), status_code=202)


ROUTES = [DataExportController, DeletionController]
