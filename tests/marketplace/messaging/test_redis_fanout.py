"""Two web processes' worth of apps on one real Redis: a message reaches the other instance,
and a Redis outage degrades to catch-up without losing anything."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from litestar.testing import TestClient
from websockets.asyncio.client import ClientConnection, connect

from marketplace.app import create_app
from marketplace.embedded import EmbeddedRedis
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from tests.marketplace.messaging.conftest import bearer, serve
from tests.marketplace.messaging.helpers import conversation


def redis_settings(settings: Settings, url: str) -> Settings:
    return replace(settings, broker=replace(settings.broker, redis_url=url))


async def next_of(ws: ClientConnection, kind: str, within: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == kind:
                return dict(event)


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws/messages"


def auth(headers: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {bearer(headers)}"}


def test_a_message_reaches_a_recipient_on_another_instance(
    client: TestClient[Any], settings: Settings, queue: DramatiqQueue, redis_server: EmbeddedRedis
) -> None:
    cid, tutor_id, tutor, student_id, student = conversation(client)
    live = redis_settings(settings, redis_server.url())
    with (
        serve(create_app(live, queue=queue)) as first,
        serve(create_app(live, queue=queue)) as second,
    ):

        async def scenario() -> None:
            async with (
                connect(ws_url(first), additional_headers=auth(tutor)) as tutor_ws,
                connect(ws_url(second), additional_headers=auth(student)) as student_ws,
            ):
                await next_of(tutor_ws, "hello")
                await next_of(student_ws, "hello")
                # Socket → instance 2 → Redis → instance 1 → socket.
                await student_ws.send(
                    json.dumps(
                        {
                            "type": "send",
                            "conversation_id": cid,
                            "body": "Across!",
                            "client_id": "x",
                        }
                    )
                )
                event = await next_of(tutor_ws, "message")
                assert event["message"]["body"] == "Across!"
                assert event["message"]["sender_id"] == student_id
                assert event["unread_total"] == 2
                # HTTP on instance 1 → the student's socket on instance 2.
                async with httpx.AsyncClient(base_url=first) as http:
                    response = await http.post(
                        f"/api/v1/conversations/{cid}/messages",
                        json={"body": "Back at you"},
                        headers=auth(tutor),
                    )
                    assert response.status_code == 201, response.text
                event = await next_of(student_ws, "message")  # its own, echoed to its tabs
                assert event["message"]["sender_id"] == student_id
                event = await next_of(student_ws, "message")
                assert event["message"]["sender_id"] == tutor_id
                # Typing crosses instances too.
                await tutor_ws.send(json.dumps({"type": "typing", "conversation_id": cid}))
                assert (await next_of(student_ws, "typing"))["user_id"] == tutor_id

        asyncio.run(scenario())


def test_a_redis_outage_degrades_to_catch_up_and_loses_nothing(
    client: TestClient[Any],
    settings: Settings,
    queue: DramatiqQueue,
    tmp_path: Path,
) -> None:
    cid, _, tutor, _, student = conversation(client)
    redis = EmbeddedRedis(tmp_path / "redis")
    redis.start()
    port = redis.port
    live = redis_settings(settings, redis.url())
    try:
        with (
            serve(create_app(live, queue=queue)) as first,
            serve(create_app(live, queue=queue)) as second,
        ):

            async def scenario() -> None:
                nonlocal redis
                async with (
                    connect(ws_url(first), additional_headers=auth(tutor)) as tutor_ws,
                    connect(ws_url(second), additional_headers=auth(student)) as student_ws,
                ):
                    await next_of(tutor_ws, "hello")
                    await next_of(student_ws, "hello")
                    await asyncio.to_thread(redis.stop)
                    assert (await next_of(tutor_ws, "degraded"))["type"] == "degraded"
                    await next_of(student_ws, "degraded")
                    # Written while pub/sub is down: stored, just not rung through.
                    await student_ws.send(
                        json.dumps(
                            {"type": "send", "conversation_id": cid, "body": "During the outage"}
                        )
                    )
                    mine = await next_of(student_ws, "message")  # same instance: still live
                    assert mine["message"]["seq"] == 2
                    # Polling (what the page does while degraded) already finds it.
                    await tutor_ws.send(
                        json.dumps({"type": "sync", "conversation_id": cid, "after_seq": 1})
                    )
                    polled = await next_of(tutor_ws, "messages")
                    assert [m["body"] for m in polled["items"]] == ["During the outage"]
                    # Redis comes back: both instances reconnect and ask clients to catch up.
                    redis = EmbeddedRedis(tmp_path / "redis", port=port)
                    await asyncio.to_thread(redis.start)
                    await next_of(tutor_ws, "resync", within=20)
                    await next_of(student_ws, "resync", within=20)
                    await student_ws.send(
                        json.dumps({"type": "send", "conversation_id": cid, "body": "Back"})
                    )
                    event = await next_of(tutor_ws, "message")
                    assert event["message"]["seq"] == 3

            asyncio.run(scenario())
    finally:
        redis.stop()
