"""Metric charts as SVG geometry, computed on the server (pure: no I/O).

The templates draw what these functions compute (``charts.html``), so every text a chart shows
(metric names, labels, keys) goes through Jinja's escaping like the rest of the page, and no
script is needed: the charts work under the Content-Security-Policy and in a page swapped in
by htmx. Colours are classes (``c0`` … ``c9`` in pauta.css), one per call name across a page,
so ``train[forest]`` has the same colour in every chart of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pauta.app.metrics import CallValue, Curve

WIDTH = 560
PALETTE_SIZE = 10
MAX_BARS = 30
MAX_LINES = 10
BAR_ROW = 22
LABEL_CHARS = 26
TOP, RIGHT, BOTTOM = 12, 56, 34
CURVE_HEIGHT = 220


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    text: str


@dataclass(frozen=True, slots=True)
class BarMark:
    label: str
    key: str
    value: float
    color: int
    x: float
    y: float
    width: float
    height: float
    title: str
    text: str  # the label as the axis shows it (cut to LABEL_CHARS)


@dataclass(frozen=True, slots=True)
class PointMark:
    x: float
    y: float
    value: float
    title: str
    href: str | None = None


@dataclass(frozen=True, slots=True)
class LineMark:
    label: str
    color: int
    points: list[PointMark]

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True, slots=True)
class Chart:
    kind: str  # "bars" or "lines"
    name: str  # the metric
    height: int
    left: float
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    x_title: str
    bars: list[BarMark] = field(default_factory=list)
    lines: list[LineMark] = field(default_factory=list)
    legend: list[tuple[str, int]] = field(default_factory=list)
    note: str = ""
    width: int = WIDTH
    top: float = TOP

    @property
    def right(self) -> float:
        return self.width - RIGHT

    @property
    def bottom(self) -> float:
        return self.height - BOTTOM


class Colors:
    """A colour class per call name, in the order names are first seen on a page."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        if name not in self._index:
            self._index[name] = len(self._index) % PALETTE_SIZE
        return self._index[name]


