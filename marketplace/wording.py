"""Counted nouns and spans of time in plain English, one place for every page and message.

``plural(1, "busy time")`` is "1 busy time", ``plural(3, "busy time")`` "3 busy times";
irregular nouns pass their plural (``plural(2, "person", "people")``). Durations read the way a
person says them: "45 minutes", "2 hours", "1 hour 30 minutes", "3 days".
"""

from __future__ import annotations

from datetime import timedelta

_WORDS = {0: "no", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}
_WORDS |= {8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}


def noun(count: int, singular: str, plural_form: str | None = None) -> str:
    """The noun alone, in the form ``count`` takes."""
    if count == 1:
        return singular
    if plural_form is not None:
        return plural_form
    if singular.endswith(("s", "x", "z", "ch", "sh")):
        return singular + "es"
    if singular.endswith("y") and singular[-2:-1] not in ("a", "e", "i", "o", "u"):
        return singular[:-1] + "ies"
    return singular + "s"


def plural(
    count: int, singular: str, plural_form: str | None = None, *, words: bool = False
) -> str:
    """``count`` and its noun: "1 busy time", "2 busy times"; with ``words``, "four steps"."""
    number = _WORDS.get(count, str(count)) if words else str(count)
    return f"{number} {noun(count, singular, plural_form)}"


def minutes_words(minutes: int) -> str:
    """45 → "45 minutes", 60 → "1 hour", 90 → "1 hour 30 minutes", 2880 → "2 days"."""
    minutes = max(0, int(minutes))
    if minutes and minutes % (24 * 60) == 0:
        return plural(minutes // (24 * 60), "day")
    hours, rest = divmod(minutes, 60)
    if not hours:
        return plural(rest, "minute")
    if not rest:
        return plural(hours, "hour")
    return f"{plural(hours, 'hour')} {plural(rest, 'minute')}"


def time_left(delta: timedelta) -> str:
    """How long until something starts, rounded the way a reminder should say it.

    Under a minute is "less than a minute"; under two hours is counted in minutes rounded to
    five (exact below ten) and said as hours and minutes; beyond that in whole hours, then days.
    """
    seconds = delta.total_seconds()
    if seconds < 60:
        return "less than a minute"
    minutes = int(seconds // 60)
    if minutes < 10:
        return plural(minutes, "minute")
    if minutes < 120:
        return minutes_words(5 * round(minutes / 5))
    hours = round(minutes / 60)
    if hours < 48:
        return plural(hours, "hour")
    return plural(round(hours / 24), "day")


def notice_words(minutes: int) -> str:
    """The possessive a notice period takes: "2 hours' notice", "1 hour's notice"."""
    text = minutes_words(minutes)
    return text + ("' notice" if text.endswith("s") else "'s notice")
