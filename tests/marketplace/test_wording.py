"""The shared wording: money, counted nouns, spans of time and field labels."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.errors import ValidationFailed
from marketplace.labels import correction_message, field_label
from marketplace.money import format_money
from marketplace.wording import minutes_words, notice_words, plural, time_left


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (2933, "EUR", "€29.33"),
        (2900, "EUR", "€29"),
        (5, "EUR", "€0.05"),
        (123456, "EUR", "€1,234.56"),
        (-250, "EUR", "-€2.50"),
        (1000, "JPY", "¥1,000"),
        (12345, "KWD", "12.345 KWD"),
        (999, "chf", "9.99 CHF"),
        (0, "USD", "$0"),
    ],
)
def test_money_reads_in_its_currency(minor: int, currency: str, shown: str) -> None:
    assert format_money(minor, currency) == shown


@pytest.mark.parametrize(
    ("count", "noun", "shown"),
    [
        (1, "busy time", "1 busy time"),
        (0, "busy time", "0 busy times"),
        (2, "busy time", "2 busy times"),
        (1, "class", "1 class"),
        (3, "class", "3 classes"),
        (2, "reply", "2 replies"),
        (2, "day", "2 days"),
        (21, "review", "21 reviews"),
    ],
)
def test_plural_agrees_with_the_count(count: int, noun: str, shown: str) -> None:
    assert plural(count, noun) == shown


def test_plural_irregular_and_in_words() -> None:
    assert plural(2, "person", "people") == "2 people"
    assert plural(1, "person", "people") == "1 person"
    assert plural(4, "step", words=True) == "four steps"
    assert plural(1, "step", words=True) == "one step"
    assert plural(40, "step", words=True) == "40 steps"


def test_durations_and_notice() -> None:
    assert minutes_words(45) == "45 minutes"
    assert minutes_words(60) == "1 hour"
    assert minutes_words(90) == "1 hour 30 minutes"
    assert minutes_words(1) == "1 minute"
    assert minutes_words(2880) == "2 days"
    assert notice_words(120) == "2 hours' notice"
    assert notice_words(60) == "1 hour's notice"
    assert notice_words(30) == "30 minutes' notice"


@pytest.mark.parametrize(
    ("left", "said"),
    [
        (timedelta(seconds=20), "less than a minute"),
        (timedelta(minutes=1, seconds=10), "1 minute"),
        (timedelta(minutes=4), "4 minutes"),
        (timedelta(minutes=58), "1 hour"),
        (timedelta(minutes=42), "40 minutes"),
        (timedelta(minutes=95), "1 hour 35 minutes"),
        (timedelta(hours=23, minutes=40), "24 hours"),
        (timedelta(days=3, hours=1), "3 days"),
    ],
)
def test_time_left_is_the_real_time(left: timedelta, said: str) -> None:
    assert time_left(left) == said


def test_field_names_read_as_labels() -> None:
    assert field_label("amount_minor") == "Amount"
    assert field_label("first_day") == "First day"
    assert field_label("city_geoname_id") == "City"
    assert field_label("some_new_field") == "Some new field"


def test_validation_messages_never_show_identifiers() -> None:
    one = ValidationFailed({"amount_minor": "At most €80 can still be refunded."})
    assert one.message == "At most €80 can still be refunded."
    raw = ValidationFailed({"amount_minor": "expected an integer"})
    assert raw.message == "Amount: expected an integer."
    many = ValidationFailed({"amount_minor": "Too much.", "first_day": "Choose a day."})
    assert many.message == "Please check amount and first day."
    assert "_" not in correction_message({"price_minor": "", "booking_id": ""})
