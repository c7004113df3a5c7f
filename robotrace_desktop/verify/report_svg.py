"""Building blocks of the verify report: escaping, number formatting and inline SVG plots.

Plots are drawn here as small SVG strings (no plotting library) so the HTML report stays one
self-contained file that renders the same offline, in a CI artifact viewer or on paper. Every
piece of text that lands in an SVG goes through ``esc``.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Sequence
from typing import TypeGuard

from robotrace_desktop.verify.model import MetricComparison

BASE_COLOUR = "#4c78a8"
CAND_COLOUR = "#e8730c"
BAD_COLOUR = "#cf222e"
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(value: object) -> str:
    """``str(value)`` without control characters and lone surrogates (which cannot be written
    as UTF-8): a name or a policy's error message may carry either."""
    return _SURROGATES.sub("\ufffd", _BAD_CHARS.sub("", str(value)))


def esc(value: object) -> str:
    return html.escape(clean_text(value), quote=True)


# ---------------------------------------------------------------- number formatting


def finite(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def minus(text: str) -> str:
    return text.replace("-", "−")


def fmt_sig(value: float | None) -> str:
    """Three significant digits; thousands grouped; a true minus sign."""
    if value is None:
        return "–"
    if not finite(value):
        return "n/a"
    if value == 0:
        return "0"
    if value == int(value) or abs(value) >= 999.5:
        return minus(f"{value:,.0f}")  # counts stay integers; no exponent for big numbers
    text = f"{value:#.3g}"  # keep trailing zeros: 79.0 next to 77.1 reads as a column
    return minus(text if "e" in text else text.rstrip("."))


def fmt_tick(value: float) -> str:
    """An axis label: as short as the nice tick allows."""
    return minus(f"{value:.6g}")


def fmt_value(value: float | None, unit: str) -> str:
    if value is None or not finite(value):
        return fmt_sig(value)
    if unit == "%":
        return minus(f"{value * 100:.1f} %")
    if unit == "s":
        return minus(f"{value:.2f} s")
    return fmt_sig(value) + (f" {unit}" if unit else "")


def fmt_delta(value: float | None, unit: str) -> str:
    if value is None or not finite(value):
        return fmt_sig(value)
    if unit == "%":
        return minus(f"{value * 100:+.1f} points")
    if unit == "s":
        return minus(f"{value:+.2f} s")
    return ("+" if value > 0 else "") + fmt_sig(value) + (f" {unit}" if unit else "")


def fmt_interval(interval: Sequence[float | None] | None, unit: str) -> str:
    if not interval or interval[0] is None or interval[1] is None:
        return ""
    low, high = interval[0], interval[1]
    if unit == "%":
        return minus(f"[{low * 100:.1f}, {high * 100:.1f}]")
    if unit == "s":
        return minus(f"[{low:.2f}, {high:.2f}]")
    return f"[{fmt_sig(low)}, {fmt_sig(high)}]"


def fmt_p(p: float | None) -> str:
    if p is None or not finite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


# ---------------------------------------------------------------- SVG plots


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 × 10^k steps)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks: list[float] = []
    value = first
    while value < high - 1e-9 * step or not ticks:
        ticks.append(round(value, 12))
        value += step
    ticks.append(round(value, 12))
    return ticks


