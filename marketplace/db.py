"""The database: one metadata for the whole app, the engine and the session factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.ext import asyncio as sa_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.util import await_only

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}
    # Fetch server-generated values (defaults, now()) with RETURNING, so objects stay usable
    # after a flush without lazy loads, which async sessions cannot do implicitly.
    __mapper_args__ = {"eager_defaults": True}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    pooled: bool = True,
    pre_ping: bool = True,
    overflow: bool = True,
) -> AsyncEngine:
    """``pooled=False`` opens a connection per use: for jobs, whose event loop belongs to the
    worker and may stop at any time, so no pooled connection outlives it.

    ``pre_ping=False`` is for hot paths made of single statements (messages): the ping costs
    three round trips per checkout with asyncpg (BEGIN, a query, ROLLBACK); connections are
    recycled every 30 minutes instead, and a statement on a dead one fails before it runs.

    ``overflow=False`` makes a burst wait for one of ``pool_size`` connections instead of opening
    more: overflow connections are closed as soon as they are returned, so under steady load
    they are opened again and again (a backend start, the TLS probe and asyncpg's type
    introspection each time), which cost more than the wait."""
    # Called through its module, not imported by name: with tracing on, OpenTelemetry's
    # SQLAlchemy instrumentation wraps that attribute and traces every engine made by it.
    if not pooled:
        return sa_asyncio.create_async_engine(url, poolclass=NullPool, echo=echo)
    engine = sa_asyncio.create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if overflow else 0,
        pool_pre_ping=pre_ping,
        pool_recycle=-1 if pre_ping else 1800,
        echo=echo,
    )
    if pre_ping:
        engine.sync_engine.dialect.do_ping = _ping_in_one_trip  # type: ignore[method-assign]
    return engine


def _ping_in_one_trip(dbapi_connection: Any) -> bool:
    """The pool's check of a connection before lending it, in one round trip: ``SELECT 1`` in
    the simple query protocol, outside any transaction (nothing prepared, so a pooler in
    transaction mode is fine too). SQLAlchemy's own wraps its query in BEGIN and ROLLBACK:
    three round trips on every checkout. False makes the pool reconnect, as its own does."""
    try:
        await_only(dbapi_connection.driver_connection.execute("SELECT 1"))
    except Exception:
        return False
    return True


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One use case, one transaction: commit on success, roll back on any error."""
    async with factory() as session, session.begin():
        yield session
