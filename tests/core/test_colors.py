"""The playhead is the only red; curves of one plot never share a colour up to 20 channels."""

from __future__ import annotations

from itertools import combinations

from robotrace_desktop.core import colors


def test_twenty_distinct_curve_colours() -> None:
    palette = [colors.color_for(i) for i in range(20)]
    assert len(set(palette)) == 20
    assert min(colors.distance(a, b) for a, b in combinations(palette, 2)) > 15
    assert colors.color_for(20) == colors.color_for(0)  # repeats only past 20


def test_playhead_colour_is_used_by_nothing_else() -> None:
    others = [*colors.PALETTE, *colors.SEVERITY.values(), colors.BOOKMARK]
    assert min(colors.distance(colors.PLAYHEAD, c) for c in others) > 40
    # the marks differ from each other too: a bookmark is not a finding
    assert min(colors.distance(colors.BOOKMARK, c) for c in colors.SEVERITY.values()) > 25


def test_distance_and_contrast() -> None:
    assert colors.distance("#000000", "#000000") == 0
    assert round(colors.distance("#000000", "#ffffff")) == 100
    assert round(colors.contrast_ratio("#000000", "#ffffff")) == 21
    assert colors.contrast_ratio("#263238", "#ffffff") > 7
