"""Small server-rendered SVG charts: bars and lines with axes, labels and a data table.

Every chart is an ``<svg role="img">`` named by its ``<title>`` and ``<desc>``, each mark has a
``<title>`` (a tooltip, read by screen readers), and the same numbers follow in a ``<table>``
inside ``<details>`` for anyone who prefers to read them. Colours and strokes come from classes
in ``duet.css`` (the Content-Security-Policy refuses ``style`` attributes); geometry uses SVG
presentation attributes. The output is ``Markup``: every text is escaped here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 260
_LEFT = 64  # room for the value labels
_RIGHT = 12
_TOP = 12
_BOTTOM = 46  # room for the category labels (two lines)
_ids = itertools.count(1)

Format = Callable[[float], str]


def _plain(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    """One per label; None is a gap (nothing to show, e.g. a rate over zero)."""


def nice_ticks(low: float, high: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Round tick values covering [low, high] and 0, about ``count`` of them.

    Steps are 1, 2, 2.5 or 5 times a power of ten, so the labels read well; ``integer`` keeps
    them whole (counts, and money in minor units, have no half steps).
    """
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    if integer:
        power = max(power, 1.0)
    steps = [m * power for m in (1, 2, 2.5, 5, 10)]
    step = next(s for s in steps if s >= raw and (not integer or float(s).is_integer()))
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    n = round((last - first) / step)
    return [_clean(first + i * step) for i in range(n + 1)]


def _clean(value: float) -> float:
    rounded = round(value, 10)
    return 0.0 if rounded == 0 else rounded


@dataclass(frozen=True)
class _Frame:
    ticks: list[float]
    count: int

    @property
    def plot_width(self) -> float:
        return WIDTH - _LEFT - _RIGHT

    @property
    def plot_height(self) -> float:
        return HEIGHT - _TOP - _BOTTOM

    def y(self, value: float) -> float:
        low, high = self.ticks[0], self.ticks[-1]
        return _TOP + (high - value) / (high - low) * self.plot_height

    def band(self) -> float:
        return self.plot_width / max(self.count, 1)

    def x_center(self, index: int) -> float:
        return _LEFT + (index + 0.5) * self.band()


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _axes(frame: _Frame, labels: Sequence[str], fmt: Format) -> list[str]:
    parts = ['<g class="chart-axes">']
    for tick in frame.ticks:
        y = _num(frame.y(tick))
        css = "chart-grid chart-zero" if tick == 0 else "chart-grid"
        parts.append(
            f'<line class="{css}" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y}" y2="{y}"/>'
            f'<text class="chart-tick" x="{_LEFT - 6}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(fmt(tick))}</text>'
        )
    for index, label in enumerate(labels):
        # A label may have a second line ("Jan\n2026"), as a tspan under the first.
        x = _num(frame.x_center(index))
        first, _, second = label.partition("\n")
        under = f'<tspan x="{x}" dy="1.15em">{escape(second)}</tspan>' if second else ""
        parts.append(
            f'<text class="chart-label" x="{x}" y="{HEIGHT - _BOTTOM + 16}" '
            f'text-anchor="middle">{escape(first)}{under}</text>'
        )
    parts.append("</g>")
    return parts


