"""The SVG chart module: scales, geometry, empty and single-point data, negatives, escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from marketplace.charts import HEIGHT, Series, bar_chart, line_chart, nice_ticks
from marketplace.money import format_money

SVG = "{http://www.w3.org/2000/svg}"


def _svg(markup: str) -> ET.Element:
    found = re.search(r"<svg.*</svg>", str(markup), re.S)
    assert found, markup
    return ET.fromstring(found.group(0))  # noqa: S314 (our own output; well-formed or it raises)


def _bars(markup: str) -> list[ET.Element]:
    return [r for r in _svg(markup).iter(f"{SVG}rect") if "chart-bar" in r.get("class", "")]


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0, 0, [0, 0.25, 0.5, 0.75, 1]),
        (0, 7, [0, 2, 4, 6, 8]),
        (0, 100, [0, 25, 50, 75, 100]),
        (0, 123_456, [0, 50_000, 100_000, 150_000]),
        (-3_000, 12_000, [-5_000, 0, 5_000, 10_000, 15_000]),
        (-40, -10, [-40, -30, -20, -10, 0]),
        (0, 0.37, [0, 0.1, 0.2, 0.3, 0.4]),
    ],
)
def test_ticks_are_round_and_cover_the_data_and_zero(
    low: float, high: float, ticks: list[float]
) -> None:
    assert nice_ticks(low, high) == ticks


def test_integer_ticks_have_no_half_steps() -> None:
    assert nice_ticks(0, 0, integer=True) == [0, 1]
    assert nice_ticks(0, 3, integer=True) == [0, 1, 2, 3]
    assert all(float(t).is_integer() for t in nice_ticks(0, 10, integer=True))


def test_bars_are_scaled_to_the_axis() -> None:
    chart = bar_chart("Lessons", ["Jan", "Feb", "Mar"], [2, 4, 0])
    bars = _bars(chart)
    assert len(bars) == 3
    heights = [float(b.get("height", "")) for b in bars]
    assert heights[1] == pytest.approx(2 * heights[0]) and heights[2] == 0
    # Bars stand on the zero line: bottom edges are equal.
    bottoms = {round(float(b.get("y", "")) + float(b.get("height", "")), 1) for b in bars[:2]}
    assert len(bottoms) == 1
    ticks = [t.text for t in _svg(chart).iter(f"{SVG}text") if t.get("class") == "chart-tick"]
    assert ticks == ["0", "1", "2", "3", "4"]
    labels = [t.text for t in _svg(chart).iter(f"{SVG}text") if t.get("class") == "chart-label"]
    assert labels == ["Jan", "Feb", "Mar"]


def test_a_chart_is_named_for_screen_readers_and_has_its_numbers_in_a_table() -> None:
    chart = str(bar_chart("Earnings", ["Jan", "Feb"], [1500, 4500], fmt=lambda v: f"€{v:g}"))
    svg = _svg(chart)
    assert svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None and title.text == "Earnings"
    assert desc is not None and "highest €4500 in Feb" in (desc.text or "")
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert [b.find(f"{SVG}title").text for b in _bars(chart)] == ["Jan: €1500", "Feb: €4500"]  # type: ignore[union-attr]
    assert "<table>" in chart and '<th scope="row">Feb</th><td class="amount">€4500</td>' in chart
    assert "style=" not in chart


def test_negative_values_hang_below_zero() -> None:
    refunds = [0, -1000, -250]
    chart = bar_chart(
        "Refunds", ["A", "B", "C"], refunds, fmt=lambda v: format_money(int(v), "EUR")
    )
    bars = _bars(chart)
    assert [b.get("class") for b in bars] == [
        "chart-bar",
        "chart-bar negative",
        "chart-bar negative",
    ]
    zero = next(
        line for line in _svg(chart).iter(f"{SVG}line") if "chart-zero" in line.get("class", "")
    )
    zero_y = float(zero.get("y1", ""))
    assert float(bars[1].get("y", "")) == pytest.approx(zero_y)  # hangs from the zero line
    assert float(bars[1].get("height", "")) == pytest.approx(4 * float(bars[2].get("height", "")))
    assert zero_y < HEIGHT - 40  # zero is not the bottom of the plot
    assert "-€10" in str(chart)


def test_empty_data_says_so_instead_of_drawing() -> None:
    for chart in (bar_chart("Nothing", [], []), line_chart("Nothing", [], [])):
        assert "<svg" not in chart and "No data for this period." in chart


def test_all_zero_months_still_draw_an_axis_and_zero_height_bars() -> None:
    chart = bar_chart("Quiet", ["Jan", "Feb"], [0, 0])
    assert [float(b.get("height", "")) for b in _bars(chart)] == [0, 0]


def test_a_single_point_is_a_dot_not_a_line() -> None:
    chart = line_chart("Conversion", ["Jan"], [Series("Rate", [12.5])], fmt=lambda v: f"{v}%")
    svg = _svg(chart)
    assert len(list(svg.iter(f"{SVG}circle"))) == 1
    assert not list(svg.iter(f"{SVG}polyline"))
    assert "highest 12.5% in Jan" in (svg.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


def test_gaps_break_a_line_and_series_get_a_legend() -> None:
    chart = line_chart(
        "Courses",
        ["Jan", "Feb", "Mar", "Apr", "May"],
        [Series("Enrolments", [1, 2, None, 3, 4]), Series("Completions", [0, 1, 1, 1, 2])],
    )
    svg = _svg(chart)
    lines = [p for p in svg.iter(f"{SVG}polyline")]
    assert [p.get("class") for p in lines] == [
        "chart-line chart-s0",
        "chart-line chart-s0",
        "chart-line chart-s1",
    ]
    assert len(list(svg.iter(f"{SVG}circle"))) == 4 + 5
    assert 'class="chart-legend"' in chart and "Completions" in chart
    assert '<td class="amount">–</td>' in chart  # the gap reads as a dash in the table


def test_text_is_escaped() -> None:
    chart = bar_chart("<script>x</script>", ["<b>"], [1])
    assert "<script>" not in chart and "&lt;script&gt;" in chart
    _svg(chart)


def test_values_must_match_labels() -> None:
    with pytest.raises(ValueError):
        bar_chart("Bad", ["Jan", "Feb"], [1])
    with pytest.raises(ValueError):
        line_chart("Bad", ["Jan"], [Series("s", [1, 2])])


def test_axis_labels_may_be_shorter_and_take_two_lines() -> None:
    chart = bar_chart(
        "Lessons", ["December 2025", "January 2026"], [1, 2], axis_labels=["Dec\n2025", "Jan"]
    )
    labels = [t for t in _svg(chart).iter(f"{SVG}text") if t.get("class") == "chart-label"]
    assert [t.text for t in labels] == ["Dec", "Jan"]
    assert [s.text for s in labels[0].iter(f"{SVG}tspan")] == ["2025"]
    assert "December 2025: 1" in chart  # the tooltip and the table keep the full label
    with pytest.raises(ValueError):
        bar_chart("Bad", ["a", "b"], [1, 2], axis_labels=["a"])
