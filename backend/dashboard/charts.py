"""Server-side SVG charts: bars (stacked or grouped), lines, horizontal bars.

Pure string building; every text goes through `escape`. Each chart is a
<figure> with an SVG that scales to its container (viewBox, no fixed size),
`role="img"` with a <title> and <desc>, a <title> on every bar and point (the
browser shows it on hover, no script needed), an HTML legend, and the same
numbers as a table under <details> for screen readers and copy-paste.
Colours come from CSS classes (s0..s5), so the page's stylesheet themes them
and the strict CSP (no inline styles) holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 60, 12, 14, 34
MAX_X_LABELS = 8
Formatter = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: no point on that label (lines only)
    dashed: bool = False


def compact(value: float) -> str:
    """1234 -> 1.2k; axis labels stay short at any scale."""
    magnitude = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}"
    if magnitude and magnitude < 1:
        return f"{value:.2g}"
    return f"{value:.4g}"


def nice_ceiling(value: float) -> float:
    """The smallest 1/2/2.5/5 x 10^n at or above `value` (the y axis top)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10.0**exponent
        if candidate >= value * 0.999999:
            return candidate
    return 10.0 ** (exponent + 1)


def _figure(key: str, title: str, desc: str, body: str, legend: str, table: str) -> Markup:
    k = escape(key)
    svg = (
        f'<svg class="chart-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{k}-t {k}-d" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{k}-t">{escape(title)}</title><desc id="{k}-d">{escape(desc)}</desc>'
        f"{body}</svg>"
    )
    return Markup(
        f'<figure class="chart" id="{k}"><figcaption>{escape(title)}</figcaption>'
        f"{svg}{legend}{table}</figure>"
    )


def _legend(names: Sequence[str]) -> str:
    if len(names) < 2:
        return ""
    items = "".join(
        f'<li><span class="swatch s{i % 6}" aria-hidden="true"></span>{escape(name)}</li>'
        for i, name in enumerate(names)
    )
    return f'<ul class="legend">{items}</ul>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return (
        '<details class="chart-data"><summary>Data</summary>'
        f'<div class="table-scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div></details>"
    )


def _empty(message: str) -> str:
    return (
        f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" '
        f'text-anchor="middle">{escape(message)}</text>'
    )


def _y_axis(top: float, fmt: Formatter) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(value))}</text>"
        )
    return "".join(parts)


def _x_labels(labels: Sequence[str], centers: Sequence[float]) -> str:
    if not labels:
        return ""
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    y = HEIGHT - BOTTOM + 18
    return "".join(
        f'<text class="tick" x="{x:.1f}" y="{y}" text-anchor="middle">{escape(label)}</text>'
        for i, (label, x) in enumerate(zip(labels, centers, strict=True))
        if i % every == 0
    )


def bars(
    key: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    fmt: Formatter = compact,
    axis_labels: Sequence[str] | None = None,
    empty: str = "No data yet",
) -> Markup:
    """Stacked vertical bars: one per label, one segment per series."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    rows = [[label, *(fmt(s.values[i] or 0) for s in series)] for i, label in enumerate(labels)]
    table = _table(["", *(s.name for s in series)], rows)
    if not labels or not any(totals):
        body = _y_axis(1, fmt) + _empty(empty)
        return _figure(key, title, desc, body, _legend([s.name for s in series]), table)
    top = nice_ceiling(max(totals))
    slot = plot_w / len(labels)
    width = max(2.0, slot * 0.7)
    parts = [_y_axis(top, fmt)]
    centers = []
    for i, label in enumerate(labels):
        x = LEFT + slot * i + (slot - width) / 2
        centers.append(x + width / 2)
        base = float(TOP + plot_h)
        for n, s in enumerate(series):
            value = s.values[i] or 0
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            tip = f"{label} · {s.name}: {fmt(value)}"
            parts.append(
                f'<rect class="bar s{n % 6}" x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" '
                f'height="{h:.1f}"><title>{escape(tip)}</title></rect>'
            )
    parts.append(_x_labels(axis_labels or labels, centers))
    return _figure(key, title, desc, "".join(parts), _legend([s.name for s in series]), table)


def lines(
    key: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    fmt: Formatter = compact,
    axis_labels: Sequence[str] | None = None,
    empty: str = "No data yet",
    markers: bool = True,
) -> Markup:
    """One polyline per series over the same labels (a day axis, usually)."""
    rows = [
        [label, *("–" if s.values[i] is None else fmt(s.values[i] or 0) for s in series)]
        for i, label in enumerate(labels)
    ]
    table = _table(["", *(s.name for s in series)], rows)
    legend = _legend([s.name for s in series])
    peak = max((v for s in series for v in s.values if v is not None), default=0)
    if not labels or peak <= 0:
        return _figure(key, title, desc, _y_axis(1, fmt) + _empty(empty), legend, table)
    top = nice_ceiling(peak)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels) - 1)
    xs = [LEFT + step * i if len(labels) > 1 else LEFT + plot_w / 2 for i in range(len(labels))]
    parts = [_y_axis(top, fmt)]
    for n, s in enumerate(series):
        points = [
            (x, TOP + plot_h - plot_h * max(0.0, v) / top, label, v)
            for x, v, label in zip(xs, s.values, labels, strict=False)
            if v is not None
        ]
        dash = " dashed" if s.dashed else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        parts.append(f'<polyline class="line s{n % 6}{dash}" points="{path}"/>')
        if markers and not s.dashed and len(points) <= 62:
            for x, y, label, value in points:
                tip = f"{label} · {s.name}: {fmt(value)}"
                parts.append(
                    f'<circle class="dot s{n % 6}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                    f"<title>{escape(tip)}</title></circle>"
                )
    parts.append(_x_labels(axis_labels or labels, xs))
    return _figure(key, title, desc, "".join(parts), legend, table)


def hbars(
    key: str,
    title: str,
    desc: str,
    items: Sequence[tuple[str, float, str]],
    *,
    empty: str = "No data yet",
) -> Markup:
    """Horizontal bars for ranked items: (label, value, what to print next to the bar)."""
    table = _table(["", "value"], [(label, shown) for label, _, shown in items])
    if not items or max(v for _, v, _ in items) <= 0:
        return _figure(key, title, desc, _empty(empty), "", table)
    top = max(v for _, v, _ in items)
    label_w, value_w = 150, 110
    row_h = (HEIGHT - TOP - 8) / max(len(items), 5)
    bar_w = WIDTH - label_w - value_w - RIGHT
    parts = []
    for i, (label, value, shown) in enumerate(items):
        y = TOP + row_h * i
        w = max(1.0, bar_w * value / top)
        mid = y + row_h / 2 + 4
        parts.append(
            f'<text class="tick" x="{label_w - 8}" y="{mid:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="bar s0" x="{label_w}" y="{y + row_h * 0.15:.1f}" width="{w:.1f}" '
            f'height="{row_h * 0.7:.1f}"><title>{escape(f"{label}: {shown}")}</title></rect>'
            f'<text class="tick" x="{label_w + w + 6:.1f}" y="{mid:.1f}">{escape(shown)}</text>'
        )
    return _figure(key, title, desc, "".join(parts), "", table)
