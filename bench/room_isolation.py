"""Benchmark: does forwarding lesson rooms slow the web process down?

    .venv/bin/python bench/room_isolation.py [--rooms 8] [--requests 600] [--rounds 2] [--video]

Starts a throwaway embedded PostgreSQL and Redis, then, in turn, two set-ups on 127.0.0.1
(media with ``ROOM_MEDIA_ADDRESSES=127.0.0.1``: nothing leaves loopback):

- ``local``: one ``duet web`` process that also holds the rooms (``ROOM_PLACEMENT=local``);
- ``media``: one ``duet web`` process and one ``duet media`` process (``ROOM_PLACEMENT=media``).

In each it times ``--requests`` API calls (``GET /api/v1/me`` with a bearer token: the token
lookup, a database read, JSON), four at a time, first with no room open and then while
``--rooms`` rooms forward stereo Opus at 192 kbit/s (with ``--video``, and VP8 640x480 at about
1 Mbit/s) between two synthetic aiortc participants each (``tests/video/peers.py``, in this
process). It prints p50/p95 for both and the ratio
p95 with rooms / p95 without; the goal is that with media processes the ratio stays near 1
(the rooms' packets are no longer on the web process's event loop). The set-ups alternate for
``--rounds`` rounds, so both see the same machine. On two cores or more the web process is
pinned to one core with the callers (in a process of their own) and everything else to
another: the figure is what the rooms do to the web process, not how busy the machine is.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rooms import admin_token, free_port, pct
from bench.server_env import bench_secrets, wait_healthy
from marketplace import migrate
from marketplace.embedded import EmbeddedPostgres, EmbeddedRedis
from tests.video.lessons import Lesson, make_lesson
from tests.video.peers import (
    PacedPackets,
    RoomClient,
    encode_opus,
    encode_vp8,
    stereo_tone,
    vp8_track,
)

CONCURRENCY = 4
MAX_TOTAL_SECONDS = 15 * 60


class Media:
    """Encoded once: each participant sends its own paced copy."""

    def __init__(self, video: bool) -> None:
        self.opus = [
            encode_opus(stereo_tone(10, left, right), 192)
            for left, right in ((440, 660), (523, 784))
        ]
        self.vp8 = encode_vp8(300, 640, 480, bitrate=1_000_000) if video else None

    def tracks(self, who: int) -> list[PacedPackets]:
        tracks = [PacedPackets("audio", self.opus[who], 0.020, 48_000)]
        if self.vp8 is not None:
            tracks.append(vp8_track(self.vp8))
        return tracks


def start(args: list[str], env: dict[str, str], cpu: int | None) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "marketplace.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if cpu is not None:
        os.sched_setaffinity(process.pid, {cpu})
    return process


async def timed_requests(base: str, token: str, count: int) -> list[float]:
    """``count`` calls, ``CONCURRENCY`` at a time; each call's wall time in ms."""
    times: list[float] = []
    queue = iter(range(count))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:

        async def caller() -> None:
            for _ in queue:
                started = time.perf_counter()
                response = await http.get("/api/v1/me")
                response.raise_for_status()
                times.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
    return times


async def with_rooms(base: str, lessons: list[Lesson], media: Media) -> list[Any]:
    clients = []
    for lesson in lessons:
        for who, token in enumerate((lesson.tutor, lesson.student)):
            client = RoomClient(base, lesson.booking_id, token)
            await client.connect()
            await client.join_media(media.tracks(who), capture_raw=False)
            clients.append(client)
    for client in clients:
        await client.connected(within=60)
    await asyncio.sleep(3)  # media flowing everywhere
    return clients


