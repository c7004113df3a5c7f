"""Redraw time of a 50 M-sample plot through the PlotPanel, against baselines in the same run.

Usage:
    python benchmarks/bench_plot.py [--samples 50000000] [--channels 1] [--runs 7] [--raw-baseline]

One channel of 50 M samples at 1 kHz (≈ 13.9 h) — or ``--channels 10 --samples 5000000`` — is
served by a synthetic EpisodeSource to a real SignalStore and PlotPanel (offscreen, 1400 × 500).
A "redraw" is what the panel does when the time range changes: compute each curve's view from
its min/max pyramid, ``setData``, and a forced synchronous repaint of every plot
(``viewport().repaint()``). Figures are medians over ``--runs`` redraws, each at a different
range so nothing is cached:

- zoomed out: the full range (50 M samples → ≤ 4 × width points per curve);
- zoomed in: a 2 s window at random places (raw samples);
- panning: a 10 min window sliding along.

Baselines measured in the same run: a plain numpy min/max reduction of the full range to
per-pixel buckets (what any envelope drawing must do at least once without a pyramid), and
with ``--raw-baseline`` pyqtgraph drawing the raw samples with its own ``clipToView`` +
``autoDownsample`` (peak method) — once, since it takes seconds. Also: pyramid build time
(store.prepare: the worker thread's job) and its memory overhead relative to the raw arrays.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PySide6.QtWidgets import QApplication  # noqa: E402

from robotrace_desktop.core.episode import (  # noqa: E402
    EpisodeInfo,
    EpisodeSource,
    SignalChunk,
    StreamInfo,
    StreamKind,
)
from robotrace_desktop.core.signal_store import SignalStore  # noqa: E402
from robotrace_desktop.ui.plots import PlotPanel  # noqa: E402

NS = 1_000_000_000
PERIOD_NS = 1_000_000  # 1 kHz
WIDTH, HEIGHT = 1400, 500


class SyntheticSource(EpisodeSource):
    """A torque-like signal: slow motion, noise, and a few single-sample spikes."""

    def __init__(self, info: EpisodeInfo, samples: int, channels: int) -> None:
        self.info, self.samples, self.channels = info, samples, channels

    def read_signal(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> SignalChunk:
        rng = np.random.default_rng(1)
        n = self.samples
        t = np.arange(n, dtype=np.int64) * PERIOD_NS
        values = np.empty((n, self.channels))
        phase = np.arange(n) / 600_000.0
        for c in range(self.channels):
            values[:, c] = np.sin(phase + c) * (3 + c) + rng.normal(0.0, 0.2, n)
            values[rng.integers(0, n, 5), c] = 40.0 + c
        names = tuple(f"effort/joint_{c + 1}" for c in range(self.channels))
        return SignalChunk(stream, names, t, values)


def median_ms(fn: Callable[[int], None], runs: int) -> tuple[float, float]:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50_000_000, help="samples per channel")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--raw-baseline", action="store_true", help="also time pyqtgraph raw")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication([])
    n, channels = args.samples, args.channels
    duration = n * PERIOD_NS
    names = tuple(f"effort/joint_{c + 1}" for c in range(channels))
    stream = StreamInfo("/joint_states", StreamKind.SIGNAL, n, names, 0, duration - PERIOD_NS)
    info = EpisodeInfo("bench", "bundle", "/bench", None, "bench", duration, streams=[stream])
    store = SignalStore(lambda: SyntheticSource(info, n, channels), info)
    refs = [("/joint_states", name) for name in names]
    total = n * channels
    print(
        f"{channels} channel(s) × {n:,} samples = {total:,} samples, {duration / NS / 3600:.1f} h"
    )

    start = time.perf_counter()
    store.load("/joint_states")
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    store.prepare(refs)
    build_s = time.perf_counter() - start
    raw_bytes = sum(
        store.pyramid(*r).t_ns.nbytes // channels + store.pyramid(*r).y.nbytes for r in refs
    )
    pyramid_bytes = sum(store.pyramid(*r).nbytes for r in refs)
    print(f"generate+load (synthetic source): {load_s:.2f} s")
    print(
        f"pyramid build (all channels): {build_s * 1000:.0f} ms "
        f"({build_s * 1e9 / total:.1f} ns/sample); memory {pyramid_bytes / 2**20:.0f} MiB "
        f"= {100 * pyramid_bytes / raw_bytes:.1f} % of the raw t+y arrays "
        f"({raw_bytes / 2**20:.0f} MiB)"
    )

    panel = PlotPanel(store)
    panel.resize(WIDTH, HEIGHT)
    panel.show()
    panel.show_channels(refs)
    while panel.is_loading():
        app.processEvents()
    app.processEvents()
    rows = panel.rows()
    width = int(rows[0].viewbox.width())

    def redraw(t0: int, t1: int) -> None:
        panel._set_x_range(t0 / NS, t1 / NS)
        panel.refresh_views()
        for row in rows:
            row.plot.viewport().repaint()

    rng = random.Random(3)
    jitter = [rng.randrange(0, 1000) * PERIOD_NS for _ in range(args.runs)]
    out_ms, out_max = median_ms(lambda i: redraw(jitter[i], duration - jitter[i]), args.runs)
    points = sum(len(c.item.getData()[0]) for r in rows for c in r.curves)
    starts = [rng.randrange(0, duration - 2 * NS) for _ in range(args.runs)]
    in_ms, in_max = median_ms(lambda i: redraw(starts[i], starts[i] + 2 * NS), args.runs)
    in_points = sum(len(c.item.getData()[0]) for r in rows for c in r.curves)
    pan0 = rng.randrange(0, duration // 2)
    pan_ms, pan_max = median_ms(
        lambda i: redraw(pan0 + i * 30 * NS, pan0 + i * 30 * NS + 600 * NS), args.runs
    )
    print(f"plot width {width} px; zoomed out draws {points:,} points, zoomed in {in_points:,}")
    print(f"redraw zoomed out (full range): median {out_ms:.1f} ms (max {out_max:.1f})")
    print(f"redraw zoomed in (2 s window):  median {in_ms:.1f} ms (max {in_max:.1f})")
    print(f"redraw panning (10 min window): median {pan_ms:.1f} ms (max {pan_max:.1f})")

    # baseline 1: numpy min/max of the full range into per-pixel buckets, every channel
    columns = [store.channel(*r)[1] for r in refs]

    def numpy_envelope(_: int) -> None:
        for y in columns:
            usable = len(y) // width * width
            block = y[:usable].reshape(width, -1)
            block.min(axis=1), block.max(axis=1)

    base_ms, _ = median_ms(numpy_envelope, max(3, args.runs // 2))
    print(
        f"baseline numpy min/max of the full range per pixel (no drawing): {base_ms:.1f} ms "
        f"→ zoomed-out redraw is {base_ms / out_ms:.1f}× faster"
    )

    if args.raw_baseline:
        import pyqtgraph as pg

        widget = pg.PlotWidget()
        widget.resize(WIDTH, HEIGHT // max(1, len(rows)))
        widget.show()
        app.processEvents()
        t_s = store.channel(*refs[0])[0] / NS
        item = widget.plot(pen="b")
        item.setClipToView(True)
        item.setDownsampling(auto=True, method="peak")
        start = time.perf_counter()
        item.setData(t_s, columns[0])
        widget.viewport().repaint()
        first_ms = (time.perf_counter() - start) * 1000
        raw_ms, _ = median_ms(
            lambda i: (
                widget.setXRange(jitter[i] / NS, (duration - jitter[i]) / NS, padding=0),
                widget.viewport().repaint(),
            ),
            3,
        )
        print(
            f"baseline pyqtgraph raw channel 1 (clipToView + autoDownsample peak): "
            f"setData+paint {first_ms:.0f} ms, then redraw full range median {raw_ms:.0f} ms"
        )
    panel.shutdown()
    store.close()


if __name__ == "__main__":
    main()
