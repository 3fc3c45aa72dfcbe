"""Availability, slots, holds and the booking lifecycle (see docs/architecture.md)."""
