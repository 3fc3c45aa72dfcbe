"""Figures → charts (``marketplace.charts``), money formatted by ``marketplace.money``."""

from __future__ import annotations

from functools import partial

from markupsafe import Markup

from dashboards.figures import MarketplaceFigures, TutorFigures
from marketplace.charts import Format, Series, bar_chart, line_chart
from marketplace.money import format_money


def money_format(currency: str) -> Format:
    return lambda minor: format_money(int(minor), currency)


def _percent(value: float) -> str:
    return f"{value:g}%"


def tutor_charts(f: TutorFigures) -> dict[str, Markup]:
    labels = f.months.labels
    bar = partial(bar_chart, axis_labels=f.months.axis_labels)
    return {
        "earnings": bar(
            "Earnings by month",
            labels,
            f.earnings_minor,
            fmt=money_format(f.currency),
            name="Earned",
        ),
        "lessons": bar("Lessons taught by month", labels, f.lessons, name="Lessons"),
        "courses": line_chart(
            "Course enrolments and completions by month",
            labels,
            [Series("Enrolments", f.enrolments), Series("Completions", f.completions)],
            integer=True,
            axis_labels=f.months.axis_labels,
        ),
    }


def marketplace_charts(f: MarketplaceFigures) -> dict[str, Markup]:
    labels = f.months.labels
    money = money_format(f.currency)
    bar = partial(bar_chart, axis_labels=f.months.axis_labels)
    return {
        "bookings": bar("Paid lesson bookings by month", labels, f.bookings, name="Bookings"),
        "gross": bar(
            "Gross volume by month", labels, f.gross_minor, fmt=money, name="Gross volume"
        ),
        "take": bar("Take (platform fees) by month", labels, f.take_minor, fmt=money, name="Take"),
        "refunds": bar("Refunds by month", labels, f.refunds_minor, fmt=money, name="Refunded"),
        "tutors": bar(
            "New tutors approved by month", labels, f.tutors_approved, name="Tutors approved"
        ),
        "conversion": line_chart(
            "Search-to-booking conversion by month",
            labels,
            [Series("Bookings per 100 searches", f.conversion_percent)],
            fmt=_percent,
            axis_labels=f.months.axis_labels,
        ),
    }
