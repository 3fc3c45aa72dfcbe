"""Benchmark: live messaging through the app, over WebSockets, across web processes.

    .venv/bin/python bench/messaging.py [--clients 500] [--rates 500,1000,2000] [--seconds 15]
        [--baseline SOURCE_TREE] [--detail]

Starts a throwaway embedded PostgreSQL (fast, unsafe settings) and the embedded Redis in a
temporary folder, and ``--servers`` uvicorn processes on 127.0.0.1; nothing else is touched.
``--clients`` WebSocket clients connect (half of each student–tutor pair to one server, the other
half to the next, so every message crosses processes through Redis pub/sub). For each offered
rate, messages are sent open-loop (on a fixed schedule, whatever the server does) for
``--seconds`` or ``--max-messages``, whichever comes first; each message carries its send time and
its recipient records the delay. Reported per rate: messages/s accepted (fan-in) and delivered,
delivery latency p50/p95/p99, errors, messages still unanswered 10 s after the last send (when
the server is overloaded they wait in its socket buffers and are dropped unstored when the
client disconnects; a real client resends them with the same client_id), and the CPU each part
used per message. ``--detail`` also prints, per delivered message, PostgreSQL's statements
(pg_stat_statements: calls, rows, planning and execution time) and Redis's commands (INFO
commandstats: calls and time), to show where the database and Redis time goes.

Every message is a real use case: rate limit (Redis), one transaction (lock the conversation,
next sequence number, insert, read cursor, recipient's unread total), then the doorbell.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import psutil
import uvloop
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server_env import bench_secrets
from marketplace import db, migrate
from marketplace.accounts import service as accounts
from marketplace.accounts.models import Role, TokenKind, User
from marketplace.embedded import EmbeddedPostgres, EmbeddedRedis
from marketplace.messaging.models import Conversation, Participant

TICK = 0.005


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Client:
    user_id: int
    token: str
    conversation_id: int
    base: str
    ws: ClientConnection | None = None
    sent: int = 0


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    delivered: int = 0
    accepted: int = 0  # echoes to the sender: the server stored and announced it
    errors: dict[str, int] = field(default_factory=dict)
    first_error: str = ""


async def seed(url: str, clients: int) -> list[tuple[int, str, int]]:
    """``clients`` users in student–tutor pairs, one conversation each; (user, token, cid)."""
    engine = db.create_engine(url, pool_size=2)
    out: list[tuple[int, str, int]] = []
    try:
        async with db.create_session_factory(engine)() as session, session.begin():
            for pair in range(clients // 2):
                users = []
                for role in (Role.STUDENT, Role.TUTOR):
                    user = User(
                        email=f"{role.value}{pair}@bench.example",
                        password_hash="!",  # noqa: S106 - bench users only have API tokens
                        full_name=f"{role.value.title()} {pair}",
                        roles=[role.value],
                    )
                    session.add(user)
                    users.append(user)
                await session.flush()
                conversation = Conversation(
                    student_id=users[0].id, tutor_id=users[1].id, started_by=users[0].id
                )
                session.add(conversation)
                await session.flush()
                for user in users:
                    session.add(Participant(conversation_id=conversation.id, user_id=user.id))
                    issued = await accounts.issue_token(
                        session, user, TokenKind.API, lifetime=timedelta(hours=2)
                    )
                    out.append((user.id, issued.secret, conversation.id))
    finally:
        await engine.dispose()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    url: str, redis_url: str, port: int, var: Path, source: Path
) -> subprocess.Popen[bytes]:
    code = (
        "import uvicorn; from marketplace.app import create_app; "
        "from marketplace.settings import Settings; "
        f"uvicorn.run(create_app(Settings.from_env()), host='127.0.0.1', port={port}, "
        "log_level='warning', access_log=False, ws_ping_interval=None, "
        "ws_per_message_deflate=False)"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        **bench_secrets(),
        "DUET_VAR_DIR": str(var),
        "DATABASE_POOL_SIZE": "10",
        "MESSAGE_RATE_LIMIT": "100000",  # the benchmark measures delivery, not the limiter
    }
    # ``-c`` puts the working folder first on the path: the servers run ``source``'s code.
    process = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=source)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the bench server did not start")


async def listen(client: Client, stats: Stats) -> None:
    assert client.ws is not None
    async for raw in client.ws:
        text = raw if isinstance(raw, str) else raw.decode()
        if text.startswith('{"type":"message"'):
            event = json.loads(text)
            message = event["message"]
            if message["sender_id"] == client.user_id:
                stats.accepted += 1
                continue
            sent_at = float(message["client_id"].split(":", 1)[1])
            stats.latencies.append(time.perf_counter() - sent_at)
            stats.delivered += 1
        elif text.startswith('{"type":"error"'):
            event = json.loads(text)
            stats.errors[event["code"]] = stats.errors.get(event["code"], 0) + 1
            stats.first_error = stats.first_error or event["message"]


async def run_rate(
    clients: list[Client], rate: float, seconds: float, max_messages: int
) -> tuple[Stats, float, int]:
    stats = Stats()
    listeners = [asyncio.create_task(listen(c, stats)) for c in clients]
    total = min(max_messages, int(rate * seconds))
    started = time.perf_counter()
    sent = 0
    index = 0
    try:
        while sent < total:
            due = min(total, int((time.perf_counter() - started) * rate) + 1)
            while sent < due:
                client = clients[index % len(clients)]
                index += 1
                frame = {
                    "type": "send",
                    "conversation_id": client.conversation_id,
                    "body": f"Practice bars {sent % 64 + 1} to {sent % 64 + 9} slowly, please.",
                    "client_id": f"{client.user_id}-{client.sent}:{time.perf_counter()!r}",
                }
                client.sent += 1
                assert client.ws is not None
                await client.ws.send(json.dumps(frame))
                sent += 1
            await asyncio.sleep(TICK)
        send_time = time.perf_counter() - started
        # Drain: wait until everything arrived, or 10 s more at most.
        deadline = time.perf_counter() + 10
        while stats.delivered + sum(stats.errors.values()) < sent:
            if time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.05)
    finally:
        for task in listeners:
            task.cancel()
        for task in listeners:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return stats, send_time, sent


class Detail:
    """Per-statement and per-command counters, reset before each rate (``--detail``)."""

    def __init__(self, pg_dsn: str, redis_url: str) -> None:
        self.pg_dsn = pg_dsn
        self.redis = Redis.from_url(redis_url)
        self.pg: Any = None

    async def reset(self) -> None:
        if self.pg is None:
            self.pg = await asyncpg.connect(self.pg_dsn)
        await self.pg.execute("SELECT pg_stat_statements_reset()")
        await self.redis.config_resetstat()

    async def report(self, delivered: int) -> None:
        n = max(delivered, 1)
        rows = await self.pg.fetch(
            """SELECT calls, rows, total_plan_time, total_exec_time, query
                 FROM pg_stat_statements
                WHERE query NOT LIKE '%pg_stat_statements%'
                ORDER BY total_plan_time + total_exec_time DESC LIMIT 6"""
        )
        print("    PostgreSQL statements per delivered message (calls, rows, plan + exec ms):")
        for r in rows:
            text = " ".join(r["query"].split())[:70]
            print(
                f"      {r['calls'] / n:6.3f} {r['rows'] / n:6.3f} "
                f"{r['total_plan_time'] / n:6.3f} + {r['total_exec_time'] / n:6.3f}  {text}"
            )
        stats = await self.redis.info("commandstats")
        print("    Redis commands per delivered message (calls, ms):")
        for name, stat in sorted(stats.items(), key=lambda kv: -kv[1]["usec"])[:6]:
            print(
                f"      {stat['calls'] / n:6.3f} {stat['usec'] / 1000 / n:6.4f}  "
                f"{name.removeprefix('cmdstat_')}"
            )

    async def close(self) -> None:
        if self.pg is not None:
            await self.pg.close()
        await self.redis.aclose()


def cpu_seconds(processes: list[psutil.Process], children: bool = True) -> float:
    """User + system CPU of these processes and, with ``children``, of their children
    (PostgreSQL's backends), the ones still running and the ones already gone (counted by their
    parent once reaped)."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
            if children:
                total += times.children_user + times.children_system
        if not children:
            continue
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                times = child.cpu_times()
                total += times.user + times.system
    return total


