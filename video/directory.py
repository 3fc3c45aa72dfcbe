"""The room directory in Redis: which media process holds which lesson room.

Keys (all under ``duet:media:``):

- ``proc:{id}``: a hash of one live media process (capacity, CPU share, host). It
  expires ``HEARTBEAT_TTL_MS`` after the process last renewed it: its existence *is* the
  process being alive.
- ``procs``: the set of process ids that registered (pruned of the dead when read).
- ``proc:{id}:rooms``: the bookings that process holds.
- ``room:{booking}``: ``"{process id}|{epoch}"``, the room's lease, renewed every second by its
  holder. The epoch (a counter) grows with each claim: it tells one holding from the next.
- ``snapshot:{id}``: the process's room list for operators (JSON), refreshed every few seconds.

A room has one key, so the directory cannot list it twice. Claims are one Lua script each:
a room is taken over only once its holder's heartbeat has expired. A holder stops believing it
holds its rooms before that can happen (``MediaServer`` drops them when it could not renew its
heartbeat within ``SELF_FENCE_MS``), so two processes never both forward one room.
Scripts build some keys from values, so this needs one Redis (not a cluster).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

PREFIX = "duet:media:"
HEARTBEAT_TTL_MS = 3000
HEARTBEAT_EVERY = 1.0
# A holder that could not renew its heartbeat for this long drops its rooms: strictly before
# the key can expire (its TTL is counted from a write made after the renewal was sent).
SELF_FENCE_MS = HEARTBEAT_TTL_MS - 500
LEASE_MS = 10_000
SNAPSHOT_TTL_MS = 6000

_CLAIM = """
local me, capacity, lease, booking, prefix = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', prefix .. 'proc:' .. me) == 0 then
  return {-2, ''}
end
local current = redis.call('GET', KEYS[1])
if current then
  local holder = string.match(current, '^(.*)|')
  if holder == me then
    redis.call('PEXPIRE', KEYS[1], lease)
    return {1, current}
  end
  if redis.call('EXISTS', prefix .. 'proc:' .. holder) == 1 then
    return {0, holder}
  end
  redis.call('SREM', prefix .. 'proc:' .. holder .. ':rooms', booking)
end
if redis.call('SCARD', KEYS[2]) >= capacity then
  return {-1, ''}
end
local token = me .. '|' .. redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[1], token, 'PX', lease)
redis.call('SADD', KEYS[2], booking)
return {1, token}
"""

_RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
  else
    table.insert(lost, i)
  end
end
return lost
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
redis.call('SREM', KEYS[2], ARGV[2])
return 1
"""


def new_process_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def media_channel(process_id: str) -> str:
    """Where a media process hears from web processes."""
    return f"{PREFIX}in:{process_id}"


def web_channel(web_id: str) -> str:
    """Where a web process hears from media processes."""
    return f"{PREFIX}out:{web_id}"


@dataclass(frozen=True)
class MediaProcess:
    id: str
    rooms: int
    capacity: int
    cpu: float  # share of one core over the last heartbeat period
    host: str

    @property
    def load(self) -> tuple[float, float]:
        return (self.rooms / max(1, self.capacity), self.cpu)

    @property
    def full(self) -> bool:
        return self.rooms >= self.capacity

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "rooms": self.rooms,
            "capacity": self.capacity,
            "cpu_percent": round(100 * self.cpu, 1),
        }


@dataclass(frozen=True)
class Claim:
    """The outcome of asking for a room: held (with its lease token), held by someone else,
    refused for capacity, or refused because the asking process is not registered (fenced)."""

    outcome: str  # "held", "elsewhere", "full", "fenced"
    token: str = ""
    holder: str = ""


