"""The Meilisearch backend: production search, used when ``MEILI_URL`` is set.

The only module that imports the Meilisearch client. Index settings and the document body
live in ``search.meili_settings``; this module sends them, turns a ``SearchQuery`` into one
multi-search request, and maps the answers back to our dataclasses.

Client: the async ``meilisearch-python-sdk``, not the official ``meilisearch`` package. The
official client is synchronous (requests), so every call would need ``asyncio.to_thread``: a
search would then hold one of the default executor's few threads (six on our two-core
machines) for the whole round trip, queueing behind indexing waits, and a cancelled request
(the student typed another letter) would leave its thread running to the end. The SDK is
native asyncio on an async HTTP client: searches run on the event loop like our asyncpg
queries, share one keep-alive connection pool, are cancelled for real, and take per-request
timeouts. It also types its requests and answers (pydantic), which mypy checks here.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import (
    MeilisearchApiError,
    MeilisearchError,
    MeilisearchTimeoutError,
)
from meilisearch_python_sdk.models.search import SearchParams, SearchResultsWithUID
from meilisearch_python_sdk.models.settings import MeilisearchSettings
from meilisearch_python_sdk.models.task import TaskInfo

from search import buckets, meili_settings
from search.backends import SearchHit, SearchResult, SearchUnavailable, complete_facets
from search.documents import GeoPoint, TutorDocument
from search.query import AVAILABILITY, FACETS, SearchQuery, Sort

log = logging.getLogger(__name__)

_EARTH_RADIUS_KM = 6371.0088  # the mean radius, as Meilisearch's own _geoDistance uses


class MeiliTaskError(RuntimeError):
    """A Meilisearch task failed; the message carries Meilisearch's reason."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class MeiliTaskTimeout(MeiliTaskError):
    """A Meilisearch task did not finish within the wait limit (it may still finish later)."""


