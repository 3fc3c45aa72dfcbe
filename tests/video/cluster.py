"""Rooms on their own processes: real Redis, media processes and web processes started as
``duet media`` and ``duet web`` subprocesses, all on loopback.

Each process is a real ``python -m marketplace.cli`` child with ``ROOM_PLACEMENT=media``,
sharing the test's database; media stays on 127.0.0.1 (``ROOM_MEDIA_ADDRESSES``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from marketplace.embedded import EmbeddedRedis
from video.directory import PREFIX

PROJECT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    redis: EmbeddedRedis
    env: dict[str, str]
    logs: Path
    webs: list[str] = field(default_factory=list)  # base URLs
    media: list[subprocess.Popen[bytes]] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_media(self, capacity: int = 40) -> subprocess.Popen[bytes]:
        number = len(self.media) + 1
        process = self._spawn(f"media{number}", ["media", "--capacity", str(capacity)], self.env)
        self.media.append(process)
        return process

    def start_web(self) -> str:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**self.env, "BASE_URL": base}
        self._spawn(
            f"web{len(self.webs) + 1}", ["web", "--host", "127.0.0.1", "--port", str(port)], env
        )
        self.webs.append(base)
        return base

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                [sys.executable, "-m", "marketplace.cli", *args],
                env=env,
                cwd=PROJECT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def wait_ready(self, within: float = 60) -> None:
        """Every web process answers /healthz with 200: database, Redis and a media process."""
        deadline = time.monotonic() + within
        for base in self.webs:
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the cluster did not start:\n" + self.log_tail())
                for process in self.processes:
                    if process.poll() is not None:
                        raise RuntimeError("a process exited:\n" + self.log_tail())
                time.sleep(0.2)

    def keep_media(self, count: int, within: float = 30) -> None:
        """Replace media processes that died until ``count`` run, registered in Redis."""
        self.media = [p for p in self.media if p.poll() is None]
        while len(self.media) < count:
            self.start_media()
        deadline = time.monotonic() + within
        while self._registered() < count:
            if time.monotonic() > deadline:
                raise RuntimeError("media processes did not register:\n" + self.log_tail())
            time.sleep(0.2)

    def _registered(self) -> int:
        import redis

        client = redis.Redis.from_url(self.redis.url())
        try:
            return sum(
                1
                for key in client.scan_iter(match=f"{PREFIX}proc:*")
                if not key.endswith(b":rooms")
            )
        finally:
            client.close()

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@contextmanager
def media_cluster(
    database_url: str, signing_key: str, tmp: Path, *, media: int = 2, webs: int = 2
) -> Iterator[Cluster]:
    redis = EmbeddedRedis(tmp / "redis")
    redis.start()
    logs = tmp / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    keep = ("PATH", "HOME", "LANG", "PYTHON", "TMPDIR")
    env = {
        **{k: v for k, v in os.environ.items() if k.startswith(keep)},
        "DATABASE_URL": database_url,
        "REDIS_URL": redis.url(),
        "ROOM_PLACEMENT": "media",
        "ROOM_MEDIA_ADDRESSES": "127.0.0.1",
        "SECRET_KEY": "cluster-test-secret-" + "x" * 32,
        "CERTIFICATE_SIGNING_KEY": signing_key,
        "DUET_VAR_DIR": str(tmp / "var"),
        "LOG_FORMAT": "text",
        "DATABASE_POOL_SIZE": "3",
    }
    cluster = Cluster(redis=redis, env=env, logs=logs)
    try:
        for _ in range(media):
            cluster.start_media()
        for _ in range(webs):
            cluster.start_web()
        cluster.wait_ready()
        yield cluster
    finally:
        cluster.stop()
        redis.stop()
