"""Viewer figures: time from launch to the window shown, and how long the UI thread is
blocked while the playhead is scrubbed across the demo episode (two cameras + plots).

    python benchmarks/bench_window.py [--runs 5]

Launch: a fresh ``python -m robotrace_desktop open <demo> --t 3.9s`` per run (offscreen), timed
from process start until the main window's first paint, against a baseline measured in the same
run: a fresh process that only imports PySide6 and shows an empty QMainWindow.
Scrubbing: 300 playhead moves at 120 Hz with scrubbing=True, then a settle; a 5 ms QTimer
heartbeat on the UI thread records every gap. Target: window ≤ 1.5 s; UI never blocked > 50 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_FIRST_PAINT = r"""
import sys, time
t0 = float(sys.argv[1])
from PySide6.QtCore import QObject, QEvent, QTimer
from PySide6.QtWidgets import QApplication
mode, catalog, episode = sys.argv[2], sys.argv[3], sys.argv[4]
app = QApplication([])

class Painted(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            print(f"{time.time() - t0:.4f}", flush=True)
            app.exit(0)
        return False

if mode == "baseline":
    from PySide6.QtWidgets import QMainWindow
    window = QMainWindow()
else:
    from pathlib import Path
    from robotrace_desktop.ui.main_window import MainWindow
    window = MainWindow(Path(catalog))
window.installEventFilter(Painted(window))
window.resize(1600, 1000)
window.show()
if mode != "baseline":
    window.open_episode(episode, 3_900_000_000)
QTimer.singleShot(20000, lambda: app.exit(1))
sys.exit(app.exec())
"""


def launch_seconds(mode: str, catalog: Path, episode: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    start = time.time()
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_PAINT, repr(start), mode, str(catalog), episode],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def scrub_stalls(catalog: Path, episode: str, moves: int = 300) -> tuple[float, float, int]:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from robotrace_desktop.catalog.store import Catalog
    from robotrace_desktop.episodes import resolve
    from robotrace_desktop.ui.episode_view import EpisodeView

    app = QApplication.instance() or QApplication([])
    cat = Catalog(catalog)
    view = EpisodeView(resolve(episode, cat), cat)
    view.resize(1600, 1000)
    view.show()
    deadline = time.monotonic() + 30
    while not view.settled() and time.monotonic() < deadline:
        app.processEvents()
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(beat)
    heartbeat.start()
    duration = view.info.duration_ns
    import random

    rng = random.Random(7)
    step = [0]

    def move() -> None:
        if step[0] >= moves:
            mover.stop()
            view.timeline.set_time(view.timeline.time_ns(), scrubbing=False)
            return
        step[0] += 1
        view.timeline.set_time(rng.randrange(duration), scrubbing=True)

    mover = QTimer()
    mover.setInterval(8)  # ~120 Hz
    mover.timeout.connect(move)
    mover.start()
    end = time.monotonic() + moves * 0.008 + 30
    while (mover.isActive() or not view.settled()) and time.monotonic() < end:
        app.processEvents()
    heartbeat.stop()
    view.shutdown()
    cat.close()
    gaps = gaps[1:]
    return max(gaps) * 1000, statistics.median(gaps) * 1000, len(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from robotrace_desktop.catalog.scanner import scan
    from robotrace_desktop.catalog.store import Catalog
    from robotrace_desktop.demo import write_demo_bundle

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ROBOTRACE_HOME"] = tmp
        bundle = write_demo_bundle(Path(tmp) / "demo")
        catalog_path = Path(tmp) / "catalog.sqlite"
        with Catalog(catalog_path) as catalog:
            scan(catalog, [bundle])
            episode = catalog.list_episodes()[0].id
        window = [launch_seconds("window", catalog_path, episode) for _ in range(args.runs)]
        base = [launch_seconds("baseline", catalog_path, episode) for _ in range(args.runs)]
        w, b = statistics.median(window), statistics.median(base)
        print(f"launch to first paint, demo episode open: {w:.3f} s median of {args.runs} "
              f"(target <= 1.5 s)")  # fmt: skip
        print(f"baseline empty QMainWindow:              {b:.3f} s  (ratio {w / b:.2f}x)")
        worst, median, beats = scrub_stalls(catalog_path, episode)
        print(f"scrubbing 300 moves at 120 Hz: UI heartbeat max gap {worst:.1f} ms, "
              f"median {median:.1f} ms over {beats} beats (target: never > 50 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