class _Canvas:
    """A plot area inside an SVG of fixed size, with data → pixel mapping and a few marks."""

    def __init__(
        self, width: int, height: int, title: str, left: int = 48, bottom: int = 34
    ) -> None:
        self.width, self.height, self.title = width, height, title
        self.x0, self.x1, self.y0, self.y1 = left, width - 18, 30, height - bottom
        self.parts: list[str] = [
            f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-weight="600" '
            f'font-size="12">{esc(title)}</text>'
        ]
        self.ylo, self.yhi = 0.0, 1.0

    def y(self, value: float) -> float:
        span = (self.yhi - self.ylo) or 1.0
        return self.y1 - (value - self.ylo) / span * (self.y1 - self.y0)

    def y_axis(self, ticks: list[float], label: Callable[[float], str]) -> None:
        self.ylo, self.yhi = ticks[0], ticks[-1]
        for tick in ticks:
            y = self.y(tick)
            self.parts.append(
                f'<line x1="{self.x0}" x2="{self.x1}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="#e4e7eb" stroke-width="1"/>'
                f'<text x="{self.x0 - 4}" y="{y + 3.5:.1f}" text-anchor="end" '
                f'fill="#656d76">{esc(label(tick))}</text>'
            )

    def text(self, x: float, y: float, text: str, anchor: str = "middle", **attrs: str) -> None:
        extra = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{esc(text)}</text>'
        )

    def svg(self) -> str:
        axis = (
            f'<line x1="{self.x0}" x2="{self.x1}" y1="{self.y1}" y2="{self.y1}" stroke="#8c959f"/>'
        )
        return (
            f'<svg class="plot" viewBox="0 0 {self.width} {self.height}" width="{self.width}" '
            f'height="{self.height}" role="img" aria-label="{esc(self.title)}" '
            f'font-family="system-ui, sans-serif" font-size="11">'
            + "".join(self.parts)
            + axis
            + "</svg>"
        )


def pct(value: float) -> str:
    return (
        f"{value * 100:.0f} %"
        if abs(value * 100 - round(value * 100)) < 1e-6
        else (f"{value * 100:.1f} %")
    )


def success_svg(row: MetricComparison) -> str:
    """Baseline and candidate success rates as two bars with their confidence whiskers."""
    canvas = _Canvas(340, 220, "Success rate")
    canvas.y_axis([0.0, 0.25, 0.5, 0.75, 1.0], pct)
    bars = (
        ("baseline", row.baseline, row.baseline_interval, row.n_baseline, BASE_COLOUR),
        ("candidate", row.candidate, row.candidate_interval, row.n_candidate, CAND_COLOUR),
    )
    slot = (canvas.x1 - canvas.x0) / 2
    for i, (name, value, interval, n, colour) in enumerate(bars):
        centre = canvas.x0 + slot * (i + 0.5)
        half = slot * 0.28
        if value is not None and finite(value):
            top = canvas.y(value)
            canvas.parts.append(
                f'<rect x="{centre - half:.1f}" y="{top:.1f}" width="{2 * half:.1f}" '
                f'height="{canvas.y1 - top:.1f}" fill="{colour}" fill-opacity="0.8"/>'
            )
            if interval is not None and finite(interval[0]) and finite(interval[1]):
                lo, hi = canvas.y(interval[0]), canvas.y(interval[1])
                canvas.parts.append(
                    f'<path d="M{centre:.1f} {lo:.1f}V{hi:.1f}M{centre - 8:.1f} {lo:.1f}'
                    f'H{centre + 8:.1f}M{centre - 8:.1f} {hi:.1f}H{centre + 8:.1f}" '
                    f'stroke="#1f2328" stroke-width="1.5" fill="none"/>'
                )
        ci = fmt_interval(interval, "%")
        canvas.text(centre, canvas.y1 + 14, f"{name} {fmt_value(value, '%')}", font_weight="600")
        canvas.text(centre, canvas.y1 + 28, f"n={n}" + (f" CI {ci}" if ci else ""), fill="#656d76")
    return canvas.svg()


