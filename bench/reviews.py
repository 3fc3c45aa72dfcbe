"""Benchmark: review reads and writes, and the cost of exact aggregates.

    .venv/bin/python bench/reviews.py [--reviews 5000] [--writers 16] [--writes 200]

Starts a throwaway embedded PostgreSQL (fast, unsafe settings) in a temporary folder and one
uvicorn server on 127.0.0.1 in a child process; nothing else is touched. It measures

1. recomputing a tutor's aggregates (done by every review write) for a tutor with ``--reviews``
   reviews, against a tutor with 10 in the same run;
2. one page of a tutor's reviews (newest, highest, lowest, and a deep page), directly and over
   HTTP (``GET /api/v1/tutors/{id}/reviews``);
3. review submissions per second through ``POST /api/v1/lessons/{id}/review`` with concurrent
   clients: all for the busy tutor (their writes take turns on the tutor's lock), and spread over
   distinct tutors (the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server_env import bench_secrets
from marketplace import db, migrate
from marketplace.accounts import service as accounts
from marketplace.accounts.models import Role, TokenKind, User
from marketplace.embedded import EmbeddedPostgres
from marketplace.profiles.models import LessonPrice, TutorProfile, TutorStatus
from reviews import queries
from reviews.models import Review
from reviews.service import recompute_stats
from scheduling.models import Booking


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, samples: list[float]) -> float:
    ms = [s * 1000 for s in samples]
    median = statistics.median(ms)
    print(f"  {name:44} p50 {median:7.2f} ms   p95 {pct(ms, 0.95):7.2f} ms   (n={len(ms)})")
    return median


async def user(session: AsyncSession, email: str, role: Role) -> User:
    made = User(email=email, password_hash="!", full_name=email.split("@")[0], roles=[role.value])  # noqa: S106 - unusable on purpose
    session.add(made)
    await session.flush()
    return made


async def tutor(session: AsyncSession, email: str) -> User:
    made = await user(session, email, Role.TUTOR)
    session.add(
        TutorProfile(
            user_id=made.id,
            status=TutorStatus.APPROVED.value,
            display_name=made.full_name,
            currency="EUR",
            prices=[LessonPrice(duration_minutes=60, price_minor=4500)],
        )
    )
    await session.flush()
    return made


def booking_row(tutor_id: int, student_id: int, start: datetime, status: str) -> dict[str, object]:
    end = start + timedelta(hours=1)
    return {
        "tutor_id": tutor_id,
        "student_id": student_id,
        "status": status,
        "starts_at": start,
        "ends_at": end,
        "period": Range(start, end, bounds="[)"),
        "blocked": Range(start, end, bounds="[)"),
        "duration_minutes": 60,
        "price_minor": 4500,
        "currency": "EUR",
        "tutor_time_zone": "UTC",
        "sequence": 2,
        "cancel_reason": "",
    }


async def add_reviews(session: AsyncSession, tutor_id: int, student_id: int, count: int) -> None:
    rng = random.Random(tutor_id)
    start = datetime.now(UTC) - timedelta(days=3000)
    ids = (
        await session.scalars(
            insert(Booking).returning(Booking.id),
            [
                booking_row(tutor_id, student_id, start + timedelta(hours=2 * i), "settled")
                for i in range(count)
            ],
        )
    ).all()
    await session.execute(
        insert(Review),
        [
            {
                "booking_id": booking_id,
                "tutor_id": tutor_id,
                "student_id": student_id,
                "rating": rng.choices((1, 2, 3, 4, 5), (1, 1, 3, 15, 80))[0],
                "body": "A fine lesson. " * rng.randint(0, 12),
                "lesson_starts_at": start,
                "lesson_minutes": 60,
                "created_at": start + timedelta(hours=2 * i + 3),
            }
            for i, booking_id in enumerate(ids)
        ],
    )
    await recompute_stats(session, tutor_id)


async def seed(url: str, reviews: int, writes: int) -> dict[str, object]:
    engine = db.create_engine(url, pool_size=2)
    try:
        async with db.create_session_factory(engine)() as session, session.begin():
            busy = await tutor(session, "busy@bench.example")
            small = await tutor(session, "small@bench.example")
            old = await user(session, "old@bench.example", Role.STUDENT)
            await add_reviews(session, busy.id, old.id, reviews)
            await add_reviews(session, small.id, old.id, 10)
            # Writers: each a student with one completed, unreviewed lesson with the busy tutor
            # and one with a tutor of their own.
            recent = datetime.now(UTC) - timedelta(days=2)
            same, spread = [], []
            for i in range(writes):
                learner = await user(session, f"w{i}@bench.example", Role.STUDENT)
                own = await user(session, f"t{i}@bench.example", Role.TUTOR)
                rows = [
                    booking_row(busy.id, learner.id, recent - timedelta(minutes=i), "completed"),
                    booking_row(own.id, learner.id, recent + timedelta(hours=1), "completed"),
                ]
                to_busy, to_own = (
                    await session.scalars(insert(Booking).returning(Booking.id), rows)
                ).all()
                token = await accounts.issue_token(
                    session, learner, TokenKind.API, lifetime=timedelta(hours=2)
                )
                same.append((to_busy, token.secret))
                spread.append((to_own, token.secret))
            return {"busy": busy.id, "small": small.id, "same": same, "spread": spread}
    finally:
        await engine.dispose()


async def bench_direct(url: str, busy: int, small: int, rounds: int) -> None:
    engine = db.create_engine(url, pool_size=2)
    try:
        factory = db.create_session_factory(engine)
        medians = {}
        for name, tutor_id in (("busy", busy), ("small", small)):
            samples = []
            for _ in range(rounds):
                async with factory() as session, session.begin():
                    t = time.perf_counter()
                    await recompute_stats(session, tutor_id)
                    samples.append(time.perf_counter() - t)
            async with factory() as session:
                count = (await queries.summary(session, tutor_id)).count
            medians[name] = report(f"recompute aggregates, {count} reviews", samples)
        print(f"  ratio busy / small tutor: {medians['busy'] / medians['small']:.1f}×")
        async with factory() as session:
            for sort in queries.ReviewSort:
                samples = []
                for _ in range(rounds):
                    t = time.perf_counter()
                    await queries.tutor_reviews(session, busy, sort=sort, page=1, per_page=10)
                    samples.append(time.perf_counter() - t)
                report(f"page 1, {sort.value}", samples)
            samples = []
            for _ in range(rounds):
                t = time.perf_counter()
                await queries.tutor_reviews(session, busy, page=400, per_page=10)
                samples.append(time.perf_counter() - t)
            report("page 400, newest", samples)
    finally:
        await engine.dispose()


async def bench_http_reads(base: str, busy: int, rounds: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for sort in ("newest", "lowest"):
            samples = []
            for _ in range(rounds):
                t = time.perf_counter()
                response = await http.get(f"/api/v1/tutors/{busy}/reviews", params={"sort": sort})
                samples.append(time.perf_counter() - t)
                assert response.status_code == 200, response.text
            report(f"GET /tutors/{{id}}/reviews?sort={sort}", samples)
        samples = []
        for _ in range(max(1, rounds // 4)):
            t = time.perf_counter()
            response = await http.get(f"/tutors/{busy}")
            samples.append(time.perf_counter() - t)
            assert response.status_code == 200
        report("GET /tutors/{id} (the page, with reviews)", samples)


async def bench_writes(
    base: str, lessons: list[tuple[int, str]], clients: int, seconds: float, label: str
) -> None:
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for item in lessons:
        queue.put_nowait(item)
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:

        async def writer() -> None:
            while time.monotonic() < deadline:
                try:
                    booking_id, token = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t = time.perf_counter()
                response = await http.post(
                    f"/api/v1/lessons/{booking_id}/review",
                    json={"rating": 5, "text": "Benchmark lesson, lovely."},
                    headers={"Authorization": f"Bearer {token}"},
                )
                latencies.append(time.perf_counter() - t)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(clients)))
        took = time.perf_counter() - began
    made = statuses.get(201, 0)
    print(
        f"  {label}: {made} reviews in {took:.2f} s with {clients} clients = "
        f"{made / took:.0f}/s   statuses {dict(sorted(statuses.items()))}"
    )
    report("POST /lessons/{id}/review latency", latencies)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int, var: Path) -> subprocess.Popen[bytes]:
    code = (
        "import uvicorn; from marketplace.app import create_app; "
        "from marketplace.settings import Settings; "
        f"uvicorn.run(create_app(Settings.from_env()), host='127.0.0.1', port={port}, "
        "log_level='warning', access_log=False)"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        **bench_secrets(),
        "DUET_VAR_DIR": str(var),
        "DATABASE_POOL_SIZE": "10",
    }
    env.pop("REDIS_URL", None)
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the bench server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=5000)
    parser.add_argument("--writers", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--writes", type=int, default=200, help="submissions per write test")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per write test")
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="duet-bench-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg", fast_unsafe=True)
        pg.start()
        server = None
        try:
            pg.ensure_database("bench")
            url = pg.url("bench")
            migrate.upgrade(url)
            data = asyncio.run(seed(url, args.reviews, args.writes))
            busy, small = int(data["busy"]), int(data["small"])  # type: ignore[call-overload]
            print(f"Direct (service functions, {os.cpu_count()} CPUs):")
            asyncio.run(bench_direct(url, busy, small, args.rounds))
            port = free_port()
            server = start_server(url, port, Path(tmp) / "var")
            base = f"http://127.0.0.1:{port}"
            print("HTTP, one web process:")
            asyncio.run(bench_http_reads(base, busy, args.rounds))
            spread: list[tuple[int, str]] = data["spread"]  # type: ignore[assignment]
            same: list[tuple[int, str]] = data["same"]  # type: ignore[assignment]
            asyncio.run(bench_writes(base, spread, args.writers, args.seconds, "distinct tutors"))
            asyncio.run(bench_writes(base, same, args.writers, args.seconds, "one busy tutor"))
        finally:
            if server is not None:
                server.terminate()
                server.wait(15)
            pg.stop()


if __name__ == "__main__":
    main()