def _svg(kind: str, title: str, desc: str, body: list[str]) -> str:
    n = next(_ids)
    return (
        f'<svg class="chart chart-{kind}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-{n}-title chart-{n}-desc" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-{n}-title">{escape(title)}</title>'
        f'<desc id="chart-{n}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _table(title: str, labels: Sequence[str], series: Sequence[Series], fmt: Format) -> str:
    head = "".join(f'<th scope="col">{escape(s.name)}</th>' for s in series)
    rows = []
    for index, label in enumerate(labels):
        cells = "".join(
            f'<td class="amount">{escape(_show(s.values[index], fmt))}</td>' for s in series
        )
        rows.append(f'<tr><th scope="row">{escape(label)}</th>{cells}</tr>')
    return (
        f'<details class="chart-data"><summary>{escape(title)}: the numbers</summary>'
        f'<div class="table-scroll"><table><thead><tr><th scope="col"></th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></details>"
    )


def _show(value: float | None, fmt: Format) -> str:
    return "–" if value is None else fmt(value)


def _figure(kind: str, title: str, content: str) -> Markup:
    return Markup(  # noqa: S704 (every text inside was escaped above)
        f'<figure class="chart-figure chart-figure-{kind}">'
        f"<figcaption>{escape(title)}</figcaption>{content}</figure>"
    )


def _empty(kind: str, title: str) -> Markup:
    return _figure(kind, title, '<p class="chart-empty">No data for this period.</p>')


def _describe(labels: Sequence[str], series: Sequence[Series], fmt: Format) -> str:
    """The text alternative: the range shown and each series' total, lowest and highest."""
    parts = [f"{labels[0]} to {labels[-1]}." if len(labels) > 1 else f"{labels[0]}."]
    for s in series:
        known = [(v, labels[i]) for i, v in enumerate(s.values) if v is not None]
        if not known:
            parts.append(f"{s.name}: no values.")
            continue
        high = max(known, key=lambda pair: pair[0])
        low = min(known, key=lambda pair: pair[0])
        parts.append(
            f"{s.name}: highest {fmt(high[0])} in {high[1]}, lowest {fmt(low[0])} in {low[1]}."
        )
    return " ".join(parts)


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    fmt: Format = _plain,
    name: str | None = None,
    integer: bool = True,
    axis_labels: Sequence[str] | None = None,
) -> Markup:
    """One bar per label; negative values hang below the zero line (class ``negative``).

    ``labels`` name the categories in tooltips, the description and the table;
    ``axis_labels`` (default: the same) are what fits under the axis, such as "Jan\\n2026".
    """
    if len(values) != len(labels) or (axis_labels is not None and len(axis_labels) != len(labels)):
        raise ValueError("one value per label")
    if not labels:
        return _empty("bar", title)
    series = Series(name or title, list(values))
    frame = _Frame(nice_ticks(min(values), max(values), integer=integer), len(labels))
    width = frame.band() * 0.7
    zero = frame.y(0)
    body = _axes(frame, axis_labels or labels, fmt)
    body.append('<g class="chart-marks">')
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        top = frame.y(max(value, 0))
        height = abs(frame.y(value) - zero)
        css = "chart-bar negative" if value < 0 else "chart-bar"
        body.append(
            f'<rect class="{css}" x="{_num(frame.x_center(index) - width / 2)}" '
            f'y="{_num(top)}" width="{_num(width)}" height="{_num(height)}">'
            f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
        )
    body.append("</g>")
    svg = _svg("bar", title, _describe(labels, [series], fmt), body)
    return _figure("bar", title, svg + _table(title, labels, [series], fmt))


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    fmt: Format = _plain,
    integer: bool = False,
    axis_labels: Sequence[str] | None = None,
) -> Markup:
    """One line per series (classes ``chart-s0``, ``chart-s1``…), a dot per known value; a None
    breaks the line. With several series a legend names them. Labels as for ``bar_chart``."""
    if any(len(s.values) != len(labels) for s in series) or (
        axis_labels is not None and len(axis_labels) != len(labels)
    ):
        raise ValueError("one value per label in every series")
    known = [v for s in series for v in s.values if v is not None]
    if not labels or not series:
        return _empty("line", title)
    low, high = min(known, default=0), max(known, default=0)
    frame = _Frame(nice_ticks(low, high, integer=integer), len(labels))
    body = _axes(frame, axis_labels or labels, fmt)
    body.append('<g class="chart-marks">')
    for number, s in enumerate(series):
        runs: list[list[str]] = [[]]
        dots = []
        for index, value in enumerate(s.values):
            if value is None:
                runs.append([])
                continue
            x, y = _num(frame.x_center(index)), _num(frame.y(value))
            runs[-1].append(f"{x},{y}")
            dots.append(
                f'<circle class="chart-dot chart-s{number}" cx="{x}" cy="{y}" r="3.5">'
                f"<title>{escape(labels[index])}, {escape(s.name)}: {escape(fmt(value))}"
                "</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                body.append(
                    f'<polyline class="chart-line chart-s{number}" fill="none" '
                    f'points="{" ".join(run)}"/>'
                )
        body.extend(dots)
    body.append("</g>")
    svg = _svg("line", title, _describe(labels, series, fmt), body)
    legend = ""
    if len(series) > 1:
        legend = (
            '<ul class="chart-legend">'
            + "".join(
                f'<li><span class="chart-key chart-s{n}" aria-hidden="true"></span>'
                f"{escape(s.name)}</li>"
                for n, s in enumerate(series)
            )
            + "</ul>"
        )
    return _figure("line", title, svg + legend + _table(title, labels, series, fmt))
