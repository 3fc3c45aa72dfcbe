"""Fixtures for the lesson room tests: a live server on loopback (see ``tests/video/server``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from tests.video.server import LiveRoomServer, live_room_server, loopback_room_settings


@pytest.fixture
def room_settings(settings: Settings) -> Settings:
    return loopback_room_settings(settings)


@pytest.fixture
def room_server(room_settings: Settings, queue: DramatiqQueue) -> Iterator[LiveRoomServer]:
    with live_room_server(room_settings, queue) as server:
        yield server
