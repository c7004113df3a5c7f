"""Colours that mean something in the viewer, decided once and Qt-free so they can be tested.

The playhead is red and nothing else is: curve colours, Explain severities and bookmarks are all
chosen far from it (CIE76 ΔE, see ``distance``), so "where am I" is never confused with "where
did something happen". Curves get a 20-colour palette by index within one plot, so a plot of up
to 20 channels never shows two curves in the same colour.
"""

from __future__ import annotations

import math

PLAYHEAD = "#e0102a"
BOOKMARK = "#00897b"  # teal: a person's mark, not a finding
# Severity of an Explain finding (timeline spans, table bars). No red: red is the playhead.
SEVERITY = {
    "critical": "#4a148c",
    "high": "#9c27b0",
    "medium": "#f9a825",
    "low": "#1565c0",
    "info": "#78909c",
}
SEVERITY_UNKNOWN = "#78909c"

# Distinct on white, no reds (Tableau-like first, darker and muted tones after).
PALETTE = (
    "#1f77b4",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#0b3d91",
    "#006d2c",
    "#b8860b",
    "#5e3c99",
    "#00838f",
    "#4e342e",
    "#6b8e23",
    "#2f4f4f",
    "#1b9e77",
    "#a6cee3",
    "#000000",
)


def color_for(index: int) -> str:
    """The curve colour of the ``index``-th channel of one plot (repeats only after 20)."""
    return PALETTE[index % len(PALETTE)]


def severity_color(severity: str) -> str:
    return SEVERITY.get(severity, SEVERITY_UNKNOWN)


def _lab(color: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of a ``#rrggbb`` colour."""
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def distance(a: str, b: str) -> float:
    """Perceptual distance (CIE76 ΔE) between two ``#rrggbb`` colours; ~2 is just noticeable."""
    return math.dist(_lab(a), _lab(b))


def contrast_ratio(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (4.5 is the minimum for body text)."""

    def luminance(color: str) -> float:
        channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