def histogram_svg(title: str, unit: str, baseline: list[float], candidate: list[float]) -> str:
    """Overlaid distributions (share of each side's episodes per bin), means marked."""
    canvas = _Canvas(360, 236, title + (f" ({unit})" if unit else ""), bottom=50)
    values = baseline + candidate
    low, high = min(values), max(values)
    if high <= low:
        pad = abs(low) * 0.05 or 0.5
        low, high = low - pad, high + pad
    xticks = nice_ticks(low, high, 6)
    low, high = xticks[0], xticks[-1]
    bins = 20

    def x_of(v: float) -> float:
        return canvas.x0 + (v - low) / (high - low) * (canvas.x1 - canvas.x0)

    def shares(data: list[float]) -> list[float]:
        counts = [0] * bins
        for v in data:
            counts[min(bins - 1, max(0, int((v - low) / (high - low) * bins)))] += 1
        return [c / len(data) if data else 0.0 for c in counts]

    b, c = shares(baseline), shares(candidate)
    top = max([*b, *c, 0.01])
    canvas.y_axis(nice_ticks(0.0, top, 4), pct)
    width = (canvas.x1 - canvas.x0) / bins
    for i, share in enumerate(b):
        if share > 0:
            y = canvas.y(share)
            canvas.parts.append(
                f'<rect x="{canvas.x0 + i * width + 0.5:.1f}" y="{y:.1f}" '
                f'width="{width - 1:.1f}" height="{canvas.y1 - y:.1f}" fill="{BASE_COLOUR}" '
                f'fill-opacity="0.45"/>'
            )
    if candidate:
        path = [f"M{canvas.x0:.1f} {canvas.y1:.1f}"]
        for i, share in enumerate(c):
            path.append(f"V{canvas.y(share):.1f}H{canvas.x0 + (i + 1) * width:.1f}")
        path.append(f"V{canvas.y1:.1f}")
        canvas.parts.append(
            f'<path d="{"".join(path)}" fill="none" stroke="{CAND_COLOUR}" stroke-width="2"/>'
        )
    for tick in xticks:
        canvas.text(x_of(tick), canvas.y1 + 14, fmt_tick(tick), fill="#656d76")
    for i, (name, data, colour) in enumerate(
        (("baseline", baseline, BASE_COLOUR), ("candidate", candidate, CAND_COLOUR))
    ):
        if not data:
            continue
        mean = sum(data) / len(data)
        canvas.parts.append(
            f'<line x1="{x_of(mean):.1f}" x2="{x_of(mean):.1f}" y1="{canvas.y0:.1f}" '
            f'y2="{canvas.y1:.1f}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 3"/>'
        )
        x, y = canvas.x0, canvas.y1 + 30 + 14 * i
        swatch = (
            f'fill="{colour}" fill-opacity="0.45"' if i == 0 else f'fill="none" stroke="{colour}"'
        )
        canvas.parts.append(f'<rect x="{x}" y="{y - 8}" width="9" height="9" {swatch}/>')
        canvas.text(x + 14, y, f"{name}: n={len(data)}, mean {fmt_sig(mean)}", "start")
    return canvas.svg()


def sorted_bars_svg(
    title: str,
    values: list[tuple[str, float]],
    threshold: float | None,
    label: Callable[[float], str],
    max_bars: int = 300,
) -> str:
    """One bar per episode, worst first, red above the gate's threshold (drawn as a line)."""
    canvas = _Canvas(540, 220, title, left=52)
    ordered = sorted(values, key=lambda kv: -kv[1])
    if len(ordered) > max_bars:  # a sorted profile resamples without losing its shape
        step = (len(ordered) - 1) / (max_bars - 1)
        ordered = [ordered[round(i * step)] for i in range(max_bars)]
        tooltips = False
    else:
        tooltips = True
    top = max([v for _, v in ordered] + [threshold or 0.0, 1e-9])
    canvas.y_axis(nice_ticks(0.0, top, 5), label)
    width = (canvas.x1 - canvas.x0) / max(len(ordered), 1)
    gap = 1.0 if width > 4 else 0.0
    for i, (name, value) in enumerate(ordered):
        y = canvas.y(max(value, 0.0))
        over = threshold is not None and value > threshold
        tip = f"<title>{esc(name)}: {esc(label(value))}</title>" if tooltips else ""
        canvas.parts.append(
            f'<rect x="{canvas.x0 + i * width:.2f}" y="{y:.1f}" width="{max(width - gap, 0.3):.2f}"'
            f' height="{canvas.y1 - y:.1f}" fill="{BAD_COLOUR if over else BASE_COLOUR}">'
            f"{tip}</rect>"
        )
    if threshold is not None and finite(threshold):
        y = canvas.y(threshold)
        canvas.parts.append(
            f'<line x1="{canvas.x0}" x2="{canvas.x1}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{BAD_COLOUR}" stroke-width="1.5" stroke-dasharray="6 3"/>'
        )
        canvas.text(canvas.x1 - 2, y - 4, f"gate limit {label(threshold)}", "end", fill=BAD_COLOUR)
    canvas.text(
        (canvas.x0 + canvas.x1) / 2,
        canvas.y1 + 16,
        f"{len(values)} re-rolled episode(s), worst first",
        fill="#656d76",
    )
    return canvas.svg()
