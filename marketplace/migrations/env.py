"""Alembic environment: async engine, URL from the caller or from DATABASE_URL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from marketplace.db import Base
from marketplace.settings import Settings


def load_models() -> None:
    """Import every package's models so ``Base.metadata`` holds every table.

    Like ``marketplace/app.py``, the migration environment stands above all packages (the
    schema is all of theirs). It imports only the models, not the app: importing the whole
    app (aiortc, PyAV, every route) would add seconds to each ``duet run``."""
    from lessons.certificates import models as _certificates  # noqa: F401
    from lessons.courses import models as _courses  # noqa: F401
    from lessons.discussions import models as _discussions  # noqa: F401
    from lessons.notes import models as _notes  # noqa: F401
    from lessons.quizzes import models as _quizzes  # noqa: F401
    from marketplace.accounts import models as _accounts  # noqa: F401
    from marketplace.attachments import models as _attachments  # noqa: F401
    from marketplace.audit import models as _audit  # noqa: F401
    from marketplace.messaging import models as _messaging  # noqa: F401
    from marketplace.notifications import models as _notifications  # noqa: F401
    from marketplace.privacy import models as _privacy  # noqa: F401
    from marketplace.profiles import models as _profiles  # noqa: F401
    from marketplace.reports import models as _reports  # noqa: F401
    from payouts import models as _payouts  # noqa: F401
    from reviews import models as _reviews  # noqa: F401
    from scheduling import models as _scheduling  # noqa: F401
    from search import models as _search  # noqa: F401
    from video import models as _video  # noqa: F401


load_models()
target_metadata = Base.metadata
config = context.config


def _url() -> str:
    url = config.attributes.get("database_url") or Settings.from_env(os.environ).database.url
    if not url:
        raise RuntimeError("Set DATABASE_URL, or run `duet db upgrade` for the embedded database.")
    return str(url)


def _include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # Extension-owned objects are not ours to diff.
    return not (
        type_ == "table" and reflected and compare_to is None and name in {"spatial_ref_sys"}
    )


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_object=_include_object,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    existing = config.attributes.get("connection")
    if existing is not None:
        _run(existing)
    else:
        asyncio.run(_run_async())