class MeiliBackend:
    name = "meilisearch"

    def __init__(
        self,
        url: str,
        api_key: str,
        index_uid: str = "tutors",
        *,
        request_timeout_s: float = 5.0,
        task_timeout_s: float = 120.0,
        batch_size: int = 1000,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = AsyncClient(url, api_key or None)
        # A search must fail fast (503) rather than hang the page.
        self._client.http_client.timeout = httpx2.Timeout(request_timeout_s)
        self._uid = index_uid
        self._task_timeout_ms = max(1, round(task_timeout_s * 1000))
        self._batch_size = batch_size
        self._now = now

    @property
    def index_uid(self) -> str:
        return self._uid

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------ writing

    async def configure(self) -> None:
        await self._ensure_index(self._uid)
        await self._apply_settings(self._uid)

    async def upsert(self, documents: Sequence[TutorDocument]) -> None:
        tasks = [
            await self._add(self._uid, chunk) for chunk in _chunks(documents, self._batch_size)
        ]
        for task in tasks:
            await self._wait(task, "add documents")

    async def delete(self, tutor_ids: Sequence[int]) -> None:
        if not tutor_ids:
            return
        async with _reachable():
            task = await self._client.index(self._uid).delete_documents([str(i) for i in tutor_ids])
        try:
            await self._wait(task, "delete documents")
        except MeiliTaskError as exc:
            if exc.code != "index_not_found":  # no index, so nothing to delete
                raise

    async def rebuild(self, batches: AsyncIterable[Sequence[TutorDocument]]) -> int:
        """Build ``<uid>_<timestamp>`` beside the live index, then swap the two atomically.

        Searches keep reading the old index until the swap; the old one is then deleted. On
        any failure the new index is dropped and the live one is left as it was.
        """
        await self._ensure_index(self._uid)  # the swap needs both indexes to exist
        building = f"{self._uid}_{self._now().strftime('%Y%m%d%H%M%S%f')}"
        await self._create_index(building)
        try:
            await self._apply_settings(building)
            count = 0
            tasks: list[TaskInfo] = []
            async for batch in batches:
                for chunk in _chunks(batch, self._batch_size):
                    tasks.append(await self._add(building, chunk))
                    count += len(chunk)
            # Meilisearch processes document tasks in order (and batches them together).
            for task in tasks:
                await self._wait(task, f"add documents to {building}")
            async with _reachable():
                swap = await self._client.swap_indexes([(self._uid, building)])
            await self._wait(swap, f"swap {building} into {self._uid}")
        except Exception:
            await self._drop_after_failure(building)
            raise
        # After the swap ``building`` names the previous index.
        async with _reachable():
            task = await self._client.index(building).delete()
        await self._wait(task, f"delete the previous index (now {building})")
        return count

    async def drop(self) -> None:
        """Delete the index and everything in it (for test teardown; a missing index is fine)."""
        async with _reachable():
            task = await self._client.index(self._uid).delete()
        try:
            await self._wait(task, f"delete the index {self._uid}")
        except MeiliTaskError as exc:
            if exc.code != "index_not_found":
                raise

    # ------------------------------------------------------------------ reading

    async def search(self, query: SearchQuery) -> SearchResult:
        selected = [facet for facet in FACETS if query.selected(facet)]
        now = self._now()
        hours = buckets.bucket_hours(query.time_zone, now)
        requests = [_main_request(self._uid, query, now, hours, selected)]
        requests += [_facet_request(self._uid, query, now, hours, facet) for facet in selected]
        # Availability counts depend on the viewer's zone, so no stored facet holds them: one
        # count per bucket, each without the availability filter itself (exact totals).
        requests += [_bucket_request(self._uid, query, now, hours, b.slug) for b in buckets.BUCKETS]
        started = time.perf_counter()
        async with _reachable():
            answers = await self._client.multi_search(requests)
        took = round((time.perf_counter() - started) * 1000)
        assert isinstance(answers, list)  # no federation asked for: one answer per request
        main = answers[0]
        facet_answers = answers[1 : 1 + len(selected)]
        bucket_answers = answers[1 + len(selected) :]
        counts = {facet: _distribution(main, facet) for facet in FACETS if facet not in selected}
        counts.update(
            (facet, _distribution(answer, facet))
            for facet, answer in zip(selected, facet_answers, strict=True)
        )
        counts[AVAILABILITY] = {
            b.slug: answer.total_hits or 0
            for b, answer in zip(buckets.BUCKETS, bucket_answers, strict=True)
        }
        return SearchResult(
            hits=[_hit(hit, query.location) for hit in main.hits],
            total=main.total_hits or 0,
            facets=complete_facets(query, counts),
            backend=self.name,
            took_ms=took,
            page=query.page,
            per_page=query.per_page,
        )

    async def health(self) -> str:
        async with _reachable():
            status = (await self._client.health()).status
            if status != "available":
                raise SearchUnavailable()
            try:
                await self._client.get_index(self._uid)
            except MeilisearchApiError as exc:
                if exc.code != "index_not_found":
                    raise
                raise RuntimeError(
                    f"the Meilisearch index {self._uid!r} does not exist: run `duet search reindex`"
                ) from exc
        return f"{self.name} ({status}, index {self._uid})"

    # ------------------------------------------------------------------ tasks

    async def _ensure_index(self, uid: str) -> None:
        async with _reachable():
            try:
                await self._client.get_index(uid)
                return
            except MeilisearchApiError as exc:
                if exc.code != "index_not_found":
                    raise
        await self._create_index(uid)

    async def _create_index(self, uid: str) -> None:
        # The SDK waits for the creation task (bounded here) and then reads the index back;
        # a failed creation surfaces as that read's index_not_found.
        async with _reachable():
            try:
                await self._client.create_index(
                    uid, primary_key="id", timeout_in_ms=self._task_timeout_ms
                )
            except MeilisearchApiError as exc:
                if exc.code != "index_not_found":
                    raise
                raise MeiliTaskError(
                    f"Meilisearch could not create the index {uid!r}", exc.code
                ) from exc

    async def _apply_settings(self, uid: str) -> None:
        body = MeilisearchSettings.model_validate(meili_settings.index_settings())
        async with _reachable():
            task = await self._client.index(uid).update_settings(body)
        await self._wait(task, f"update the settings of {uid}")

    async def _add(self, uid: str, documents: Sequence[TutorDocument]) -> TaskInfo:
        bodies = [meili_settings.document_body(doc) for doc in documents]
        async with _reachable():
            return await self._client.index(uid).add_documents(bodies, primary_key="id")

    async def _wait(self, task: TaskInfo, what: str) -> None:
        """Wait, bounded, for ``task``; raise with Meilisearch's reason unless it succeeded."""
        async with _reachable():
            try:
                result = await self._client.wait_for_task(
                    task.task_uid, timeout_in_ms=self._task_timeout_ms
                )
            except MeilisearchTimeoutError as exc:
                raise MeiliTaskTimeout(
                    f"Meilisearch task {task.task_uid} ({what}) did not finish within "
                    f"{self._task_timeout_ms / 1000:g} s"
                ) from exc
        if result.status != "succeeded":
            error = result.error or {}
            code = str(error.get("code") or "")
            reason = error.get("message") or "no reason given"
            raise MeiliTaskError(
                f"Meilisearch task {task.task_uid} ({what}) {result.status}: {reason}"
                + (f" [{code}]" if code else ""),
                code,
            )

    async def _drop_after_failure(self, uid: str) -> None:
        """Best effort: the error that got us here is the one to report."""
        try:
            async with _reachable():
                task = await self._client.index(uid).delete()
            await self._wait(task, f"drop the unfinished index {uid}")
        except Exception:
            log.exception("could not drop the unfinished Meilisearch index %s", uid)


# ---------------------------------------------------------------------- query translation


def filters(
    query: SearchQuery,
    now: datetime,
    hours: buckets.BucketHours | None = None,
    without: str | None = None,
) -> list[str]:
    """Filter expressions (ANDed) for ``query``, leaving out facet ``without``'s own;
    ``hours`` are the viewer's buckets (by default read from ``query.time_zone`` and ``now``)."""
    out: list[str] = []
    for facet, attribute in meili_settings.FACET_ATTRIBUTES.items():
        chosen = query.selected(facet)
        if chosen and facet != without:
            out.append(f"{attribute} IN [{', '.join(_quote(v) for v in chosen)}]")
    price = []
    if query.price_min is not None:
        price.append(f"price_per_hour_minor >= {query.price_min}")
    if query.price_max is not None:
        price.append(f"price_per_hour_minor <= {query.price_max}")
    if price:
        out.append(" AND ".join(price))
    if query.rating_min is not None:
        out.append(f"rating >= {query.rating_min!r}")
    if query.location is not None and query.radius_km is not None:
        point = query.location
        out.append(f"_geoRadius({point.lat!r}, {point.lng!r}, {round(query.radius_km * 1000)})")
    if query.free_within_days is not None:
        until = now + timedelta(days=query.free_within_days)
        out.append(f"next_free_ts <= {int(until.timestamp())}")
    if query.availability and without != AVAILABILITY:
        hours = hours or buckets.bucket_hours(query.time_zone, now)
        out.append(_free_in(hours.union(query.availability)))
    return out


def _free_in(half_hours: Sequence[int]) -> str:
    return f"free_half_hours IN [{', '.join(str(h) for h in half_hours)}]"


def sort_expressions(query: SearchQuery) -> list[str] | None:
    """The ``sort`` parameter; ``None`` leaves the order to the ranking rules (relevance)."""
    match query.sort:
        case Sort.RELEVANCE:
            return None
        case Sort.RATING:
            # The Bayesian score, so one five-star review does not beat two hundred 4.9s.
            return ["ranking_score:desc", "rating:desc", "review_count:desc"]
        case Sort.PRICE_ASC:
            return ["price_per_hour_minor:asc"]
        case Sort.PRICE_DESC:
            return ["price_per_hour_minor:desc"]
        case Sort.DISTANCE:
            assert query.location is not None  # build_query insists on one
            return [f"_geoPoint({query.location.lat!r}, {query.location.lng!r}):asc"]
        case Sort.SOONEST:
            return ["next_free_ts:asc"]


def _main_request(
    uid: str,
    query: SearchQuery,
    now: datetime,
    hours: buckets.BucketHours,
    selected: list[str],
) -> SearchParams:
    """Hits of the page, the exact total, and the counts of the facets nobody ticked."""
    unticked = [meili_settings.FACET_ATTRIBUTES[f] for f in FACETS if f not in selected]
    return SearchParams(
        index_uid=uid,
        q=query.q,
        filter=_filter_param(filters(query, now, hours)),
        facets=unticked or None,
        sort=sort_expressions(query),
        # page/hitsPerPage make totalHits exact (offset/limit would only estimate it).
        page=query.page,
        hits_per_page=query.per_page,
        offset=query.offset,
        limit=query.per_page,
        matching_strategy="all",  # every word must match, as on PostgreSQL
    )


def _facet_request(
    uid: str, query: SearchQuery, now: datetime, hours: buckets.BucketHours, facet: str
) -> SearchParams:
    """Counts for a ticked facet: every filter except its own, so choosing "violin" still
    shows how many teach cello. No hits, only the counts."""
    return SearchParams(
        index_uid=uid,
        q=query.q,
        filter=_filter_param(filters(query, now, hours, without=facet)),
        facets=[meili_settings.FACET_ATTRIBUTES[facet]],
        page=1,
        hits_per_page=0,
        limit=0,
        matching_strategy="all",
    )


def _bucket_request(
    uid: str, query: SearchQuery, now: datetime, hours: buckets.BucketHours, bucket: str
) -> SearchParams:
    """How many tutors are free in ``bucket`` (viewer's zone), under every filter but the
    availability filter: the exact total of a query with no hits."""
    expressions = filters(query, now, hours, without=AVAILABILITY)
    return SearchParams(
        index_uid=uid,
        q=query.q,
        filter=_filter_param([*expressions, _free_in(hours.union([bucket]))]),
        page=1,
        hits_per_page=0,
        limit=0,
        matching_strategy="all",
    )


def _filter_param(expressions: list[str]) -> list[str | list[str]] | None:
    """A list is ANDed by Meilisearch; no filter at all is ``None``."""
    param: list[str | list[str]] = [*expressions]
    return param or None


def _distribution(answer: SearchResultsWithUID[Any], facet: str) -> dict[str, int]:
    counts = (answer.facet_distribution or {}).get(meili_settings.FACET_ATTRIBUTES[facet], {})
    return {str(value): int(n) for value, n in counts.items()}


def _hit(hit: dict[str, Any], origin: GeoPoint | None) -> SearchHit:
    document = meili_settings.hit_document(hit)
    if origin is None:
        return SearchHit(document=document)
    metres = hit.get("_geoDistance")
    if metres is not None:
        return SearchHit(document=document, distance_km=float(metres) / 1000.0)
    geo = document.get("_geo")
    if not geo:
        return SearchHit(document=document)
    return SearchHit(
        document=document, distance_km=_km(origin, float(geo["lat"]), float(geo["lng"]))
    )


def _km(origin: GeoPoint, lat: float, lng: float) -> float:
    """Great-circle distance (haversine), for hits Meilisearch gave no ``_geoDistance``."""
    p1, p2 = math.radians(origin.lat), math.radians(lat)
    dp, dl = p2 - p1, math.radians(lng - origin.lng)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _chunks(items: Sequence[TutorDocument], size: int) -> Iterator[Sequence[TutorDocument]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@asynccontextmanager
async def _reachable() -> AsyncIterator[None]:
    """Cannot reach Meilisearch, timed out, or a 5xx: ``SearchUnavailable`` (503, may retry).
    A 4xx is our bug or our configuration, and stays an error."""
    try:
        yield
    except MeilisearchApiError as exc:
        if exc.status_code >= 500:
            raise SearchUnavailable() from exc
        raise
    except MeilisearchTimeoutError as exc:
        # A task wait inside the SDK (index creation), not the connection.
        raise MeiliTaskTimeout(f"a Meilisearch task did not finish in time: {exc.message}") from exc
    except MeilisearchError as exc:
        # Connection refused or reset (MeilisearchCommunicationError), and a request timeout,
        # which the SDK wraps in the bare MeilisearchError.
        raise SearchUnavailable() from exc
    except httpx2.HTTPStatusError as exc:
        # A 5xx without a JSON body (a proxy in front of Meilisearch) passes the SDK unwrapped.
        if exc.response.status_code >= 500:
            raise SearchUnavailable() from exc
        raise
    except (httpx2.TransportError, OSError) as exc:
        raise SearchUnavailable() from exc
