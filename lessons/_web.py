"""Helpers shared by the lessons API and pages."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile

from lessons.certificates.signing import Signer, signer_for
from marketplace import vocab
from marketplace.accounts.models import User
from marketplace.errors import NotFound, ValidationFailed
from marketplace.media import MediaStorage
from marketplace.web.access import Principal, require_principal
from marketplace.web.services import Services

CHUNK = 1024 * 1024


def services_of(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def signer_of(services: Services) -> Signer:
    return signer_for(services.settings.courses.signing_key, services.settings.web.base_url)


def me(request: Request[Any, Any, Any]) -> Principal:
    return require_principal(request)


async def load_user(session: Any, user_id: int) -> User:
    user: User | None = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def stage_upload(
    upload: UploadFile | None, storage: MediaStorage, limit: int
) -> tuple[Path, int]:
    """Copy an upload to a temporary file under the media root in chunks (never all in memory);
    refuse it (and keep nothing) past ``limit`` bytes."""
    if upload is None or not isinstance(upload, UploadFile):
        raise ValidationFailed({"file": "Choose a file to upload."})
    path = storage.path(f"tmp/{secrets.token_hex(16)}.upload")
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    try:
        with path.open("wb") as out:
            while chunk := await upload.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ValidationFailed(
                        {"file": f"The file must be at most {limit / 1_048_576:.0f} MB."}
                    )
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        await upload.close()
    if size == 0:
        path.unlink(missing_ok=True)
        raise ValidationFailed({"file": "The file is empty."})
    return path, size


def language_choices() -> list[tuple[str, str]]:
    """(code, name) of every teaching language, by name, for the course forms."""
    return sorted(vocab.LANGUAGES.items(), key=lambda kv: kv[1])
