"""Benchmark: garbage-collector pauses in a process that holds the built app, with and without
``marketplace.heap.freeze_startup_heap``.

    .venv/bin/python bench/gc_pauses.py [--rounds 1000000] [--keep 0.02]

Each mode runs in a fresh process: import what ``duet web`` and ``duet media`` import, build the
app, then (for "frozen") freeze the start-up heap, then churn: ``--rounds`` small request-like
object graphs, ``--keep`` of them kept for good (caches, sessions, pools grow). Every collection
is timed through ``gc.callbacks``; printed per mode: collections of the oldest generation, their
longest and total pause, and the longest pause of any collection. Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(frozen: bool, rounds: int, keep: float) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DUET_VAR_DIR", tempfile.mkdtemp(prefix="duet-bench-gc-"))
    import aiortc  # noqa: F401  (what a media process holds)
    import av  # noqa: F401

    from bench.server_env import bench_secrets
    from marketplace.app import create_app
    from marketplace.heap import freeze_startup_heap
    from marketplace.settings import Settings

    # The app is built, never served: nothing connects to this address.
    url = "postgresql+asyncpg://duet@127.0.0.1:1/never-connected"
    app = create_app(
        Settings.from_env(
            {"DUET_VAR_DIR": os.environ["DUET_VAR_DIR"], "DATABASE_URL": url, **bench_secrets()}
        )
    )
    frozen_count = freeze_startup_heap() if frozen else 0
    pauses: list[tuple[int, float]] = []
    started: list[float] = []

    def timer(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        else:
            pauses.append((info["generation"], time.perf_counter() - started.pop()))

    gc.callbacks.append(timer)
    kept = []
    every = max(1, round(1 / keep)) if keep > 0 else 0
    began = time.perf_counter()
    for i in range(rounds):
        graph = {"headers": [("a", str(i)), ("b", "x")], "body": {"id": i, "tags": [i, i + 1]}}
        graph["self"] = graph  # a cycle, as request objects often hold
        if every and i % every == 0:
            kept.append(graph)
    elapsed = time.perf_counter() - began
    gc.callbacks.remove(timer)
    del app  # alive through the churn, as a server's app is
    oldest = [p for g, p in pauses if g == 2]
    return {
        "frozen_objects": frozen_count,
        "full_collections": len(oldest),
        "full_max_ms": max(oldest, default=0) * 1000,
        "full_total_ms": sum(oldest) * 1000,
        "any_max_ms": max((p for _, p in pauses), default=0) * 1000,
        "collections": len(pauses),
        "churn_s": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1_000_000)
    parser.add_argument("--keep", type=float, default=0.02, help="share of graphs kept for good")
    parser.add_argument("--mode", choices=["as-is", "frozen"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(measure(args.mode == "frozen", args.rounds, args.keep)))
        return
    print(
        f"{args.rounds:,} request-like graphs, {args.keep:.0%} kept; each mode in a fresh process"
    )
    print(
        f"  {'mode':>7} {'frozen':>8} {'full GCs':>8} {'longest':>9} {'total':>9} "
        f"{'any GC longest':>14} {'churn':>7}"
    )
    for mode in ("as-is", "frozen"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--mode",
                mode,
                "--rounds",
                str(args.rounds),
                "--keep",
                str(args.keep),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"  {mode:>7} {r['frozen_objects']:8,} {r['full_collections']:8d} "
            f"{r['full_max_ms']:7.1f}ms {r['full_total_ms']:7.1f}ms {r['any_max_ms']:12.1f}ms "
            f"{r['churn_s']:6.2f}s"
        )


if __name__ == "__main__":
    main()
