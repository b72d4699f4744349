"""Small server-side SVG charts: PURE, no JavaScript, black and grey so they print well.

Every text is escaped; the result is a standalone `<svg>` element to inline in a page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Bar", "Series", "funnel_svg", "nice_ceiling", "time_series_svg"]

FONT = "font-family='Helvetica, Arial, sans-serif' font-size='12'"
INK = "#000000"
GREYS = ("#222222", "#555555", "#888888", "#aaaaaa", "#cccccc")  # darkest first
DASHES = ("", "6 3", "2 3", "8 3 2 3")  # solid, dashed, dotted, dash-dot: tell lines apart in print


@dataclass(frozen=True)
class Series:
    """One line of a time series: a label and one value per x label."""

    label: str
    values: Sequence[int]


@dataclass(frozen=True)
class Bar:
    label: str
    value: int


def nice_ceiling(value: float) -> int:
    """The axis maximum: 1, 2 or 5 times a power of ten, at least `value` (and at least 1).

    >>> nice_ceiling(7), nice_ceiling(12), nice_ceiling(0)
    (10, 20, 1)
    """
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return int(step * power)
    return int(10 * power)  # pragma: no cover


def time_series_svg(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    y_label: str = "count per day",
    x_label: str = "day",
    width: int = 720,
    height: int = 300,
) -> str:
    """A line chart with labelled axes, one dash style per series, and a legend."""
    left, right, top, bottom = 56, 16, 36, 72
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_ceiling(max((v for s in series for v in s.values), default=0))
    n = len(x_labels)

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n if n else 0)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / top_value

    parts = [_open(width, height, title), _title(title, width)]
    parts += _y_axis(left, top, plot_w, plot_h, top_value, y_label)
    parts.append(_line(left, top + plot_h, left + plot_w, top + plot_h))
    every = max(1, math.ceil(n / 12))  # at most ~12 day labels
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == n - 1:
            parts.append(_line(x(i), top + plot_h, x(i), top + plot_h + 4))
            parts.append(
                f"<text x='{x(i):.1f}' y='{top + plot_h + 16}' text-anchor='middle' {FONT}>"
                f"{escape(label[5:] if len(label) == 10 else label)}</text>"
            )
    parts.append(
        f"<text x='{left + plot_w / 2:.1f}' y='{top + plot_h + 34}' text-anchor='middle' {FONT}>"
        f"{escape(x_label)}</text>"
    )
    for k, s in enumerate(series):
        dash = DASHES[k % len(DASHES)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        dash_attr = f" stroke-dasharray='{dash}'" if dash else ""
        parts.append(
            f"<polyline points='{points}' fill='none' stroke='{INK}' stroke-width='2'{dash_attr}>"
            f"<title>{escape(s.label)}</title></polyline>"
        )
        for i, v in enumerate(s.values):
            parts.append(_marker(k, x(i), y(v), f"{x_labels[i]}: {v} {s.label}"))
        legend_x = left + k * 150
        legend_y = height - 14
        parts.append(
            f"<line x1='{legend_x}' y1='{legend_y - 4}' x2='{legend_x + 28}' y2='{legend_y - 4}'"
            f" stroke='{INK}' stroke-width='2'{dash_attr}/>"
        )
        parts.append(_marker(k, legend_x + 14, legend_y - 4, s.label))
        parts.append(f"<text x='{legend_x + 34}' y='{legend_y}' {FONT}>{escape(s.label)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def funnel_svg(
    title: str,
    groups: Sequence[tuple[str, Sequence[Bar]]],
    x_label: str = "contacts",
    width: int = 720,
    log: bool = False,
) -> str:
    """Horizontal bars, one group per step (sent, delivered, opened...), values printed at the end
    with their share of the group's first bar. `log`: a log10 axis, so 20 clicks stay visible
    next to 19,623 sent."""
    left, right, top = 150, 56, 36
    bar_h, gap = 16, 14
    rows = sum(len(bars) for _, bars in groups)
    plot_w = width - left - right
    plot_h = rows * bar_h + len(groups) * (gap + 18)
    height = top + plot_h + 44
    top_value = nice_ceiling(max((b.value for _, bars in groups for b in bars), default=0))
    if log:
        top_value = 10 ** max(1, math.ceil(math.log10(top_value)))

    def scaled(value: float) -> float:
        if log:
            return plot_w * math.log10(1 + value) / math.log10(1 + top_value)
        return plot_w * value / top_value

    parts = [_open(width, height, title), _title(title, width)]
    y = top
    for name, bars in groups:
        parts.append(f"<text x='8' y='{y + 13}' font-weight='bold' {FONT}>{escape(name)}</text>")
        y += 18
        for k, bar in enumerate(bars):
            length = scaled(bar.value)
            first = bars[0].value
            share = f" ({100 * bar.value / first:.1f}%)" if k and first else ""
            shade = GREYS[k % len(GREYS)]
            parts.append(
                f"<text x='{left - 6}' y='{y + 12}' text-anchor='end' {FONT}>"
                f"{escape(bar.label)}</text>"
            )
            parts.append(
                f"<rect x='{left}' y='{y}' width='{length:.1f}' height='{bar_h - 2}' fill='{shade}'"
                f" stroke='{INK}' stroke-width='0.5'><title>{escape(name)}: {bar.value} "
                f"{escape(bar.label)}</title></rect>"
            )
            parts.append(
                f"<text x='{left + length + 4:.1f}' y='{y + 12}' {FONT}>{bar.value}{share}</text>"
            )
            y += bar_h
        y += gap
    axis_y = top + plot_h
    parts.append(_line(left, top, left, axis_y))
    parts.append(_line(left, axis_y, left + plot_w, axis_y))
    ticks = round(math.log10(top_value)) if log else _ticks(top_value)
    for t in range(ticks + 1):
        value = (10**t if t else 0) if log else top_value * t / ticks
        tx = left + scaled(value)
        label = f"{value:g}" if value == int(value) else f"{value:.1f}"
        parts.append(_line(tx, axis_y, tx, axis_y + 4))
        parts.append(
            f"<text x='{tx:.1f}' y='{axis_y + 16}' text-anchor='middle' {FONT}>{label}</text>"
        )
    parts.append(
        f"<text x='{left + plot_w / 2:.1f}' y='{axis_y + 34}' text-anchor='middle' {FONT}>"
        f"{escape(x_label)}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int, title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}'"
        f" height='{height}' role='img' aria-label='{escape(title)}'>"
        f"<rect width='{width}' height='{height}' fill='#ffffff'/>"
    )


def _title(title: str, width: int) -> str:
    return (
        f"<text x='{width / 2:.1f}' y='20' text-anchor='middle' font-weight='bold'"
        f" {FONT}>{escape(title)}</text>"
    )


def _y_axis(left: int, top: int, plot_w: int, plot_h: int, top_value: int, label: str) -> list[str]:
    parts = [_line(left, top, left, top + plot_h)]
    ticks = _ticks(top_value)
    for t in range(ticks + 1):
        value = top_value * t / ticks
        ty = top + plot_h - plot_h * t / ticks
        parts.append(_line(left - 4, ty, left, ty))
        if t:
            parts.append(
                f"<line x1='{left}' y1='{ty:.1f}' x2='{left + plot_w}' y2='{ty:.1f}'"
                " stroke='#dddddd' stroke-width='1'/>"
            )
        text = f"{value:g}" if value == int(value) else f"{value:.1f}"
        parts.append(
            f"<text x='{left - 8}' y='{ty + 4:.1f}' text-anchor='end' {FONT}>{text}</text>"
        )
    mid = top + plot_h / 2
    parts.append(
        f"<text x='14' y='{mid:.1f}' text-anchor='middle' transform='rotate(-90 14 {mid:.1f})'"
        f" {FONT}>{escape(label)}</text>"
    )
    return parts


def _ticks(top_value: int) -> int:
    """How many intervals the axis gets so every tick is a whole number (top is 1, 2 or 5 x 10^k)."""
    if top_value <= 5:
        return top_value
    return 5 if top_value % 5 == 0 else 4


def _line(x1: float, y1: float, x2: float, y2: float) -> str:
    return (
        f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}'"
        f" stroke='{INK}' stroke-width='1'/>"
    )


def _marker(k: int, cx: float, cy: float, label: str) -> str:
    """Circle, square, triangle, diamond: series stay distinct without colour."""
    shape = k % 4
    tip = f"<title>{escape(label)}</title>"
    if shape == 0:
        return f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='3.5' fill='{INK}'>{tip}</circle>"
    if shape == 1:
        return (
            f"<rect x='{cx - 3.5:.1f}' y='{cy - 3.5:.1f}' width='7' height='7' fill='#ffffff'"
            f" stroke='{INK}' stroke-width='1.5'>{tip}</rect>"
        )
    d = (
        f"M{cx:.1f},{cy - 4.5:.1f} L{cx + 4.5:.1f},{cy + 3.5:.1f} L{cx - 4.5:.1f},{cy + 3.5:.1f} Z"
        if shape == 2
        else f"M{cx:.1f},{cy - 4.5:.1f} L{cx + 4.5:.1f},{cy:.1f} L{cx:.1f},{cy + 4.5:.1f}"
        f" L{cx - 4.5:.1f},{cy:.1f} Z"
    )
    return f"<path d='{d}' fill='#888888' stroke='{INK}' stroke-width='1'>{tip}</path>"
