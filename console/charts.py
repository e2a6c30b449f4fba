"""Server-rendered SVG charts for the console: a trend line, horizontal bars, a stacked bar.

Why server-side SVG: the console's Content-Security-Policy allows no inline script and no
``style`` attribute, and the deployment has no internet (no chart library from a CDN).
Each function is pure: data in, an ``<svg>`` string out, wrapped in
:class:`markupsafe.Markup` so a Jinja template can place it as it is. That is only safe
because every piece of text that goes into the markup (labels, series names, titles,
tooltips) passes through :func:`markupsafe.escape` here, and colours must be hex codes.
Only presentation attributes are used (``fill``, ``stroke``, ``x``, ``y``, ``width`` …).

Robustness rules: no data → a chart that says so (never a ZeroDivisionError); all-zero
values → a 0…1 axis; negative, NaN or infinite values are drawn as 0 (counts are never
negative; the tooltips still show the value given). Tooltips are SVG ``<title>`` elements,
which browsers show on hover without any script.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

TEXT = "#1f2933"
MUTED = "#6b7785"
GRID = "#dde3ea"
EMPTY = "#b8c0ca"
BLUE = "#1d5fbf"
GREEN = "#1e9e53"
YELLOW = "#d9a400"
RED = "#d33a2c"
LIGHT_BLUE = "#8fb3e6"

FONT = 12
_HEX = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?\Z")


@dataclass(frozen=True)
class Series:
    """One named series of values, drawn in ``color`` (a ``#rgb`` or ``#rrggbb`` code)."""

    name: str
    values: Sequence[float]
    color: str = BLUE


@dataclass(frozen=True)
class Part:
    """One segment of a stacked bar."""

    label: str
    value: float
    color: str


# --- helpers ------------------------------------------------------------------------------


def _e(text: object) -> str:
    """``text`` escaped for XML text and attribute values (``& < > " '``)."""
    return str(escape(str(text)))


def _color(value: str) -> str:
    if not isinstance(value, str) or not _HEX.match(value):
        raise ValueError(f"colour must be #rgb or #rrggbb, got {value!r}")
    return value


def _n(value: float) -> str:
    """A coordinate: one decimal is plenty at the sizes drawn."""
    return f"{value:.1f}"


def _clean(value: float) -> float:
    """What is drawn for ``value``: negative, NaN, infinite or non-numbers → 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


def fmt(value: float) -> str:
    """A value as a label: integers without decimals, others with one."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "—"
    return str(int(number)) if number == int(number) else f"{number:.1f}"


def text_width(text: str, size: float = FONT) -> float:
    """Rough rendered width: CJK and other wide characters 1 em, the rest 0.6 em."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in text)


def fit(text: str, width: float, size: float = FONT) -> str:
    """``text`` shortened with "…" to fit ``width`` (the full text goes in a tooltip)."""
    if text_width(text, size) <= width:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch + "…", size) > width:
            break
        out += ch
    return out + "…"


def nice_scale(maximum: float, ticks: int = 4) -> tuple[float, float]:
    """(top of the axis, step between ticks) for values up to ``maximum``.

    Steps are 1, 2 or 5 × 10ⁿ and at least 1 (the charts show counts); an empty or
    all-zero series gets the axis 0…1, so nothing is ever divided by zero.
    """
    maximum = _clean(maximum)
    if maximum <= 0:
        return 1.0, 1.0
    raw = maximum / max(ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(step, 1.0)
    top = math.ceil(maximum / step - 1e-9) * step
    return max(top, step), step


def _svg(width: float, height: float, title: str, body: list[str], css_class: str = "") -> Markup:
    classes = f' class="{_e(css_class)}"' if css_class else ""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'width="{_n(width)}" height="{_n(height)}" role="img" aria-label="{_e(title)}"{classes} '
        f'font-size="{FONT}" fill="{TEXT}">'
        f"<title>{_e(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")  # every text above went through _e


def _empty(width: float, height: float, title: str, message: str, css_class: str) -> Markup:
    return _svg(width, height, title, [
        f'<rect x="0.5" y="0.5" width="{_n(width - 1)}" height="{_n(height - 1)}" fill="none" '
        f'stroke="{GRID}" rx="4"/>',
        f'<text x="{_n(width / 2)}" y="{_n(height / 2)}" text-anchor="middle" '
        f'dominant-baseline="middle" fill="{MUTED}">{_e(message)}</text>',
    ], css_class)


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    out = []
    for s in series:
        out.append(f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="10" height="10" rx="2" '
                   f'fill="{_color(s.color)}"/>')
        out.append(f'<text x="{_n(x + 14)}" y="{_n(y)}">{_e(s.name)}</text>')
        x += 14 + text_width(s.name) + 16
    return out


def _check_lengths(labels: Sequence[str], series: Sequence[Series]) -> None:
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(
                f"series {s.name!r} has {len(s.values)} values for {len(labels)} labels")


# --- charts -------------------------------------------------------------------------------


def trend_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    details: Sequence[str] | None = None,
    width: int = 720,
    height: int = 280,
    empty_text: str = "暂无数据",
    css_class: str = "",
) -> Markup:
    """A line chart of ``series`` over ``labels`` (days, weeks or months).

    ``details`` (same length as ``labels``, optional) is the longer name of each point
    used in tooltips, e.g. "2026-05-04 至 2026-05-10" for a week labelled "05-04".
    """
    _check_lengths(labels, series)
    if details is not None and len(details) != len(labels):
        raise ValueError("details must have one entry per label")
    if not labels or not series:
        return _empty(width, height, title, empty_text, css_class)
    left, right, top, bottom = 48.0, 14.0, 30.0, 42.0
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(labels)
    ymax, step = nice_scale(max(_clean(v) for s in series for v in s.values))
    band = plot_w / n

    def x(i: int) -> float:
        return left + (i + 0.5) * band

    def y(v: float) -> float:
        return top + plot_h - _clean(v) / ymax * plot_h

    body = _legend(series, left, 16)
    tick = 0.0
    while tick <= ymax + 1e-9:
        ty = y(tick)
        body.append(f'<line x1="{_n(left)}" y1="{_n(ty)}" x2="{_n(width - right)}" '
                    f'y2="{_n(ty)}" stroke="{GRID}"/>')
        body.append(f'<text x="{_n(left - 6)}" y="{_n(ty + 4)}" text-anchor="end" '
                    f'fill="{MUTED}">{_e(fmt(tick))}</text>')
        tick += step
    base = top + plot_h
    body.append(f'<line x1="{_n(left)}" y1="{_n(base)}" x2="{_n(width - right)}" '
                f'y2="{_n(base)}" stroke="{MUTED}"/>')
    # x labels no closer than the longest one needs, always the first and (room allowing)
    # the last
    room = max(text_width(str(label)) for label in labels) + 14
    every = max(1, math.ceil(n * max(room, 40) / plot_w))
    for i, label in enumerate(labels):
        if i % every == 0 or (i == n - 1 and (n - 1) % every * band >= room):
            body.append(f'<text x="{_n(x(i))}" y="{_n(base + 16)}" text-anchor="middle" '
                        f'fill="{MUTED}">{_e(fit(str(label), max(band * every - 4, 24)))}</text>')
    radius = 3.0 if band >= 8 else 2.0
    for s in series:
        color = _color(s.color)
        points = " ".join(f"{_n(x(i))},{_n(y(v))}" for i, v in enumerate(s.values))
        if n > 1:
            body.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                        f'stroke-width="2" stroke-linejoin="round"/>')
        for i, v in enumerate(s.values):
            where = details[i] if details is not None else labels[i]
            body.append(f'<circle cx="{_n(x(i))}" cy="{_n(y(v))}" r="{radius}" fill="{color}">'
                        f"<title>{_e(where)} {_e(s.name)}：{_e(fmt(v))}</title></circle>")
    return _svg(width, height, title, body, css_class)


def hbar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int = 720,
    bar: int = 11,
    empty_text: str = "暂无数据",
    css_class: str = "",
) -> Markup:
    """Horizontal bars: one row per label, one bar per series in each row (grouped)."""
    _check_lengths(labels, series)
    if not labels or not series:
        return _empty(width, 120, title, empty_text, css_class)
    label_w = min(max(text_width(str(label)) for label in labels) + 8, width * 0.38)
    left, right, top, bottom = label_w + 6, 44.0, 28.0, 8.0
    plot_w = width - left - right
    row_h = len(series) * bar + 10
    height = top + len(labels) * row_h + bottom
    vmax = max(_clean(v) for s in series for v in s.values) or 1.0

    body = _legend(series, 6, 16)
    body.append(f'<line x1="{_n(left)}" y1="{_n(top - 4)}" x2="{_n(left)}" '
                f'y2="{_n(height - bottom)}" stroke="{MUTED}"/>')
    for i, label in enumerate(labels):
        y0 = top + i * row_h
        mid = y0 + (row_h - 10) / 2 + 5
        body.append(f"<g><title>{_e(label)}</title>"
                    f'<text x="{_n(left - 6)}" y="{_n(mid + 4)}" text-anchor="end">'
                    f"{_e(fit(str(label), label_w - 8))}</text></g>")
        for j, s in enumerate(series):
            v = s.values[i]
            w = _clean(v) / vmax * plot_w
            by = y0 + 5 + j * bar
            body.append(f'<rect x="{_n(left)}" y="{_n(by)}" width="{_n(w)}" '
                        f'height="{_n(bar - 1)}" fill="{_color(s.color)}">'
                        f"<title>{_e(label)} {_e(s.name)}：{_e(fmt(v))}</title></rect>")
            body.append(f'<text x="{_n(left + w + 4)}" y="{_n(by + bar - 2)}" font-size="10" '
                        f'fill="{MUTED}">{_e(fmt(v))}</text>')
    return _svg(width, height, title, body, css_class)


def stacked_bar(
    parts: Sequence[Part],
    *,
    title: str,
    width: int = 720,
    legend: bool = True,
    empty_text: str = "暂无数据",
    css_class: str = "",
) -> Markup:
    """One horizontal bar split into ``parts``; below it (``legend``) counts and shares."""
    left, right, top, bar_h = 6.0, 6.0, 8.0, 34.0
    plot_w = width - left - right
    colors = [_color(p.color) for p in parts]
    total = sum(_clean(p.value) for p in parts)
    body: list[str] = []
    if total <= 0:
        body.append(f'<rect x="{_n(left)}" y="{_n(top)}" width="{_n(plot_w)}" '
                    f'height="{_n(bar_h)}" rx="4" fill="{EMPTY}"/>')
        body.append(f'<text x="{_n(width / 2)}" y="{_n(top + bar_h / 2 + 4)}" '
                    f'text-anchor="middle" fill="#ffffff">{_e(empty_text)}</text>')
    x = left
    for p, color in zip(parts, colors):
        value = _clean(p.value)
        share = value / total if total > 0 else 0.0
        w = share * plot_w
        if w > 0:
            body.append(f'<rect x="{_n(x)}" y="{_n(top)}" width="{_n(w)}" height="{_n(bar_h)}" '
                        f'fill="{color}"><title>{_e(p.label)}：{_e(fmt(p.value))}'
                        f"（{share * 100:.1f}%）</title></rect>")
            text = fmt(p.value)
            if text_width(text) + 8 <= w:
                body.append(f'<text x="{_n(x + w / 2)}" y="{_n(top + bar_h / 2 + 4)}" '
                            f'text-anchor="middle" fill="#ffffff">{_e(text)}</text>')
        x += w
    height = top + bar_h + 8
    if legend:
        lx, ly = left, top + bar_h + 26
        for p, color in zip(parts, colors):
            value = _clean(p.value)
            share = f"{value / total * 100:.1f}%" if total > 0 else "—"
            words = f"{p.label} {fmt(p.value)}（{share}）"
            item_w = 16 + text_width(words)
            if lx > left and lx + item_w > width - right:  # wrap to the next line
                lx, ly = left, ly + 20
            body.append(f'<rect x="{_n(lx)}" y="{_n(ly - 10)}" width="12" height="12" rx="6" '
                        f'fill="{color}"/>')
            body.append(f'<text x="{_n(lx + 16)}" y="{_n(ly)}">{_e(words)}</text>')
            lx += item_w + 18
        height = ly + 10
    return _svg(width, height, title, body, css_class)


def sparkline(values: Sequence[float], *, title: str, width: int = 120, height: int = 28,
              color: str = RED, css_class: str = "spark") -> Markup:
    """A small trend line without axes (a hot issue's reports per day), last point marked."""
    if not values:
        return _empty(width, height, title, "—", css_class)
    clean = [_clean(v) for v in values]
    top = max(clean) or 1.0
    pad = 3.0
    step = (width - 2 * pad) / max(1, len(clean) - 1)
    points = [(pad + i * step, height - pad - (v / top) * (height - 2 * pad))
              for i, v in enumerate(clean)]
    line = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
    x, y = points[-1]
    return _svg(width, height, title, [
        f'<polyline points="{line}" fill="none" stroke="{_color(color)}" stroke-width="1.6"/>',
        f'<circle cx="{_n(x)}" cy="{_n(y)}" r="2.4" fill="{_color(color)}"/>',
    ], css_class)
