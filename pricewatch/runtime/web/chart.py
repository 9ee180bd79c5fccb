"""Price charts as geometry for inline SVG: one panel per currency (never summed across
currencies), one step line per store, out-of-stock spans, alert marks, axis ticks.

Only numbers and the caller's strings leave this module; the templates escape the strings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from pricewatch.db.history import AlertMark, Point, Series

WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 26, 28
PALETTE = 8  # CSS classes s0..s7

Scale = Callable[[float], float]


@dataclass(frozen=True, slots=True)
class Line:
    store: str
    color: int
    path: str  # SVG path data of the step line
    points: int
    last: str  # the newest price in the range, as an exact decimal string
    data: list[tuple[float, str, bool | None]]  # (epoch, price, in_stock) for hover values


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # pixel
    label: str
    epoch: float = 0.0  # the time of an x tick, for the viewer's time zone (app.js)
    kind: str = ""  # "time", "datetime" or "date": how app.js formats it


@dataclass(frozen=True, slots=True)
class Panel:
    currency: str
    lines: list[Line]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    sold_out: list[tuple[float, float]]  # pixel spans [x0, x1]
    marks: list[tuple[float, str]]  # (pixel x, "rule: title")
    t0: float  # epoch at the left and right of the plot
    t1: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    hover: dict[str, object] = field(default_factory=dict)


def panels(series: Sequence[Series], stores: dict[int, str], marks: Sequence[AlertMark], *,
           since: datetime | None, until: datetime) -> list[Panel]:
    """A panel per currency, lines in store order; ``stores`` maps offer id to store name."""
    order = {oid: i for i, oid in enumerate(stores)}
    by_currency: dict[str, list[Series]] = {}
    for one in sorted(series, key=lambda s: order.get(s.offer_id, 0)):
        if one.points:
            by_currency.setdefault(one.currency, []).append(one)
    out = []
    for currency, group in sorted(by_currency.items()):
        first = min(s.points[0].at for s in group)
        t0 = (since or first).timestamp()
        t1 = max(until.timestamp(), max(s.points[-1].at for s in group).timestamp())
        if t1 - t0 < 60:
            t0 -= 30
            t1 += 30
        low = min(s.low for s in group)
        high = max(s.high for s in group)
        out.append(_panel(currency, group, stores, order, marks, t0=t0, t1=t1, low=low,
                          high=high))
    return out


def _panel(currency: str, group: list[Series], stores: dict[int, str], order: dict[int, int],
           marks: Sequence[AlertMark], *, t0: float, t1: float, low: Decimal, high: Decimal
           ) -> Panel:
    lo, hi, step = _nice_range(float(low), float(high))

    def x(epoch: float) -> float:
        return LEFT + (epoch - t0) / (t1 - t0) * (WIDTH - RIGHT - LEFT)

    def y(price: float) -> float:
        return HEIGHT - BOTTOM - (price - lo) / (hi - lo) * (HEIGHT - BOTTOM - TOP)

    lines = []
    sold: list[tuple[float, float]] = []
    for one in group:
        color = order.get(one.offer_id, 0) % PALETTE
        lines.append(Line(stores.get(one.offer_id, "?"), color, _step_path(one.points, x, y),
                          len(one.points), str(one.points[-1].price),
                          [(p.at.timestamp(), str(p.price), p.in_stock) for p in one.points]))
        sold.extend(_sold_out(one.points, x))
    y_ticks = []
    value = lo
    while value <= hi + step / 2:
        y_ticks.append(Tick(round(y(value), 1), _fmt(value, step)))
        value += step
    x_ticks = [Tick(round(x(t), 1), label, t, kind) for t, label, kind in _time_ticks(t0, t1)]
    alert_marks = [(round(x(m.created_at.timestamp()), 1), f"{m.rule}: {m.title}")
                   for m in marks if t0 <= m.created_at.timestamp() <= t1]
    hover = {"t0": t0, "t1": t1, "left": LEFT, "right": WIDTH - RIGHT, "width": WIDTH,
             "currency": currency,
             "lines": [{"store": ln.store, "color": ln.color,
                        "points": [[t, p] for t, p, _ in ln.data]} for ln in lines]}
    return Panel(currency, lines, y_ticks, x_ticks, _merge(sold), alert_marks, t0, t1,
                 hover=hover)


def _step_path(points: Sequence[Point], x: Scale, y: Scale) -> str:
    parts = []
    for i, p in enumerate(points):
        px, py = x(p.at.timestamp()), y(float(p.price))
        if i == 0:
            parts.append(f"M{px:.1f} {py:.1f}")
        else:
            parts.append(f"H{px:.1f}V{py:.1f}")
    if len(points) == 1:
        parts.append("h2")  # a lone check is still visible
    return "".join(parts)


def _sold_out(points: Sequence[Point], x: Scale) -> list[tuple[float, float]]:
    spans = []
    for i, p in enumerate(points):
        if p.in_stock is False:
            end = points[i + 1].at if i + 1 < len(points) else p.at
            x0, x1 = x(p.at.timestamp()), x(end.timestamp())
            spans.append((round(x0, 1), round(max(x1, x0 + 1), 1)))
    return spans


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + 0.5:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _nice_range(low: float, high: float) -> tuple[float, float, float]:
    if high <= low:
        pad = max(abs(low) * 0.05, 1.0)
        low, high = low - pad, high + pad
    raw = (high - low) / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _fmt(value: float, step: float) -> str:
    decimals = 0 if step >= 1 else min(6, -math.floor(math.log10(step)))
    return f"{value:.{decimals}f}"


def _time_ticks(t0: float, t1: float, count: int = 6) -> list[tuple[float, str, str]]:
    """Ticks at round times (UTC labels; app.js relabels them in the viewer's zone)."""
    span = t1 - t0
    steps = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400,
             7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 365 * 86400)
    step = next((s for s in steps if span / s <= count), steps[-1])
    kind = "time" if step < 86400 and span < 86400 else "datetime" if step < 86400 \
        else "date"
    fmt = {"time": "%H:%M", "datetime": "%m-%d %H:%M", "date": "%Y-%m-%d"}[kind]
    first = math.ceil(t0 / step) * step
    out = []
    t = float(first)
    while t <= t1:
        out.append((t, datetime.fromtimestamp(t, UTC).strftime(fmt), kind))
        t += step
    return out


def sparkline(points: Sequence[Point], *, width: int = 100, height: int = 24) -> str:
    """Path data of a small step line over ``points`` ('' for fewer than two)."""
    if len(points) < 2:
        return ""
    t0, t1 = points[0].at.timestamp(), points[-1].at.timestamp()
    lo = float(min(p.price for p in points))
    hi = float(max(p.price for p in points))
    span_t = max(t1 - t0, 1.0)
    span_p = max(hi - lo, 1e-9)

    def x(t: float) -> float:
        return 1 + (t - t0) / span_t * (width - 2)

    def y(p: float) -> float:
        return height - 2 - (p - lo) / span_p * (height - 4) if hi > lo else height / 2

    return _step_path(points, x, y)
