"""Server-rendered SVG bar charts for the home dashboard: pure, no Flask, no database.

A chart is a picture of numbers the page also shows in a table (「圖表／表格」), so screen
readers and tests read the table; the SVG itself carries a <title> and <desc>, `role="img"`
with an aria-label, and each bar a <title> that a pointer shows as a tooltip.

Scales are whole numbers (money is whole NTD, counts are whole tickets): the axis steps are
1, 2 or 5 times a power of ten, chosen so that at most `ticks` steps cover the largest value.
Every text that reaches the SVG (product names, too) is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# One colour per status family, as the status badges (_macros/status.html).
TONES = ("primary", "success", "warning", "secondary", "info")
NO_DATA = "尚無資料"


@dataclass(frozen=True)
class Bar:
    label: str  # the category (a day, a status, a product)
    value: int  # what the bar's length shows (>= 0)
    text: str = ""  # the value as people read it (NT$1,200, 3 張); default: the number
    tone: str = "primary"  # a Bootstrap colour name

    @property
    def shown(self) -> str:
        return self.text or f"{self.value:,}"


@dataclass(frozen=True)
class Scale:
    """An axis from 0 to `top` in steps of `step` (top is a multiple of step)."""

    top: int
    step: int

    @property
    def ticks(self) -> list[int]:
        return list(range(0, self.top + 1, self.step))

    def fraction(self, value: int) -> float:
        return value / self.top


def nice_scale(largest: int, *, ticks: int = 4) -> Scale:
    """The smallest axis of at most `ticks` nice steps reaching `largest` (0 gives 0..1)."""
    if largest < 0:
        raise ValueError("bar values cannot be negative")
    if ticks < 1:
        raise ValueError("an axis needs at least one step")
    if largest == 0:
        return Scale(top=1, step=1)
    magnitude = 1
    while True:
        for multiple in (1, 2, 5):
            step = multiple * magnitude
            if step * ticks >= largest:
                return Scale(top=-(-largest // step) * step, step=step)
        magnitude *= 10


def compact(value: int) -> str:
    """An axis label: 9,999 as is, then 萬 (10⁴) and 億 (10⁸): 12萬, 1.5萬, 3億."""
    for unit, size in (("億", 100_000_000), ("萬", 10_000)):
        if value >= size:
            whole, rest = divmod(value, size)
            if rest == 0:
                return f"{whole:,}{unit}"
            return f"{value / size:,.2f}".rstrip("0").rstrip(".") + unit
    return f"{value:,}"


def label_every(bars: int, max_labels: int = 10) -> int:
    """Show every n-th category label so that at most `max_labels` fit under the bars."""
    if bars <= max_labels:
        return 1
    return -(-bars // max_labels)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _tone(tone: str) -> str:
    return tone if tone in TONES else "primary"


def _frame(width: int, height: int, title: str, description: str, body: list[str],
           testid: str) -> Markup:
    n = escape(testid)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" aria-describedby="chart-{n}-desc" '
        f'class="chart" data-testid="{n}" style="max-height:{height}px">'
        f'<title id="chart-{n}-title">{escape(title)}</title>'
        f'<desc id="chart-{n}-desc">{escape(description)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _summary(bars: Sequence[Bar]) -> str:
    return "；".join(f"{b.label} {b.shown}" for b in bars)


def bar_chart(bars: Sequence[Bar], *, title: str, width: int = 640, height: int = 240,
              axis: Callable[[int], str] = compact, values_on_bars: bool | None = None,
              testid: str = "chart") -> Markup:
    """Vertical bars (a daily series, a few statuses) with a value axis and category labels."""
    left, right, top, bottom = 72, 8, 18, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    scale = nice_scale(max((b.value for b in bars), default=0))
    body: list[str] = []
    # value axis: grid lines and labels
    for tick in scale.ticks:
        y = top + plot_h - scale.fraction(tick) * plot_h
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}" '
                    f'stroke="#dee2e6" stroke-width="1"/>')
        body.append(f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end" font-size="11" '
                    f'fill="#6c757d" data-tick="{tick}">{escape(axis(tick))}</text>')
    if not bars or all(b.value == 0 for b in bars):
        body.append(f'<text x="{_num(left + plot_w / 2)}" y="{_num(top + plot_h / 2)}" '
                    f'text-anchor="middle" font-size="14" fill="#6c757d">{NO_DATA}</text>')
    slot = plot_w / max(len(bars), 1)
    bar_w = max(slot * 0.7, 1.0)
    every = label_every(len(bars))
    show_values = values_on_bars if values_on_bars is not None else len(bars) <= 12
    for i, bar in enumerate(bars):
        if bar.value < 0:
            raise ValueError("bar values cannot be negative")
        h = scale.fraction(bar.value) * plot_h
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        body.append(
            f'<g class="text-{_tone(bar.tone)}"><rect x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" '
            f'height="{_num(h)}" fill="currentColor" data-value="{bar.value}">'
            f'<title>{escape(bar.label)}：{escape(bar.shown)}</title></rect></g>')
        if show_values and bar.value:
            body.append(f'<text x="{_num(x + bar_w / 2)}" y="{_num(y - 4)}" text-anchor="middle" '
                        f'font-size="11" fill="#212529">{escape(bar.shown)}</text>')
        if i % every == 0:
            body.append(f'<text x="{_num(x + bar_w / 2)}" y="{height - bottom + 16}" '
                        f'text-anchor="middle" font-size="11" fill="#6c757d">{escape(bar.label)}</text>')
    body.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
                f'stroke="#6c757d" stroke-width="1"/>')
    return _frame(width, height, title, _summary(bars) if bars else NO_DATA, body, testid)


def hbar_chart(bars: Sequence[Bar], *, title: str, width: int = 640, label_width: int = 180,
               row: int = 30, testid: str = "chart") -> Markup:
    """Horizontal bars (a ranking with long names), each with its value at the end."""
    top, bottom, right = 6, 6, 90
    height = top + bottom + row * max(len(bars), 1)
    plot_w = width - label_width - right
    scale = nice_scale(max((b.value for b in bars), default=0))
    body: list[str] = []
    if not bars or all(b.value == 0 for b in bars):
        body.append(f'<text x="{width // 2}" y="{top + row // 2 + 5}" text-anchor="middle" '
                    f'font-size="14" fill="#6c757d">{NO_DATA}</text>')
    for i, bar in enumerate(bars):
        if bar.value < 0:
            raise ValueError("bar values cannot be negative")
        y = top + i * row
        w = scale.fraction(bar.value) * plot_w
        name = bar.label if len(bar.label) <= 14 else bar.label[:13] + "…"
        body.append(f'<text x="{label_width - 8}" y="{y + row / 2 + 4:.0f}" text-anchor="end" '
                    f'font-size="12" fill="#212529">{escape(name)}</text>')
        body.append(
            f'<g class="text-{_tone(bar.tone)}"><rect x="{label_width}" y="{y + 5}" width="{_num(w)}" '
            f'height="{row - 10}" fill="currentColor" data-value="{bar.value}">'
            f'<title>{escape(bar.label)}：{escape(bar.shown)}</title></rect></g>')
        body.append(f'<text x="{_num(label_width + w + 6)}" y="{y + row / 2 + 4:.0f}" font-size="12" '
                    f'fill="#212529">{escape(bar.shown)}</text>')
    return _frame(width, height, title, _summary(bars) if bars else NO_DATA, body, testid)
