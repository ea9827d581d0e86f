"""Charts drawn on the server as inline SVG: columns (grouped or stacked), lines, bar lists.

The consoles work with no internet and no JavaScript library, so a chart is markup the page
carries. Pure: numbers in, a string of SVG out, every text escaped. Colours come from CSS
classes (``series-0``…), so the stylesheet and the content-security policy stay in charge; each
mark carries a ``<title>`` (the browser's tooltip) with the exact figure as the caller formats it.
Pixel positions are floats; the figures shown are the caller's exact ones (``fmt``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

Number = Decimal | int
Format = Callable[[Number], str]

LEFT, RIGHT, TOP, BOTTOM = 64, 12, 28, 44
"""Margins around the plot: the value axis on the left, category labels below."""


@dataclass(frozen=True, slots=True)
class Series:
    """One named row of figures, one per category."""

    name: str
    values: Sequence[Number]


def plain(value: Number) -> str:
    """The default figure format: thousands separated, money with two decimals."""
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}"


def nice_ceiling(top: float) -> tuple[float, float]:
    """A round upper bound at or above ``top`` and a round step dividing it into 4–5 lines."""
    if top <= 0:
        return 1.0, 0.25
    magnitude = 10 ** math.floor(math.log10(top / 4))
    for multiple in (1, 2, 2.5, 5, 10):
        step = multiple * magnitude
        if step * 5 >= top:
            return step * math.ceil(top / step), step
    return top, top / 4  # unreachable: 10 × magnitude × 5 covers top


def _short(value: float) -> str:
    """An axis figure: 1,200 → 1.2k, 3,000,000 → 3M."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if value % 1 else f"{value:.0f}"


def _open(width: int, height: int, title: str) -> list[str]:
    label = escape(title)
    return [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">',
        f'<text class="chart-title" x="{LEFT}" y="16">{label}</text>',
    ]


def _axis(width: int, height: int, ceiling: float, step: float) -> list[str]:
    """Horizontal grid lines with their values, bottom to top."""
    plot = height - TOP - BOTTOM
    parts = []
    lines = round(ceiling / step)
    for i in range(lines + 1):
        y = height - BOTTOM - plot * i / lines
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_short(step * i))}</text>"
        )
    return parts


def _category_labels(width: int, height: int, categories: Sequence[str]) -> list[str]:
    """Category names under the plot, thinned so they do not overlap (about 7 px a character)."""
    if not categories:
        return []
    slot = (width - LEFT - RIGHT) / len(categories)
    longest = max(len(c) for c in categories) * 7 + 8
    every = max(1, math.ceil(longest / slot))
    parts = []
    for i, name in enumerate(categories):
        if i % every:
            continue
        x = LEFT + slot * (i + 0.5)
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{height - BOTTOM + 16}" text-anchor="middle">'
            f"{escape(name)}</text>"
        )
    return parts


def _legend(width: int, height: int, series: Sequence[Series]) -> list[str]:
    if len(series) < 2:
        return []
    parts, x = [], float(LEFT)
    for i, s in enumerate(series):
        parts.append(
            f'<rect class="series-{i}" x="{x:.1f}" y="{height - 14}" width="10" height="10"/>'
        )
        parts.append(
            f'<text class="legend" x="{x + 14:.1f}" y="{height - 5}">{escape(s.name)}</text>'
        )
        x += 14 + 7 * len(s.name) + 18
    return parts


def _empty(width: int, height: int, title: str, message: str) -> str:
    parts = _open(width, height, title)
    parts.append(
        f'<text class="empty" x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle">'
        f"{escape(message)}</text></svg>"
    )
    return "".join(parts)


def column_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    stacked: bool = False,
    fmt: Format = plain,
    width: int = 760,
    height: int = 260,
    empty: str = "no data",
) -> str:
    """Vertical columns, one group (or stack) per category, one colour per series."""
    totals = [
        sum((float(s.values[i]) for s in series), 0.0)
        if stacked
        else max((float(s.values[i]) for s in series), default=0.0)
        for i in range(len(categories))
    ]
    if not categories or max(totals, default=0.0) <= 0:
        return _empty(width, height, title, empty)
    ceiling, step = nice_ceiling(max(totals))
    plot = height - TOP - BOTTOM
    slot = (width - LEFT - RIGHT) / len(categories)
    bars = 1 if stacked else len(series)
    bar = max(1.0, slot * 0.8 / bars)
    parts = [*_open(width, height, title), *_axis(width, height, ceiling, step)]
    for i, category in enumerate(categories):
        base = float(height - BOTTOM)
        for j, s in enumerate(series):
            value = s.values[i]
            tall = plot * max(0.0, float(value)) / ceiling
            x = LEFT + slot * i + slot * 0.1 + (0 if stacked else bar * j)
            y = base - tall
            tip = escape(f"{category} · {s.name}: {fmt(value)}")
            parts.append(
                f'<rect class="series-{j}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{tall:.1f}"><title>{tip}</title></rect>'
            )
            if stacked:
                base = y
    parts += _category_labels(width, height, categories)
    parts += _legend(width, height, series)
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    fmt: Format = plain,
    width: int = 760,
    height: int = 260,
    empty: str = "no data",
) -> str:
    """One polyline per series over the categories (e.g. cumulated payouts over the year)."""
    top = max((float(v) for s in series for v in s.values), default=0.0)
    if not categories or top <= 0:
        return _empty(width, height, title, empty)
    ceiling, step = nice_ceiling(top)
    plot = height - TOP - BOTTOM
    slot = (width - LEFT - RIGHT) / len(categories)
    parts = [*_open(width, height, title), *_axis(width, height, ceiling, step)]
    for j, s in enumerate(series):
        points = [
            (LEFT + slot * (i + 0.5), height - BOTTOM - plot * max(0.0, float(v)) / ceiling)
            for i, v in enumerate(s.values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline class="line series-{j}" points="{path}"/>')
        if s.values:
            x, y = points[-1]
            tip = escape(f"{categories[-1]} · {s.name}: {fmt(s.values[-1])}")
            parts.append(
                f'<circle class="series-{j}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                f"<title>{tip}</title></circle>"
            )
    parts += _category_labels(width, height, categories)
    parts += _legend(width, height, series)
    parts.append("</svg>")
    return "".join(parts)


def bar_list(
    rows: Sequence[tuple[str, Number]],
    *,
    title: str,
    fmt: Format = plain,
    width: int = 760,
    empty: str = "no data",
) -> str:
    """Horizontal bars, one a row, the figure written at the end of each (per hospital, code…)."""
    height = TOP + 22 * max(1, len(rows)) + 8
    top = max((float(v) for _, v in rows), default=0.0)
    if not rows or top <= 0:
        return _empty(width, max(height, 80), title, empty)
    label_width, figure_width = 200, 110
    span = width - label_width - figure_width - RIGHT
    parts = _open(width, height, title)
    for i, (name, value) in enumerate(rows):
        y = TOP + 22 * i
        long = span * max(0.0, float(value)) / top
        text = escape(name if len(name) <= 28 else name[:27] + "…")
        parts.append(
            f'<text class="tick" x="{label_width - 8}" y="{y + 14}" text-anchor="end">{text}</text>'
        )
        parts.append(
            f'<rect class="series-0" x="{label_width}" y="{y + 3}" width="{long:.1f}" height="15">'
            f"<title>{escape(f'{name}: {fmt(value)}')}</title></rect>"
        )
        parts.append(
            f'<text class="figure" x="{label_width + long + 6:.1f}" y="{y + 14}">'
            f"{escape(fmt(value))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
