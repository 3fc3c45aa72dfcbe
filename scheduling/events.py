"""Scheduling's own domain events (the booking lifecycle's ``BookingTransitioned`` lives with
the lifecycle in ``scheduling.lifecycle``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AvailabilityChanged:
    """What a tutor offers changed: weekly hours, booking rules, a date override, time off, or
    the busy times of an imported calendar. Published after the commit (``uow.emit``); search
    re-reads the tutor's open slots."""

    tutor_id: int