async def bench(
    bases: list[str],
    users: list[tuple[int, str, int]],
    rates: list[float],
    args: argparse.Namespace,
    watched: dict[str, list[psutil.Process]],
    label: str,
    detail: Detail | None,
) -> None:
    clients = []
    for i, (user_id, token, cid) in enumerate(users):
        # Pairs are consecutive: the student on one server, the tutor on the next.
        clients.append(Client(user_id, token, cid, bases[i % len(bases)]))
    opened = time.perf_counter()
    sem = asyncio.Semaphore(50)

    async def open_one(client: Client) -> None:
        async with sem:
            url = client.base.replace("http://", "ws://") + "/ws/messages"
            client.ws = await connect(
                url,
                additional_headers={"Authorization": f"Bearer {client.token}"},
                ping_interval=None,
                max_queue=None,
                compression=None,
            )
            hello = json.loads(await client.ws.recv())
            assert hello["type"] == "hello", hello

    await asyncio.gather(*(open_one(c) for c in clients))
    print(
        f"  {len(clients)} sockets connected in {time.perf_counter() - opened:.1f} s "
        f"over {len(bases)} web process(es)"
    )
    try:
        # Warm up connection pools and caches; not reported.
        await run_rate(clients, min(rates[0], 200), 2, 400)
        print(
            f"  {'code':>9} {'offered/s':>9} {'sent':>6} {'accepted/s':>10} {'delivered/s':>11} "
            f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6} {'unanswered':>10}   "
            "CPU ms per delivered message: web / PostgreSQL / Redis = system; clients"
        )
        # The clients are this process alone: the servers it started are its children.
        me = [psutil.Process()]

        def cpu() -> dict[str, float]:
            return {
                **{name: cpu_seconds(ps) for name, ps in watched.items()},
                "clients": cpu_seconds(me, children=False),
            }

        for rate in rates:
            if detail is not None:
                await detail.reset()
            before = cpu()
            stats, send_time, sent = await run_rate(clients, rate, args.seconds, args.max_messages)
            used = {
                name: (seconds - before[name]) * 1000 / max(stats.delivered, 1)
                for name, seconds in cpu().items()
            }
            ms = [x * 1000 for x in stats.latencies]
            window = max(send_time, 1e-9)
            lost = sent - stats.delivered - sum(stats.errors.values())
            print(
                f"  {label:>9} {rate:9.0f} {sent:6d} {stats.accepted / window:10.0f} "
                f"{stats.delivered / window:11.0f} {pct(ms, 0.5):8.1f} {pct(ms, 0.95):8.1f} "
                f"{pct(ms, 0.99):8.1f} {sum(stats.errors.values()):6d} {lost:10d}   "
                f"{used['web']:.2f} / {used['postgres']:.2f} / {used['redis']:.2f} = "
                f"{used['web'] + used['postgres'] + used['redis']:.2f}; {used['clients']:.2f}"
            )
            if stats.errors:
                print(f"    errors: {stats.errors} (first: {stats.first_error})")
            if detail is not None:
                await detail.report(stats.delivered)
    finally:
        await asyncio.gather(*(c.ws.close() for c in clients if c.ws is not None))
        if detail is not None:
            await detail.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--rates", default="500,1000,2000", help="offered messages/s, in order")
    parser.add_argument("--seconds", type=float, default=15.0, help="per rate")
    parser.add_argument("--max-messages", type=int, default=40_000, help="per rate")
    parser.add_argument("--servers", type=int, default=2, help="web processes")
    parser.add_argument("--baseline", type=Path, help="another source tree to measure first")
    parser.add_argument("--rounds", type=int, default=1, help="baseline/this alternations")
    parser.add_argument(
        "--detail", action="store_true", help="per-statement and per-command counts and times"
    )
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    here = Path(__file__).resolve().parent.parent
    trees = [("this", here)]
    if args.baseline is not None:
        trees = [("baseline", args.baseline.resolve()), *trees] * max(1, args.rounds)
    with tempfile.TemporaryDirectory(prefix="duet-bench-msg-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg", fast_unsafe=True)
        redis = EmbeddedRedis(Path(tmp) / "redis")
        pg.start()
        redis.start()
        try:
            if args.detail:
                # pg_stat_statements must be preloaded: set it, then start again.
                asyncio.run(
                    _sql(
                        pg.url("duet"),
                        "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'",
                    )
                )
                pg.stop()
                pg.start()
            pg.ensure_database("bench")
            url = pg.url("bench")
            migrate.upgrade(url)
            if args.detail:
                asyncio.run(_sql(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
                asyncio.run(_sql(url, "ALTER SYSTEM SET pg_stat_statements.track_planning = on"))
                asyncio.run(_sql(url, "SELECT pg_reload_conf()"))
            users = asyncio.run(seed(url, args.clients - args.clients % 2))
            print(
                f"Messaging over WebSockets ({os.cpu_count()} CPUs shared with the database, "
                f"Redis, {max(1, args.servers)} web process(es) and these clients):"
            )
            for label, source in trees:
                servers: list[subprocess.Popen[bytes]] = []
                try:
                    bases = []
                    for _ in range(max(1, args.servers)):
                        port = free_port()
                        var = Path(tmp) / "var"
                        servers.append(start_server(url, redis.url(), port, var, source))
                        bases.append(f"http://127.0.0.1:{port}")
                    watched = {
                        "web": [psutil.Process(p.pid) for p in servers],
                        "postgres": [psutil.Process(pg.pid)] if pg.pid else [],
                        "redis": [psutil.Process(redis.pid)] if redis.pid else [],
                    }
                    load = os.getloadavg()[0]
                    print(f"  {label}: load average before: {load:.1f} (other work here)")
                    # The load generator runs on uvloop (as uvicorn does), so it takes less of
                    # the CPU it shares with what it measures.
                    detail = Detail(_dsn(url), redis.url()) if args.detail else None
                    uvloop.run(bench(bases, users, rates, args, watched, label, detail))
                finally:
                    for server in servers:
                        server.terminate()
                    for server in servers:
                        try:
                            server.wait(15)
                        except subprocess.TimeoutExpired:
                            # An overloaded server still busy with its backlog: stop it hard.
                            server.kill()
                            server.wait(15)
        finally:
            redis.stop()
            pg.stop()


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _sql(url: str, statement: str) -> None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
