"""Whether something pushed a joint over a span: its effort left the band it keeps elsewhere.

A joint whose reading stops dead while its command moves on is either a sensor that stopped
updating (a stall) or a joint really held (blocked, at a hard stop). The effort tells them
apart: holding a joint against its command takes more effort than moving the arm ever does,
while a stale reading leaves the effort as it was. The effort is the joint's measured effort,
or the torque command paired with it, matched by joint name.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis.causes._series import (
    NS,
    field_of,
    joint_of,
    robust_range,
    state_signals,
)
from robotrace_desktop.analysis.data import EpisodeData

Effort = tuple[str, str, np.ndarray, np.ndarray]  # stream, channel, t_ns, values
#: the effort's level before the span is taken over this much of the run just before it
_BEFORE_NS = int(0.5 * NS)


def efforts_by_joint(data: EpisodeData) -> dict[str, list[Effort]]:
    """joint name → its effort series: measured efforts, and torque commands (named by the
    measured effort they are paired with)."""
    found: dict[str, list[Effort]] = {}
    for signal in state_signals(data):
        for k, channel in enumerate(signal.channels):
            if field_of(signal.stream, channel) == "effort":
                column = signal.values[:, k]
                if np.isfinite(column).sum() > 8 and np.nanmax(column) > np.nanmin(column):
                    found.setdefault(joint_of(channel), []).append(
                        (signal.stream, channel, signal.t_ns, column)
                    )
    for (cs, cc), (ms, mc) in data.pairs():
        if field_of(ms, mc) == "effort":
            sig = data.signal(cs)
            if sig is not None and len(sig.t_ns) > 8:
                found.setdefault(joint_of(mc), []).append((cs, cc, sig.t_ns, sig.column(cc)))
    return found


def joint_efforts(data: EpisodeData, joint: str) -> list[Effort]:
    """The joint's measured efforts and the torque commands paired with them."""
    return efforts_by_joint(data).get(joint, [])


def effort_rise(
    effort: Effort, t0: int, t1: int, beyond_share: float, *, run_up_ns: int | None = None
) -> float:
    """How far the effort departs over [t0, t1] from its level just before, as a share of its
    range — 0 unless it also leaves the band (1st-99th percentile) it keeps over the rest of
    the run by ``beyond_share`` of that band's width: an effort that only moves within its
    usual band is the arm moving, not a push. With ``run_up_ns``, leaving the band it kept
    over the run before the span (when that run is at least this long) counts too: a push
    released slowly (an integrator unwinding) leaves the effort high for a while after the
    span, which widens the rest's band with the push itself."""
    _, _, t_ns, values = effort
    lo, a, b = np.searchsorted(t_ns, (t0 - _BEFORE_NS, t0, t1))
    before, during = values[lo:a], values[a:b]
    before, during = before[np.isfinite(before)], during[np.isfinite(during)]
    scale = robust_range(values)
    if before.size < 2 or during.size < 2 or scale <= 0:
        return 0.0
    bands = [np.concatenate((values[:a], values[b:]))]
    if run_up_ns is not None and a > 0 and t_ns[a - 1] - t_ns[0] >= run_up_ns:
        bands.append(values[:a])
    for band in bands:
        band = band[np.isfinite(band)]
        if band.size < 8:
            continue
        low, high = np.percentile(band, [1.0, 99.0])
        beyond = max(float(during.max()) - high, low - float(during.min()))
        if beyond >= beyond_share * max(float(high - low), 1e-12):
            return float(np.max(np.abs(during - np.median(before)))) / scale
    return 0.0