class RoomDirectory:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    # ------------------------------------------------------------------ media processes

    async def heartbeat(self, process_id: str, capacity: int, cpu: float) -> None:
        key = f"{PREFIX}proc:{process_id}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "capacity": capacity,
                    "cpu": f"{cpu:.4f}",
                    "host": socket.gethostname(),
                },
            )
            pipe.pexpire(key, HEARTBEAT_TTL_MS)
            pipe.sadd(f"{PREFIX}procs", process_id)
            await pipe.execute()

    async def retire(self, process_id: str) -> None:
        """A process stopping cleanly: gone at once, its rooms free to be claimed."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"{PREFIX}proc:{process_id}", f"{PREFIX}snapshot:{process_id}")
            pipe.srem(f"{PREFIX}procs", process_id)
            await pipe.execute()

    async def processes(self) -> list[MediaProcess]:
        """The live media processes; the dead are pruned from the set as they are found."""
        ids = sorted(
            v.decode() if isinstance(v, bytes) else v
            for v in await self.redis.smembers(f"{PREFIX}procs")
        )
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for process_id in ids:
                pipe.hgetall(f"{PREFIX}proc:{process_id}")
                pipe.scard(f"{PREFIX}proc:{process_id}:rooms")  # counts claims made just now
            replies = await pipe.execute()
        live, dead = [], []
        for process_id, row, held in zip(ids, replies[::2], replies[1::2], strict=True):
            if not row:
                dead.append(process_id)
                continue
            fields = {_text(k): _text(v) for k, v in row.items()}
            live.append(
                MediaProcess(
                    id=process_id,
                    rooms=int(held),
                    capacity=int(fields.get("capacity", 0)),
                    cpu=float(fields.get("cpu", 0)),
                    host=fields.get("host", ""),
                )
            )
        if dead:
            await self.redis.srem(f"{PREFIX}procs", *dead)
        return live

    async def alive(self, process_id: str) -> bool:
        return bool(await self.redis.exists(f"{PREFIX}proc:{process_id}"))

    # ------------------------------------------------------------------ rooms

    async def claim(self, process_id: str, booking_id: int, capacity: int) -> Claim:
        code, value = await self._claim(
            keys=[
                f"{PREFIX}room:{booking_id}",
                f"{PREFIX}proc:{process_id}:rooms",
                f"{PREFIX}epoch",
            ],
            args=[process_id, capacity, LEASE_MS, booking_id, PREFIX],
        )
        value = _text(value)
        if code == 1:
            return Claim("held", token=value, holder=process_id)
        if code == 0:
            return Claim("elsewhere", holder=value)
        return Claim("full" if code == -1 else "fenced")

    async def renew(self, leases: dict[int, str]) -> set[int]:
        """Extend the leases this process holds; returns the bookings it no longer holds."""
        if not leases:
            return set()
        bookings = list(leases)
        lost = await self._renew(
            keys=[f"{PREFIX}room:{b}" for b in bookings],
            args=[LEASE_MS, *(leases[b] for b in bookings)],
        )
        return {bookings[int(i) - 1] for i in lost}

    async def release(self, process_id: str, booking_id: int, token: str) -> None:
        await self._release(
            keys=[f"{PREFIX}room:{booking_id}", f"{PREFIX}proc:{process_id}:rooms"],
            args=[token, booking_id],
        )

    async def holder(self, booking_id: int) -> str | None:
        """The process holding a room's lease, alive or not (a dead one's lease lingers until
        it expires or the room is claimed again)."""
        value = await self.redis.get(f"{PREFIX}room:{booking_id}")
        if value is None:
            return None
        return _text(value).rpartition("|")[0]

    async def held_rooms(self, process_id: str) -> set[int]:
        return {
            int(_text(b)) for b in await self.redis.smembers(f"{PREFIX}proc:{process_id}:rooms")
        }

    async def listing(self) -> dict[int, str]:
        """Every room in the directory and its holder (operators and tests)."""
        rooms: dict[int, str] = {}
        async for key in self.redis.scan_iter(match=f"{PREFIX}room:*", count=500):
            booking = int(_text(key).rsplit(":", 1)[1])
            value = await self.redis.get(key)
            if value is not None:
                rooms[booking] = _text(value).rpartition("|")[0]
        return rooms

    # ------------------------------------------------------------------ operators

    async def publish_snapshot(self, process_id: str, snapshot: dict[str, Any]) -> None:
        await self.redis.set(
            f"{PREFIX}snapshot:{process_id}", json.dumps(snapshot), px=SNAPSHOT_TTL_MS
        )

    async def snapshots(self, process_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not process_ids:
            return {}
        values = await self.redis.mget([f"{PREFIX}snapshot:{p}" for p in process_ids])
        return {p: json.loads(v) for p, v in zip(process_ids, values, strict=True) if v}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
