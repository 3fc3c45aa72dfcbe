"""Benchmark: slot computation and booking throughput.

    .venv/bin/python bench/slots.py [--clients 32] [--bookings 1500] [--seconds 30]

Starts a throwaway embedded PostgreSQL (fast, unsafe settings) in a temporary folder and a
uvicorn server on 127.0.0.1 in a child process; nothing else is touched. It measures

1. open slots for 8 weeks for a tutor with 200 bookings and 500 imported busy events:
   the pure computation, the service call (database reads + computation), and the HTTP endpoint;
2. holds per second on distinct slots through ``POST /api/v1/bookings`` with concurrent clients,
   and the CPU each hold costs the web processes and PostgreSQL (a figure that holds on a busy
   machine, where the rate depends on what else runs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server_env import bench_secrets
from marketplace import db, migrate
from marketplace.accounts import service as accounts
from marketplace.accounts.models import Role, TokenKind, User
from marketplace.embedded import EmbeddedPostgres
from marketplace.profiles.models import LessonPrice, TutorProfile, TutorStatus
from payouts.models import ConnectedAccount
from scheduling import availability, service, slots
from scheduling.availability import Window, parse_clock, rules_from_windows
from scheduling.models import Booking, BookingRules, BusyTime, ExternalCalendar

WEEKS = 8
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, samples: list[float]) -> None:
    ms = [s * 1000 for s in samples]
    print(
        f"  {name:38} p50 {statistics.median(ms):7.2f} ms   p95 {pct(ms, 0.95):7.2f} ms"
        f"   (n={len(ms)})"
    )


async def make_user(session: AsyncSession, email: str, roles: list[str], zone: str) -> User:
    user = User(
        email=email,
        password_hash="!",  # noqa: S106 - unusable on purpose: bench users have API tokens
        full_name=email.split("@")[0],
        time_zone=zone,
        roles=roles,
    )
    session.add(user)
    await session.flush()
    return user


async def make_tutor(session: AsyncSession, email: str, rules: BookingRules) -> User:
    user = await make_user(session, email, [Role.TUTOR.value], "Europe/Berlin")
    session.add(
        TutorProfile(
            user_id=user.id,
            status=TutorStatus.APPROVED.value,
            display_name=user.full_name,
            currency="EUR",
            prices=[
                LessonPrice(duration_minutes=30, price_minor=2500),
                LessonPrice(duration_minutes=60, price_minor=4500),
            ],
        )
    )
    start = parse_clock("08:00")
    end = parse_clock("22:00")
    assert start and end
    windows = [Window(day, start, end) for day in DAYS]
    session.add_all(rules_from_windows(user.id, windows, "Europe/Berlin"))
    rules.tutor_id = user.id
    session.add(rules)
    # Only a tutor who can be paid is bookable.
    session.add(
        ConnectedAccount(
            tutor_id=user.id,
            stripe_account_id=f"acct_bench{user.id}",
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
            requirements=[],
            links_made=0,
        )
    )
    await session.flush()
    return user


def open_rules() -> BookingRules:
    return BookingRules(
        buffer_before_minutes=0,
        buffer_after_minutes=10,
        min_notice_minutes=60,
        booking_window_days=120,
        max_lessons_per_day=None,
        slot_granularity_minutes=30,
        free_cancel_hours=24,
        late_cancel_refund_percent=0,
    )


async def seed(url: str, clients: int) -> tuple[int, int, list[str]]:
    """A busy tutor (200 bookings, 500 busy events), an empty tutor, student tokens."""
    rng = random.Random(7)
    engine = db.create_engine(url, pool_size=2)
    try:
        async with db.create_session_factory(engine)() as session, session.begin():
            busy_tutor = await make_tutor(session, "busy@bench.example", open_rules())
            free_tutor = await make_tutor(session, "free@bench.example", open_rules())
            student = await make_user(session, "s0@bench.example", ["student"], "UTC")
            now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            taken: set[datetime] = set()
            while len(taken) < 200:  # whole hours 08:00-20:00 UTC, no two alike
                start = now + timedelta(days=rng.randrange(1, WEEKS * 7), hours=0)
                start = start.replace(hour=rng.randrange(8, 20))
                if start in taken:
                    continue
                taken.add(start)
                end = start + timedelta(hours=1)
                session.add(
                    Booking(
                        tutor_id=busy_tutor.id,
                        student_id=student.id,
                        status="confirmed",
                        starts_at=start,
                        ends_at=end,
                        period=Range(start, end, bounds="[)"),
                        blocked=Range(start, end, bounds="[)"),
                        duration_minutes=60,
                        price_minor=4500,
                        currency="EUR",
                        tutor_time_zone="Europe/Berlin",
                        sequence=0,
                        cancel_reason="",
                    )
                )
            calendar = ExternalCalendar(tutor_id=busy_tutor.id, name="bench", source="upload")
            session.add(calendar)
            await session.flush()
            busy: set[tuple[datetime, datetime]] = set()
            while len(busy) < 500:
                start = now + timedelta(minutes=15 * rng.randrange(4 * 24 * 7 * WEEKS))
                busy.add((start, start + timedelta(minutes=rng.choice((30, 45, 60, 90)))))
            session.add_all(
                BusyTime(calendar_id=calendar.id, tutor_id=busy_tutor.id, starts_at=s, ends_at=e)
                for s, e in busy
            )
            tokens = []
            for i in range(clients):
                user = await make_user(session, f"c{i}@bench.example", ["student"], "UTC")
                issued = await accounts.issue_token(
                    session, user, TokenKind.API, lifetime=timedelta(hours=2)
                )
                tokens.append(issued.secret)
            return busy_tutor.id, free_tutor.id, tokens
    finally:
        await engine.dispose()


async def bench_compute(url: str, tutor_id: int, rounds: int) -> None:
    engine = db.create_engine(url, pool_size=2)
    now = datetime.now(UTC)
    end = now + timedelta(weeks=WEEKS)
    try:
        factory = db.create_session_factory(engine)
        async with factory() as session:
            cal = await availability.load_calendar(session, tutor_id, now, end)
            print(f"  tutor has {len(cal.booked)} live bookings, {len(cal.busy)} busy events")
            pure, full = [], []
            found = 0
            for _ in range(rounds):
                t = time.perf_counter()
                found = len(slots.open_slots(cal, now, end, 60, now))
                pure.append(time.perf_counter() - t)
            # The same rules, as a tutor who set them three years ago has them stored.
            old = replace(
                cal,
                weekly=[replace(r, dtstart=r.dtstart - timedelta(weeks=156)) for r in cal.weekly],
            )
            aged = []
            for _ in range(rounds):
                t = time.perf_counter()
                assert len(slots.open_slots(old, now, end, 60, now)) == found
                aged.append(time.perf_counter() - t)
            for _ in range(rounds):
                t = time.perf_counter()
                await service.open_slots(session, tutor_id, now, end, 60, now)
                full.append(time.perf_counter() - t)
        print(f"  {found} open 60-minute slots in 8 weeks")
        report("slot computation (pure)", pure)
        report("  the same, rules anchored 3 years ago", aged)
        report("service call (database + computation)", full)
    finally:
        await engine.dispose()


async def bench_http_slots(base: str, tutor_id: int, rounds: int) -> None:
    now = datetime.now(UTC)
    params = {
        "from": now.isoformat(),
        "to": (now + timedelta(weeks=WEEKS)).isoformat(),
        "duration": "60",
    }
    samples = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(rounds):
            t = time.perf_counter()
            response = await http.get(f"/api/v1/tutors/{tutor_id}/slots", params=params)
            samples.append(time.perf_counter() - t)
            assert response.status_code == 200, response.text
    report("GET /slots over HTTP (8 weeks)", samples)


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU of these processes and their children (PostgreSQL's backends)."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                times = child.cpu_times()
                total += times.user + times.system
    return total


async def bench_booking(
    bases: list[str],
    tutor_id: int,
    tokens: list[str],
    total: int,
    seconds: float,
    watched: dict[str, list[psutil.Process]],
) -> None:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    # Distinct 30-minute slots inside 08:00-22:00 Berlin, one hour apart (10-minute buffer).
    times = [start + timedelta(days=d, hours=h) for d in range(110) for h in range(8, 19)][:total]
    queue: asyncio.Queue[datetime] = asyncio.Queue()
    for t in times:
        queue.put_nowait(t)
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(tokens))
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def client(token: str, base: str) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            while time.monotonic() < deadline:
                try:
                    slot = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body = {"tutor_id": tutor_id, "starts_at": slot.isoformat(), "duration_minutes": 30}
                t = time.perf_counter()
                response = await http.post(f"{base}/api/v1/bookings", json=body, headers=headers)
                latencies.append(time.perf_counter() - t)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code != 201 and len(errors) < 3:
                    errors.append(response.text[:300])

        before = {name: cpu_seconds(ps) for name, ps in watched.items()}
        began = time.perf_counter()
        # Clients spread over the web processes, as a load balancer would.
        await asyncio.gather(*(client(t, bases[i % len(bases)]) for i, t in enumerate(tokens)))
        took = time.perf_counter() - began
        spent = {name: cpu_seconds(ps) - before[name] for name, ps in watched.items()}
    made = statuses.get(201, 0)
    print(
        f"  {made} holds in {took:.2f} s with {len(tokens)} concurrent clients: "
        f"{made / took:.0f} bookings/s over {len(bases)} web process(es)   "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    report("POST /bookings latency", latencies)
    per_hold = {name: cpu * 1000 / max(made, 1) for name, cpu in spent.items()}
    print(
        "  CPU per hold: "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in per_hold.items())
        + f", together {sum(per_hold.values()):.2f} ms"
        + f" (at most {len(os.sched_getaffinity(0)) * 1000 / sum(per_hold.values()):.0f} holds/s"
        + " on these cores)"
    )
    for error in errors:
        print("  refused:", error)


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
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--bookings", type=int, default=1200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--servers", type=int, default=2, help="web processes (one per core)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="duet-bench-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg", fast_unsafe=True)
        pg.start()
        servers: list[subprocess.Popen[bytes]] = []
        try:
            pg.ensure_database("bench")
            url = pg.url("bench")
            migrate.upgrade(url)
            busy_tutor, free_tutor, tokens = asyncio.run(seed(url, args.clients))
            print(f"Slot computation, {WEEKS} weeks ({os.cpu_count()} CPUs):")
            asyncio.run(bench_compute(url, busy_tutor, args.rounds))
            bases = []
            for _ in range(max(1, args.servers)):
                port = free_port()
                servers.append(start_server(url, port, Path(tmp) / "var"))
                bases.append(f"http://127.0.0.1:{port}")
            asyncio.run(bench_http_slots(bases[0], busy_tutor, min(args.rounds, 100)))
            print("Booking throughput on distinct slots:")
            watched = {
                "web": [psutil.Process(server.pid) for server in servers],
                "postgres": [psutil.Process(pg.pid)] if pg.pid else [],
            }
            asyncio.run(
                bench_booking(bases, free_tutor, tokens, args.bookings, args.seconds, watched)
            )
        finally:
            for server in servers:
                server.terminate()
                server.wait(15)
            pg.stop()


if __name__ == "__main__":
    main()
