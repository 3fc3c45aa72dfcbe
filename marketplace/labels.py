"""What a form field is called on the page, for messages that name fields.

Services report problems by field name (``amount_minor``, ``starts_at``) because the JSON API
and the forms share them; people read labels ("Amount", "Start time"). Names not listed here
read as words ("first_day" → "First day"), so a new field never shows an identifier.
"""

from __future__ import annotations

from collections.abc import Iterable

FIELD_LABELS = {
    "amount": "Amount",
    "amount_minor": "Amount",
    "price_minor": "Price",
    "trial_price_minor": "Trial lesson price",
    "price_max": "Highest price",
    "starts_at": "Time",
    "ends_at": "End",
    "duration_minutes": "Lesson length",
    "first_day": "First day",
    "last_day": "Last day",
    "url": "Calendar address",
    "file": "Calendar file",
    "time_zone": "Time zone",
    "display_name": "Public name",
    "city_geoname_id": "City",
    "lat": "Latitude",
    "lng": "Longitude",
    "near": "Near",
    "radius_km": "Distance",
    "travel_radius_km": "Travel distance",
    "rating_min": "Lowest rating",
    "q": "Search",
    "current_password": "Current password",
    "new_password": "New password",
    "email": "E-mail",
    "buffer_before_minutes": "Break before lessons",
    "buffer_after_minutes": "Break after lessons",
    "min_notice_minutes": "Minimum notice",
    "booking_window_days": "Booking window",
    "max_lessons_per_day": "Lessons per day",
    "slot_granularity_minutes": "Start times every",
    "free_cancel_hours": "Free cancellation until",
    "late_cancel_refund_percent": "Late cancellation refund",
    "free_within_days": "Refundable for",
    "pass_percent": "Pass mark",
    "time_limit_minutes": "Time limit",
    "max_attempts": "Attempts allowed",
    "due_on": "Due date",
    "practiced_on": "Practice date",
    "attachment_ids": "Attachments",
    "booking_id": "Lesson",
    "payment_id": "Payment",
    "body": "Form",
    "data": "Form",
    "form": "Form",
}


def field_label(name: str) -> str:
    """``"amount_minor"`` → ``"Amount"``; unknown names read as words."""
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    words = name.removesuffix("_minor").removesuffix("_id").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "Form"


def correction_message(fields: dict[str, str]) -> str:
    """The headline of a failed form: the one problem itself, or the fields to look at."""
    if len(fields) == 1:
        ((name, problem),) = fields.items()
        problem = problem.strip().rstrip(".")
        if problem[:1].isupper():  # already a sentence written for people
            return problem + "."
        return f"{field_label(name)}: {problem}." if problem else f"Check {field_label(name)}."
    return f"Please check {_and(field_label(n).lower() for n in sorted(fields))}."


def _and(items: Iterable[str]) -> str:
    seen = list(dict.fromkeys(items))
    return seen[0] if len(seen) == 1 else ", ".join(seen[:-1]) + " and " + seen[-1]
