"""A Duet server in a process of its own, for tests that kill it (kill -9) mid-lesson.

``start`` runs ``python -m tests.video.room_process``, which reads the test's ``Settings``
pickled on stdin, serves rooms on loopback (``tests/video/server``) and prints its URL once it
serves. It never exits on its own: the test kills it.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
from pathlib import Path

from marketplace.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def start(settings: Settings, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """The child's URL once it serves, and the process (blocking: call it in a thread)."""
    with log.open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.video.room_process"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(pickle.dumps(settings))
        process.stdin.close()
        line = process.stdout.readline()  # the child exits (an empty line) if it fails
        if not line.startswith(b"http://"):
            raise RuntimeError(f"the room process did not start: {log.read_text()[-2000:]}")
    except BaseException:
        stop(process)
        raise
    return line.decode().strip(), process


def stop(process: subprocess.Popen[bytes]) -> None:
    """kill -9 (if still running), reaped, its pipe closed."""
    if process.poll() is None:
        process.kill()
    process.wait(10)
    if process.stdout is not None:
        process.stdout.close()


def main() -> None:
    from marketplace.app import build_queue
    from marketplace.tasks import build_broker
    from tests.video.server import live_room_server

    settings = pickle.load(sys.stdin.buffer)  # noqa: S301 (the parent test's own settings)
    with live_room_server(settings, build_queue(settings, build_broker(None))) as server:
        print(server.url, flush=True)
        while True:
            time.sleep(60)


if __name__ == "__main__":
    main()
