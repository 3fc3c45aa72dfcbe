"""The room directory on a real Redis: claims, capacity, leases, take-over and fencing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient
from redis.asyncio import Redis

from marketplace.app import create_app, media_services, room_registry
from marketplace.embedded import EmbeddedRedis
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from marketplace.web.services import Services
from scheduling import rooms as room_rules
from scheduling.rooms import RoomPass
from tests.video.lessons import make_lesson
from tests.video.server import loopback_room_settings
from video.directory import HEARTBEAT_TTL_MS, PREFIX, RoomDirectory, media_channel, web_channel
from video.envelopes import pass_to_json
from video.media_server import MediaServer


@pytest.fixture
async def directory(redis_server: EmbeddedRedis) -> AsyncIterator[RoomDirectory]:
    redis = Redis.from_url(redis_server.url())
    await redis.flushdb()
    try:
        yield RoomDirectory(redis)
    finally:
        await redis.aclose()


async def _die(directory: RoomDirectory, process_id: str) -> None:
    """What kill -9 leaves: the heartbeat expires, nothing else is cleaned up."""
    await directory.redis.delete(f"{PREFIX}proc:{process_id}")


async def test_a_room_has_one_holder_until_its_heartbeat_expires(directory: RoomDirectory) -> None:
    for process in ("a", "b"):
        await directory.heartbeat(process, capacity=10, cpu=0.0)
    first = await directory.claim("a", 7, capacity=10)
    assert first.outcome == "held" and first.token.startswith("a|")
    assert (await directory.claim("a", 7, capacity=10)).token == first.token  # again: the same
    assert await directory.claim("b", 7, capacity=10) == type(first)("elsewhere", holder="a")

    await _die(directory, "a")
    taken = await directory.claim("b", 7, capacity=10)
    assert taken.outcome == "held" and taken.token.startswith("b|")
    assert int(taken.token.split("|")[1]) > int(first.token.split("|")[1])  # a later epoch
    assert await directory.listing() == {7: "b"}
    assert await directory.held_rooms("a") == set()  # taken off the dead holder's list

    # The old holder comes back (a long pause, not a death): its lease is gone, it learns so.
    await directory.heartbeat("a", capacity=10, cpu=0.0)
    assert await directory.renew({7: first.token}) == {7}
    assert await directory.renew({7: taken.token}) == set()
    # Releasing with a stale token does not free someone else's room.
    await directory.release("a", 7, first.token)
    assert await directory.holder(7) == "b"
    await directory.release("b", 7, taken.token)
    assert await directory.holder(7) is None and await directory.listing() == {}


async def test_a_full_process_refuses_and_placement_sees_it(directory: RoomDirectory) -> None:
    await directory.heartbeat("a", capacity=2, cpu=0.5)
    await directory.heartbeat("b", capacity=2, cpu=0.1)
    assert (await directory.claim("a", 1, capacity=2)).outcome == "held"
    assert (await directory.claim("a", 2, capacity=2)).outcome == "held"
    assert (await directory.claim("a", 3, capacity=2)).outcome == "full"
    processes = {p.id: p for p in await directory.processes()}
    assert processes["a"].full and processes["a"].rooms == 2
    assert not processes["b"].full and processes["b"].load < processes["a"].load
    assert await directory.holder(3) is None


async def test_a_process_that_is_not_registered_claims_nothing(directory: RoomDirectory) -> None:
    """A process that dropped its rooms for lack of Redis stays fenced until it beats again."""
    assert (await directory.claim("ghost", 1, capacity=10)).outcome == "fenced"
    await directory.heartbeat("ghost", capacity=10, cpu=0.0)
    assert (await directory.claim("ghost", 1, capacity=10)).outcome == "held"


async def test_the_dead_are_pruned_from_the_process_list(directory: RoomDirectory) -> None:
    await directory.heartbeat("a", capacity=10, cpu=0.0)
    await directory.heartbeat("b", capacity=10, cpu=0.0)
    await _die(directory, "a")
    assert [p.id for p in await directory.processes()] == ["b"]
    assert await directory.redis.smembers(f"{PREFIX}procs") == {b"b"}
    await directory.retire("b")
    assert await directory.processes() == []


async def test_a_media_process_cut_off_from_redis_drops_its_rooms_before_its_heartbeat_expires(
    redis_server: EmbeddedRedis, directory: RoomDirectory, settings: Settings, database_url: str
) -> None:
    """Fencing: while Redis cannot hear the holder, another process may take its rooms over
    as soon as the heartbeat key expires; the holder must have let go by then."""
    lesson = await make_lesson(database_url)
    services = media_services(loopback_room_settings(settings))
    registry = room_registry(services)
    redis = Redis.from_url(redis_server.url())  # no timeouts: the fence needs none
    server = MediaServer(services, registry, redis, "holder", capacity=5)
    web = directory.redis.pubsub(ignore_subscribe_messages=True)
    await web.subscribe(web_channel("web"))
    await server.start()
    try:
        room_pass = await _room_pass(services, lesson.booking_id, lesson.tutor_id)
        join = {
            "op": "join",
            "conn": "c1",
            "web": "web",
            "pass": pass_to_json(room_pass),
            "name": "Tutor",
            "caller": {"id": lesson.tutor_id, "is_admin": False},
        }
        assert await directory.redis.publish(media_channel("holder"), json.dumps(join)) == 1
        replies = [await _next(web), await _next(web)]
        assert replies[0] == {"op": "reply", "outcome": "held", "holder": "holder", "conn": "c1"}
        assert replies[1]["op"] == "send" and replies[1]["m"]["type"] == "welcome"
        assert list(registry.rooms) == [lesson.booking_id]

        dropped = asyncio.Event()

        async def on_closed(booking_id: int) -> None:
            dropped.set()

        registry.closed_hooks.append(on_closed)
        os.kill(redis_server.pid, signal.SIGSTOP)  # Redis hears nothing; the process keeps time
        stopped_at = time.monotonic()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(dropped.wait(), HEARTBEAT_TTL_MS / 1000)
            dropped_after = time.monotonic() - stopped_at
        finally:
            os.kill(redis_server.pid, signal.SIGCONT)
        assert not registry.rooms, "the room was still held when its heartbeat could expire"
        assert dropped_after < HEARTBEAT_TTL_MS / 1000
    finally:
        await server.stop()
        await web.aclose()
        await redis.aclose()
        await services.engine.dispose()


async def _room_pass(services: Services, booking_id: int, user_id: int) -> RoomPass:
    async with services.sessions() as session:
        return await room_rules.room_pass(
            session,
            booking_id,
            user_id=user_id,
            is_admin=False,
            now=datetime.now(UTC),
            settings=services.settings.scheduling,
        )


async def _next(pubsub: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message = await pubsub.get_message(timeout=1.0)
        if message is not None:
            body: dict[str, Any] = json.loads(message["data"])
            return body
    raise TimeoutError("no message from the media process")


def test_healthz_says_in_words_that_no_media_process_is_running(
    redis_server: EmbeddedRedis, settings: Settings, queue: DramatiqQueue
) -> None:
    """What `duet run` shows for the second or two before its media processes register, and an
    operator whose media service is down: a sentence, not an exception's class name."""
    media = replace(
        settings,
        video=replace(settings.video, placement="media"),
        broker=replace(settings.broker, redis_url=redis_server.url()),
    )
    with TestClient(create_app(media, queue=queue)) as client:
        health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["checks"]["media"] == {
        "status": "error",
        "detail": "no media process is running",
    }
    assert health.json()["checks"]["database"]["status"] == "ok"
