"""Which search backend this deployment uses, chosen from the settings once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from marketplace.settings import Settings
from search.backends import SearchBackend
from search.postgres_backend import PostgresBackend


def build_search_backend(settings: Settings, engine: AsyncEngine) -> SearchBackend:
    """Meilisearch when MEILI_URL is set; otherwise PostgreSQL (the embedded default)."""
    if settings.search.url:
        # Imported here: deployments on PostgreSQL never load the Meilisearch client.
        from search.meili_backend import MeiliBackend

        return MeiliBackend(settings.search.url, settings.search.api_key)
    return PostgresBackend(engine)