def nice_ticks(low: float, high: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    start = math.floor(low / step + 1e-9) * step
    end = math.ceil(high / step - 1e-9) * step
    n = round((end - start) / step)
    return [round(start + i * step, 12) for i in range(n + 1)]


def tick_text(value: float, ticks: Sequence[float]) -> str:
    """A tick's value with as many decimals as the ticks' step needs."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    if abs(value) >= 1e6 or (value and abs(value) < 1e-4):
        return f"{value:.3g}"
    decimals = max(0, math.ceil(-math.log10(step) - 1e-9)) if step < 1 else 0
    if decimals and not math.isclose(step * 10**decimals, round(step * 10**decimals)):
        decimals += 1
    return f"{value:.{decimals}f}"


def value_text(value: float) -> str:
    return f"{value:.6g}"


def _scale(ticks: Sequence[float], start: float, end: float) -> Any:
    low, high = ticks[0], ticks[-1]

    def at(value: float) -> float:
        return start + (value - low) / (high - low) * (end - start)

    return at


def _cut(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _finite(values: Iterable[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _more(shown: int, total: int, what: str) -> str:
    return f"Showing {shown:,} of {total:,} {what}." if total > shown else ""


def bar_chart(name: str, values: Sequence[CallValue], colors: Colors) -> Chart:
    """A bar per call that logged ``name`` (horizontal, labelled on the left), the first
    ``MAX_BARS`` in the order they logged it."""
    shown = [v for v in values if math.isfinite(v.value)][:MAX_BARS]
    left = 8 + 6.4 * min(LABEL_CHARS, max((len(v.label) for v in shown), default=4))
    height = TOP + BAR_ROW * max(len(shown), 1) + BOTTOM
    numbers = [v.value for v in shown] or [0.0]
    ticks = nice_ticks(min(0.0, *numbers), max(0.0, *numbers))
    x = _scale(ticks, left, WIDTH - RIGHT)
    bars = []
    for i, v in enumerate(shown):
        start, end = sorted((x(0.0), x(v.value)))
        title = f"{v.label}: {name} = {value_text(v.value)}"
        if v.label != v.key:
            title += f" ({v.key})"
        bars.append(
            BarMark(
                label=v.label, key=v.key, value=v.value, color=colors(v.label), x=start,
                y=TOP + i * BAR_ROW + 3, width=max(end - start, 1.0), height=BAR_ROW - 6,
                title=title, text=_cut(v.label),
            )
        )  # fmt: skip
    return Chart(
        kind="bars",
        name=name,
        height=height,
        left=left,
        x_ticks=[Tick(x(t), tick_text(t, ticks)) for t in ticks],
        y_ticks=[],
        x_title=name,
        bars=bars,
        note=_more(len(shown), len(values), "calls that logged it"),
    )


def _y_axis(values: list[float]) -> tuple[list[float], Any]:
    ticks = nice_ticks(min(values), max(values)) if values else nice_ticks(0.0, 1.0)
    return ticks, _scale(ticks, CURVE_HEIGHT - BOTTOM, TOP)


def curve_chart(name: str, curves: Sequence[Curve], colors: Colors) -> Chart:
    """A line per call that logged ``name`` with steps: value by step."""
    shown = list(curves[:MAX_LINES])
    steps = [s for c in shown for s, _ in c.points]
    x_ticks = nice_ticks(min(steps, default=0), max(steps, default=1), 6, integer=True)
    y_ticks, y = _y_axis(_finite(v for c in shown for _, v in c.points))
    left = _left_for(y_ticks)
    x = _scale(x_ticks, left, WIDTH - RIGHT)
    lines = []
    for curve in shown:
        points = [
            PointMark(x(s), y(v), v, f"{curve.label} · step {s}: {name} = {value_text(v)}")
            for s, v in curve.points
            if math.isfinite(v)
        ]
        lines.append(LineMark(curve.label, colors(curve.label), points))
    return Chart(
        kind="lines",
        name=name,
        height=CURVE_HEIGHT,
        left=left,
        x_ticks=[Tick(x(t), tick_text(t, x_ticks)) for t in x_ticks],
        y_ticks=[Tick(y(t), tick_text(t, y_ticks)) for t in y_ticks],
        x_title="step",
        lines=lines,
        legend=[(line.label, line.color) for line in lines],
        note=_more(len(shown), len(curves), "calls that logged it"),
    )


def _left_for(ticks: Sequence[float]) -> float:
    return 12 + 6.4 * max(len(tick_text(t, ticks)) for t in ticks)


def _run_dates(runs: Sequence[dict[str, Any]]) -> list[str]:
    """How the x axis names each run: its logical date, with the time where two runs share a
    day."""
    moments = [datetime.fromisoformat(r["logical_date"]) for r in runs]
    days = [m.strftime("%Y-%m-%d") for m in moments]
    if len(set(days)) == len(days):
        return days
    return [m.strftime("%m-%d %H:%M") for m in moments]


def runs_chart(
    name: str, series: Sequence[dict[str, Any]], runs: Sequence[dict[str, Any]], colors: Colors
) -> Chart:
    """A line per call name over the runs (oldest left), a point per run that logged
    ``name``; each point links to its run. ``series`` and ``runs`` are shaped as
    ``pauta.app.metrics.flow_metrics`` returns them. Past ``MAX_LINES`` series, those with
    the most points are drawn (the calls that every run makes, rather than one run's map)."""
    longest = sorted(range(len(series)), key=lambda i: -len(series[i]["points"]))[:MAX_LINES]
    shown = [series[i] for i in sorted(longest)]
    index = {run["id"]: i for i, run in enumerate(runs)}
    dates = _run_dates(runs)
    y_ticks, y = _y_axis(_finite(p["value"] for s in shown for p in s["points"]))
    left = _left_for(y_ticks)
    last = max(len(runs) - 1, 1)

    def x(i: float) -> float:
        if len(runs) == 1:
            return (left + WIDTH - RIGHT) / 2
        return left + 8 + i / last * (WIDTH - RIGHT - left - 16)

    lines = []
    for s in shown:
        points = [
            PointMark(
                x(index[p["run_id"]]),
                y(p["value"]),
                p["value"],
                f"{s['label']} · {dates[index[p['run_id']]]} (run {p['run_id']}): "
                f"{name} = {value_text(p['value'])}",
                href=f"/runs/{p['run_id']}",
            )
            for p in s["points"]
            if p["run_id"] in index and math.isfinite(p["value"])
        ]
        lines.append(LineMark(s["label"], colors(s["label"]), points))
    # a date every 90 px or more (one is about 65 px wide), the last run's always
    every = max(1, math.ceil(len(runs) / max(1, int((WIDTH - RIGHT - left) // 90))))
    final = len(runs) - 1
    marks = [i for i in range(0, final, every) if x(final) - x(i) >= 90] + [final] if runs else []
    return Chart(
        kind="lines",
        name=name,
        height=CURVE_HEIGHT,
        left=left,
        x_ticks=[Tick(x(i), dates[i]) for i in marks],
        y_ticks=[Tick(y(t), tick_text(t, y_ticks)) for t in y_ticks],
        x_title="run (logical date)",
        lines=lines,
        legend=[(line.label, line.color) for line in lines],
        note=_more(len(shown), len(series), "series"),
    )
