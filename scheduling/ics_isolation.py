"""Reading an imported calendar in a child process with hard limits.

``ics_reader`` caps its own work, but parsing and recurrence expansion happen inside third-party
libraries whose loops we cannot interrupt. So the worker reads each calendar in a short-lived
child (``python -m scheduling.ics_isolation``) whose address space and CPU time are limited by the
kernel, and kills it when the wall-clock budget is over. Whatever a file does, the worker loses
at most that budget and that memory, and the tutor gets a message instead of a stuck import.

The child reads one JSON line of parameters and then the file from stdin, and writes one JSON
object to stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from scheduling.ics_reader import BusyRead, CalendarUnreadable, ReadLimits, read_busy

_ROOT = str(Path(__file__).resolve().parents[1])  # the folder holding the scheduling package
# Interpreter start and imports, on top of the reading budget.
_START_SECONDS = 10.0


async def read_isolated(
    data: bytes, time_zone: str, start: datetime, end: datetime, limits: ReadLimits
) -> BusyRead:
    """``read_busy`` in a child process; ``CalendarUnreadable`` when it fails or runs over."""
    header = {
        "time_zone": time_zone,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "limits": asdict(limits),
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scheduling.ics_isolation",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": _ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")},
    )
    try:
        out, _ = await asyncio.wait_for(
            child.communicate(json.dumps(header).encode() + b"\n" + data),
            timeout=limits.seconds + _START_SECONDS,
        )
    except TimeoutError:
        raise CalendarUnreadable(
            f"Reading the calendar took longer than {limits.seconds:g} seconds; "
            "export a shorter period of your calendar."
        ) from None
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    try:
        answer = json.loads(out)
    except ValueError:
        raise CalendarUnreadable(
            "Reading the calendar needed more time or memory than Duet allows; "
            "export a shorter period of your calendar."
        ) from None
    if "error" in answer:
        raise CalendarUnreadable(str(answer["error"]))
    return BusyRead(
        [(datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in answer["intervals"]],
        [str(reason) for reason in answer["skipped"]],
    )


def _limit_self(limits: ReadLimits) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    cpu = int(limits.seconds) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def main() -> int:
    header = json.loads(sys.stdin.buffer.readline())
    limits = ReadLimits(**header["limits"])
    _limit_self(limits)
    data = sys.stdin.buffer.read(limits.max_bytes + 1)
    try:
        found = read_busy(
            data,
            header["time_zone"],
            datetime.fromisoformat(header["start"]),
            datetime.fromisoformat(header["end"]),
            limits,
        )
    except CalendarUnreadable as exc:
        answer: dict[str, object] = {"error": str(exc)}
    except MemoryError:
        answer = {"error": "Reading the calendar needed more memory than Duet allows."}
    except Exception as exc:  # a hostile file may break the parser any way
        answer = {"error": f"This calendar cannot be read ({type(exc).__name__}: {exc})."}
    else:
        answer = {
            "intervals": [(s.isoformat(), e.isoformat()) for s, e in found.intervals],
            "skipped": found.skipped,
        }
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
