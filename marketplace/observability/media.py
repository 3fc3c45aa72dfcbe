"""What the lesson room reports to the metrics: rooms open and packets forwarded.

Kept apart so the media code calls three small functions and knows nothing of Prometheus."""

from __future__ import annotations

from typing import Any

from marketplace.observability.metrics import metrics


def room_opened() -> None:
    metrics().rooms_open.inc()


def room_closed() -> None:
    metrics().rooms_open.dec()


def packet_counter(kind: str) -> Any:
    """The counter of forwarded ``kind`` (audio, video) packets: ``.inc()`` per packet. Bound
    once per track, so the hot path does no label lookup."""
    return metrics().packets_forwarded.labels(kind)
