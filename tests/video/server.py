"""A real Duet server for the lesson room on loopback: uvicorn in a thread, media on 127.0.0.1.

Shared by the aiortc tests (``tests/video``) and the browser tests (``tests/browser``).
``ROOM_MEDIA_ADDRESSES=127.0.0.1`` keeps every ICE candidate of the media server on loopback
(aioice skips 127.0.0.1 unless told) and makes it ignore candidates and checks from any other
address, so no test packet goes anywhere but this machine's loopback interface.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import uvicorn
from litestar import Litestar

from marketplace.app import create_app
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from video.registry import RoomRegistry

T = TypeVar("T")


def loopback_room_settings(settings: Settings, address: str = "127.0.0.1") -> Settings:
    """Media only on ``address`` (loopback, or a test's veth address)."""
    return replace(settings, video=replace(settings.video, media_addresses=(address,)))


@dataclass
class LiveRoomServer:
    url: str
    app: Litestar

    @property
    def registry(self) -> RoomRegistry:
        registry: RoomRegistry = self.app.state.rooms
        return registry

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the server's event loop (the registry lives there)."""
        loop = self.registry.loop
        assert loop is not None
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    async def acall(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.to_thread(self.call, coro)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def live_room_server(
    settings: Settings, queue: DramatiqQueue, host: str = "127.0.0.1"
) -> Iterator[LiveRoomServer]:
    port = _free_port(host)
    settings = replace(settings, web=replace(settings.web, base_url=f"http://{host}:{port}"))
    app = create_app(settings, queue=queue)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield LiveRoomServer(f"http://{host}:{port}", app)
    finally:
        server.should_exit = True
        thread.join(20)