def time_requests_apart(base: str, token: str, count: int, cpu: int | None) -> list[float]:
    """In a process of its own (on the web process's core): the participants' event loop in
    this process must not delay the callers, or the figure would be the bench's own lag."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    return asyncio.run(timed_requests(base, token, count))


async def measure(
    base: str,
    token: str,
    lessons: list[Lesson],
    media: Media,
    requests: int,
    callers: ProcessPoolExecutor,
    cpu: int | None,
) -> dict[str, list[float]]:
    loop = asyncio.get_running_loop()

    async def timed(count: int) -> list[float]:
        return await loop.run_in_executor(callers, time_requests_apart, base, token, count, cpu)

    await timed(50)  # warm: pools, caches
    quiet = await timed(requests)
    clients = await with_rooms(base, lessons, media)
    try:
        busy = await timed(requests)
        forwarding = sum(len(c.received.packets["audio"]) for c in clients)
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    if forwarding == 0:
        raise RuntimeError("no media was forwarded while measuring")
    return {"quiet": quiet, "busy": busy}


def run_setup(
    placement: str, pg_url: str, redis_url: str, var: Path, lessons: list[Lesson], **kw: Any
) -> dict[str, list[float]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **bench_secrets(),
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "DUET_VAR_DIR": str(var),
        "ROOM_MEDIA_ADDRESSES": "127.0.0.1",
        "ROOM_PLACEMENT": placement,
        "BASE_URL": base,
        "LOG_LEVEL": "WARNING",
    }
    # With two cores or more: the web process and the callers on the first, everything else
    # (the media process, the participants) on the second, so the web process's times show
    # what the rooms do to it, not a fight for one core.
    cores = sorted(os.sched_getaffinity(0))
    web_cpu, other_cpu = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    if other_cpu is not None:
        os.sched_setaffinity(0, {other_cpu})
    processes = [start(["web", "--host", "127.0.0.1", "--port", str(port)], env, web_cpu)]
    if placement == "media":
        processes.append(start(["media"], env, other_cpu))
    try:
        wait_healthy(base, processes)
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as callers:
            return asyncio.run(
                measure(base, kw["token"], lessons, kw["media"], kw["requests"], callers, web_cpu)
            )
    finally:
        os.sched_setaffinity(0, set(cores))
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=8)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--video", action="store_true", help="VP8 640x480 besides the audio")
    args = parser.parse_args()
    if not 1 <= args.rooms <= 16 or not 100 <= args.requests <= 5000 or not 1 <= args.rounds <= 5:
        raise SystemExit("--rooms 1..16, --requests 100..5000, --rounds 1..5")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="duet-bench-isolation-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg", fast_unsafe=True)
        redis = EmbeddedRedis(Path(tmp) / "redis")
        pg.start()
        redis.start()
        try:
            pg.ensure_database("bench")
            url = pg.url("bench")
            migrate.upgrade(url)
            token = asyncio.run(admin_token(url))
            media = Media(args.video)
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            kind = "audio+VP8" if args.video else "audio"
            print(
                f"Web requests while {args.rooms} {kind} rooms forward ({os.cpu_count()} CPUs; "
                f"load {load}); {args.requests} calls of GET /api/v1/me, {CONCURRENCY} at a time"
            )
            results: dict[str, dict[str, list[float]]] = {
                "local": {"quiet": [], "busy": []},
                "media": {"quiet": [], "busy": []},
            }
            for round_number in range(args.rounds):
                for placement in ("local", "media"):
                    if time.monotonic() - started > MAX_TOTAL_SECONDS:
                        print(f"  stopping: the benchmark has run {MAX_TOTAL_SECONDS} s")
                        break
                    # Fresh lessons each time: a room closed a moment ago may still be closing.
                    lessons = [asyncio.run(make_lesson(url)) for _ in range(args.rooms)]
                    print(f"  round {round_number + 1}: {placement}…", flush=True)
                    got = run_setup(
                        placement,
                        url,
                        redis.url(),
                        Path(tmp) / "var",
                        lessons,
                        token=token,
                        media=media,
                        requests=args.requests,
                    )
                    for phase, times in got.items():
                        results[placement][phase] += times
            print(f"\n  {'rooms live in':<22} {'p50 quiet':>10} {'p95 quiet':>10} "
                  f"{'p50 busy':>10} {'p95 busy':>10} {'p95 ratio':>10}")  # fmt: skip
            for placement, label in (("local", "the web process"), ("media", "a media process")):
                quiet, busy = results[placement]["quiet"], results[placement]["busy"]
                if not quiet or not busy:
                    continue
                ratio = pct(busy, 0.95) / pct(quiet, 0.95)
                print(
                    f"  {label:<22} {statistics.median(quiet):>8.1f}ms {pct(quiet, 0.95):>8.1f}ms "
                    f"{statistics.median(busy):>8.1f}ms {pct(busy, 0.95):>8.1f}ms {ratio:>9.2f}x"
                )
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"\n  load average at the end: {load}")
        finally:
            redis.stop()
            pg.stop()


if __name__ == "__main__":
    main()
