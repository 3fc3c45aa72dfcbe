"""The app's lesson rooms: one registry per app, opened on demand, closed on every exit path.

``create_app`` owns the registry: its lifespan starts the watchdog and, on shutdown, closes every
room (peers, sockets, recorders). A room closes when its window ends (the watchdog), when the
tutor ends the lesson or the booking is cancelled (``BookingTransitioned``, in this process; the
watchdog re-reads the booking too, so a change made in another process closes it within
``WATCH_SECONDS``), and is dropped when it stayed empty for ``EMPTY_ROOM_SECONDS``. A failed peer
is closed by its room at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.observability import media as media_metrics
from marketplace.settings import Settings
from marketplace.web.services import Services
from scheduling import rooms as room_rules
from scheduling.lifecycle import BookingTransitioned, State
from scheduling.models import Booking
from scheduling.rooms import RoomPass
from video import service
from video.ice import AddressPolicy, IceServers, server_configuration
from video.packets import LatencyStats
from video.recording import RoomRecorder, TrackFile

if TYPE_CHECKING:
    from aiortc import RTCConfiguration

    from video.room import Room

logger = logging.getLogger(__name__)

WATCH_SECONDS = 10.0
LAG_PROBE_SECONDS = 0.1
EMPTY_ROOM_SECONDS = 120.0
LOSS_SECONDS = 2.0  # how often loss is measured and sent to the browsers
# Events after which a lesson's room must close at once (the clock's "complete" is not one:
# people who run a few minutes over stay until the room's closing time).
CLOSING_EVENTS = {
    "end_lesson",
    "student_cancel",
    "tutor_cancel",
    "student_no_show",
    "tutor_no_show",
    "reschedule",
}


class RoomRegistry:
    def __init__(self, services: Services, ice: IceServers) -> None:
        self.services = services
        self.settings: Settings = services.settings
        self.ice = ice
        self.policy = AddressPolicy(self.settings.video.media_addresses)
        self.latency = LatencyStats()
        self.rooms: dict[int, Room] = {}
        self._lock = asyncio.Lock()
        self._watchdog: asyncio.Task[None] | None = None
        self._recorders: dict[int, RoomRecorder] = {}
        self._flushing: dict[int, set[asyncio.Future[Any]]] = {}  # recording id -> writes
        self._recording_lock = asyncio.Lock()
        self._background: set[asyncio.Future[Any]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._lag: deque[tuple[float, float]] = deque(maxlen=6000)  # (when, late by seconds)
        self._lag_probe: asyncio.Task[None] | None = None
        self._loss_meter: asyncio.Task[None] | None = None
        # Called with the booking id after a room closed (a media process releases its lease).
        self.closed_hooks: list[Callable[[int], Awaitable[None]]] = []

    @cached_property
    def configuration(self) -> RTCConfiguration:
        """Built when the first room opens: it imports aiortc, which a web process that never
        opens a room (or has not yet) should not pay for at start."""
        return server_configuration(self.settings.video)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(), name="room-watchdog")
            self._lag_probe = asyncio.create_task(self._probe_lag(), name="room-loop-lag")
            self._loss_meter = asyncio.create_task(self._measure_loss(), name="room-loss")

    async def close_all(self, reason: str = "shutdown") -> None:
        for task in (self._watchdog, self._lag_probe, self._loss_meter):
            if task is not None:
                task.cancel()
        self._watchdog = self._lag_probe = self._loss_meter = None
        for booking_id in list(self.rooms):
            await self.close(booking_id, reason, finish_recording=False)
        # Finishing files spawns the saving of their rows: wait until nothing is left.
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def open(self, room_pass: RoomPass) -> Room:
        async with self._lock:
            room = self.rooms.get(room_pass.booking_id)
            if room is not None and not room.closed:
                return room
            async with self.services.sessions() as session:
                names = dict(
                    (
                        await session.execute(
                            select(User.id, User.full_name).where(
                                User.id.in_([room_pass.tutor_id, room_pass.student_id])
                            )
                        )
                    ).all()
                )
                choice = await service.room_choice(session, room_pass.booking_id)
            from video.room import Room  # aiortc and PyAV: loaded with the first room

            room = Room(
                booking_id=room_pass.booking_id,
                tutor_id=room_pass.tutor_id,
                student_id=room_pass.student_id,
                names=names,
                starts_at=room_pass.starts_at,
                ends_at=room_pass.ends_at,
                closes_at=room_pass.closes_at,
                bitrate_kbps=choice.bitrate_kbps
                if choice
                else self.settings.video.default_bitrate_kbps,
                configuration=self.configuration,
                policy=self.policy,
                latency=self.latency,
                on_change=self.sync_recording,
            )
            if room.booking_id not in self.rooms:  # a closed room replaced is still counted
                media_metrics.room_opened()
            self.rooms[room.booking_id] = room
            logger.info("lesson room %s opened", room.booking_id)
            return room

    async def close(
        self, booking_id: int, reason: str, *, finish_recording: bool = True, notify: bool = True
    ) -> None:
        """Close a room; with ``notify`` off its participants are not told (they are being
        moved to another process, which carries on the lesson and its recording)."""
        room = self.rooms.pop(booking_id, None)
        if room is None:
            return
        media_metrics.room_closed()
        await room.close(reason, notify=notify)
        self._stop_recorder(booking_id)
        logger.info("lesson room %s closed (%s)", booking_id, reason)
        if finish_recording and reason != "shutdown":
            self.spawn(self._finish_recording(booking_id))
        for hook in self.closed_hooks:
            await hook(booking_id)

    def on_booking_transitioned(self, event: BookingTransitioned) -> None:
        if event.event in CLOSING_EVENTS and event.booking_id in self.rooms:
            reason = "ended" if event.event == "end_lesson" else event.to_state
            self.spawn(self.close(event.booking_id, reason))

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` in the background; ``close_all`` waits for it."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _probe_lag(self) -> None:
        """How late the event loop runs a timer: the delay every packet also waits (a busy
        process, or a machine whose cores are taken by others)."""
        while True:
            due = time.monotonic() + LAG_PROBE_SECONDS
            await asyncio.sleep(LAG_PROBE_SECONDS)
            now = time.monotonic()
            self._lag.append((now, max(0.0, now - due)))

    def loop_lag_ms(self, q: float, window_seconds: float) -> float | None:
        cutoff = time.monotonic() - window_seconds
        recent = sorted(lag for at, lag in self._lag if at >= cutoff)
        if not recent:
            return None
        return recent[min(len(recent) - 1, int(q * len(recent)))] * 1000

    async def _measure_loss(self) -> None:
        while True:
            await asyncio.sleep(LOSS_SECONDS)
            for room in list(self.rooms.values()):
                room.sample_rates()
                try:
                    await room.measure_loss()
                except Exception:
                    logger.exception("measuring loss in room %s failed", room.booking_id)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                await self.check_rooms()
            except Exception:
                logger.exception("room watchdog failed; trying again")

    async def check_rooms(self, now: datetime | None = None) -> None:
        """Close rooms past their window, of lessons no longer live, or empty for too long."""
        now = now or datetime.now(UTC)
        if not self.rooms:
            return
        async with self.services.sessions() as session:
            bookings = {
                b.id: b
                for b in await session.scalars(
                    select(Booking).where(Booking.id.in_(list(self.rooms)))
                )
            }
            states = {
                booking_id: await room_rules.current_state(
                    session, booking, now, self.settings.scheduling
                )
                for booking_id, booking in bookings.items()
            }
        for booking_id, room in list(self.rooms.items()):
            state = states.get(booking_id)
            if state is not room_rules.RoomState.OPEN:
                booking = bookings.get(booking_id)
                ended = booking is not None and booking.status == State.COMPLETED.value
                await self.close(
                    booking_id, "ended" if ended and now < room.closes_at else "closed"
                )
            elif room.empty_since is not None and (
                time.monotonic() - room.empty_since > EMPTY_ROOM_SECONDS
            ):
                await self.close(booking_id, "empty", finish_recording=False)

    # ------------------------------------------------------------------ recording

    async def sync_recording(self, room: Room) -> None:
        """Record exactly while both agreed and someone is connected; a track per presence."""
        async with self._recording_lock:  # presence and consent change at the same moments
            await self._sync_recording(room)

    async def _sync_recording(self, room: Room) -> None:
        recorder = self._recorders.get(room.booking_id)
        if room.closed:
            self._stop_recorder(room.booking_id)
            return
        async with self.services.sessions() as session:
            choice = await service.room_choice(session, room.booking_id)
        wanted = bool(choice and choice.both_consented) and any(
            p.connected and p.sends for p in room.participants.values()
        )
        if wanted and recorder is None:
            async with self.services.transaction() as session:
                recording_id = await service.start_recording(session, room.booking_id)
            if recording_id is None:
                return  # already finished for this lesson: one recording per lesson
            recorder = RoomRecorder(
                self.settings.video.recordings_root,
                recording_id,
                self._track_saver(recording_id),
            )
            self._recorders[room.booking_id] = recorder
            room.sinks.append(recorder)
            for participant in room.participants.values():
                room.request_keyframe(participant.user_id)
            await room.broadcast({"type": "recording", "active": True})
        elif not wanted and recorder is not None:
            self._stop_recorder(room.booking_id)
            await room.broadcast({"type": "recording", "active": False})
        elif recorder is not None:
            for user_id in recorder.users() - {
                p.user_id for p in room.participants.values() if p.connected
            }:
                recorder.end_track(user_id)

    def _stop_recorder(self, booking_id: int) -> None:
        recorder = self._recorders.pop(booking_id, None)
        room = self.rooms.get(booking_id)
        if recorder is None:
            return
        if room is not None and recorder in room.sinks:
            room.sinks.remove(recorder)
        recorder.stop()
        flushing = asyncio.ensure_future(asyncio.to_thread(recorder.wait))
        self._flushing.setdefault(recorder.recording_id, set()).add(flushing)
        self._background.add(flushing)
        flushing.add_done_callback(self._background.discard)

    def _track_saver(self, recording_id: int) -> Callable[[TrackFile], None]:
        loop = asyncio.get_running_loop()

        def saved(track: TrackFile) -> None:  # called in the writer thread
            loop.call_soon_threadsafe(self._save_track, recording_id, track)

        return saved

    def _save_track(self, recording_id: int, track: TrackFile) -> None:
        async def save() -> None:
            async with self.services.transaction() as session:
                await service.save_track(session, recording_id, track)

        task = asyncio.ensure_future(save())
        self._flushing.setdefault(recording_id, set()).add(task)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _finish_recording(self, booking_id: int) -> None:
        async with self.services.sessions() as session:
            recording_id = await service.recording_id(session, booking_id)
        if recording_id is None:
            return
        # Writer threads finish their files, then their rows are saved, before the job mixes.
        while pending := self._flushing.pop(recording_id, set()):
            await asyncio.gather(*pending, return_exceptions=True)
        async with self.services.transaction() as session:
            await service.queue_finish(session, booking_id)

    # ------------------------------------------------------------------ operators

    def snapshot(self, since: int = 0, window_seconds: float = 60.0) -> dict[str, Any]:
        """Open rooms, the forwarding delay over the packets after ``since``, and the event
        loop's lag over the last ``window_seconds``."""
        return {
            "loop_lag_ms": {
                "p50": self.loop_lag_ms(0.50, window_seconds),
                "p99": self.loop_lag_ms(0.99, window_seconds),
            },
            "rooms": [room.snapshot() for room in self.rooms.values()],
            "forwarded_packets": self.latency.forwarded,
            "latency_ms": {
                "p50": self.latency.percentile_ms(0.50, since),
                "p99": self.latency.percentile_ms(0.99, since),
            },
        }
