"""Scale: a 5 GB rosbag2 and a 10,000-episode LeRobot dataset — scan, show, open + scrub in the
viewer and the catalog browser, with wall time and peak memory (issue 7, "Scale").

    python benchmarks/bench_scale.py [--runs 3] [--seeks 200] [--size-gb 5] [--episodes 10000]
                                     [--sqlite3]

Inputs are generated once and cached under benchmarks/_work/scale/ (git-ignored):
``big_mcap_5gb`` (benchmarks/gen_rosbag.py big: two 640x480 rgb8 cameras at 15 Hz and
/joint_states at 500 Hz) and ``lerobot_10k`` (benchmarks/gen_lerobot.py --videos: v2.1, 26-dim
state/action, a tiny 64x48 H.264 mp4 per episode). Every measured step runs in a FRESH
subprocess (the page cache is warm after the first run: these are warm-cache figures); peak RSS
is the child's own ru_maxrss. Cheap steps are the median of ``--runs``. ``--sqlite3`` adds a
5 GiB sqlite3 bag (same content) to the scan, show and viewer steps.

Steps: scan (first scan into an empty catalog, then an unchanged re-scan; ``--no-explain`` —
Explain is benchmarked in bench_explain.py), ``show``, open + scrub in the viewer offscreen
(``--seeks`` seeks, in blocks of random jumps and +1-frame steps, each waited for until every
pane shows the exact frame and the plots are loaded; RSS after 50/100/200 seeks) and the
catalog browser with all 10,001 rows (window filled, search filter, sort). Baselines in the same
run: Python + ``import robotrace_desktop.cli``; rosbags AnyReader opening the bag (its summary
and connections); os.walk + stat of the dataset and pyarrow reading meta/*.jsonl. Nothing here
asserts; it prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / "_work" / "scale"
RESULT = "RESULT "
LOCAL_CACHE_BYTES = 96 << 20  # robotrace_desktop/ui/video_worker.py (not imported: no Qt here)


# --- child processes ---------------------------------------------------------------------------


def run_child(argv: Sequence[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``argv`` in a fresh process: wall time plus the child's RESULT json (peak RSS...)."""
    full_env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, text=True
    )
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    # Each child reports its own peak RSS (ru_maxrss) in its RESULT line.
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{err[-3000:]}")
    result: dict[str, float] = {"wall_s": wall}
    for line in out.splitlines():
        if line.startswith(RESULT):
            result.update(json.loads(line[len(RESULT) :]))
    return result


_MEASURED = r"""
import json, os, resource, runpy, sys, time
start = time.perf_counter()
sys.argv = sys.argv[1:]
code = 0
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code or 0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
sys.stdout.flush()
print("RESULT " + json.dumps({"inner_s": time.perf_counter() - start, "rss_mb": peak}))
sys.exit(code)
"""


def cli(catalog: Path, *args: str) -> dict[str, float]:
    """``robotrace-desktop --catalog CATALOG ARGS`` in a fresh interpreter, with its peak RSS."""
    return run_child(
        [sys.executable, "-c", _MEASURED, "robotrace_desktop", "--catalog", str(catalog), *args]
    )


def python_snippet(code: str, *args: str) -> dict[str, float]:
    """A baseline: ``code`` in a fresh interpreter (wall includes the interpreter start)."""
    wrapped = (
        "import json, resource, sys, time\n_t0 = time.perf_counter()\n"
        + code
        + "\nprint('RESULT ' + json.dumps({'inner_s': time.perf_counter() - _t0, 'rss_mb': "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    return run_child([sys.executable, "-c", wrapped, *args])


def this_script(*args: str) -> dict[str, float]:
    return run_child([sys.executable, str(Path(__file__).resolve()), "--child", *args])


def rss_now_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB, from /proc/self/status."""
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


# --- children: viewer and browser ----------------------------------------------------------------


def _wait(app: object, condition: Callable[[], bool], timeout: float = 120.0) -> bool:
    end = time.perf_counter() + timeout
    while not condition():
        app.processEvents()  # type: ignore[attr-defined]
        if time.perf_counter() > end:
            return False
        time.sleep(0.0005)
    return True


def child_scrub(catalog_path: str, episode: str, seeks: int) -> None:
    """Open the episode view like MainWindow.open_episode does, then scrub it."""
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from robotrace_desktop.catalog.store import Catalog
    from robotrace_desktop.episodes import resolve
    from robotrace_desktop.ui.episode_view import EpisodeView
    from robotrace_desktop.video.cache import default_cache

    app = QApplication.instance() or QApplication([])
    rss_start, _ = rss_now_mb()
    start = time.perf_counter()
    catalog = Catalog(Path(catalog_path))
    view = EpisodeView(resolve(episode, catalog), catalog)
    view.resize(1600, 1000)
    view.show()
    _wait(app, lambda: all(p.is_settled() for p in view.panes.values()))
    frames_s = time.perf_counter() - start
    ok = _wait(app, view.settled)
    open_s = time.perf_counter() - start
    rss_open, _ = rss_now_mb()
    times = view.frame_times()
    camera = next(iter(times))
    frame_times = np.asarray(times[camera])
    duration = view.info.duration_ns
    rng = random.Random(11)
    latencies: list[float] = []
    rss_at: dict[str, float] = {}
    unsettled = 0 if ok else 1
    slow: list[tuple[int, str, float]] = []
    index = 0
    for k in range(seeks):
        if k % 10 < 5:  # a jump: click / fast drag somewhere else
            t = rng.randrange(duration)
            index = int(np.searchsorted(frame_times, t, side="right")) - 1
        else:  # a step: → to the next frame of the first camera
            index = min(max(index, 0) + 1, len(frame_times) - 1)
            t = int(frame_times[index])
        began = time.perf_counter()
        view.timeline.set_time(t, scrubbing=True)
        if not _wait(app, view.settled, 60.0):
            unsettled += 1
        latencies.append(time.perf_counter() - began)
        if latencies[-1] > 0.5:
            slow.append((k, "jump" if k % 10 < 5 else "step", round(latencies[-1], 3)))
        if (k + 1) % 50 == 0 or k + 1 == seeks:
            rss_at[str(k + 1)] = rss_now_mb()[0]
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    result = {
        "open_s": open_s,
        "frames_s": frames_s,
        "rss_open_mb": rss_open,
        "slow": slow,
        "frames": len(frame_times),
        "seek_p50_ms": statistics.median(latencies) * 1e3,
        "seek_p95_ms": p95 * 1e3,
        "seek_max_ms": latencies[-1] * 1e3,
        "rss_start_mb": rss_start,
        "rss_at": rss_at,
        "hwm_mb": rss_now_mb()[1],
        "cache_mb": default_cache().nbytes / 2**20,
        # sources without their own cache (ROS image topics) use one per pane's worker
        "local_cache_mb": sum(
            getattr(getattr(getattr(p, "_worker", None), "_local", None), "nbytes", 0)
            for p in view.panes.values()
        )
        / 2**20,
        "panes": len(view.panes),
        "cache_budget_mb": default_cache().budget_bytes / 2**20,
        "unsettled": unsettled,
    }
    view.shutdown()
    catalog.close()
    print(RESULT + json.dumps(result), flush=True)


def child_browser(catalog_path: str) -> None:
    """MainWindow on the catalog: window shown with every row, then a search and a sort."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from robotrace_desktop.ui.catalog_model import COLUMN_KEYS
    from robotrace_desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    start = time.perf_counter()
    window = MainWindow(Path(catalog_path))
    window.resize(1600, 1000)
    window.show()
    browser = window.browser
    _wait(app, lambda: len(browser.model.rows()) > 0)
    for _ in range(3):
        app.processEvents()
    window.grab()  # a full paint of the filled table
    shown_s = time.perf_counter() - start
    rows = len(browser.model.rows())  # episodes (a dataset is one expandable row)
    rss_shown, _ = rss_now_mb()

    began = time.perf_counter()
    browser.set_search("#7777")
    app.processEvents()
    window.grab()
    search_s = time.perf_counter() - began
    matched = sum(browser.proxy.accepts(r) for r in browser.model.rows())  # episodes
    began = time.perf_counter()
    browser.set_search("")
    app.processEvents()
    window.grab()
    clear_s = time.perf_counter() - began
    began = time.perf_counter()
    browser.table.sortByColumn(COLUMN_KEYS.index("duration"), Qt.SortOrder.DescendingOrder)
    app.processEvents()
    window.grab()
    sort_s = time.perf_counter() - began
    began = time.perf_counter()
    browser.table.sortByColumn(COLUMN_KEYS.index("name"), Qt.SortOrder.AscendingOrder)
    app.processEvents()
    window.grab()
    sort_name_s = time.perf_counter() - began
    result = {
        "shown_s": shown_s,
        "rows": rows,
        "rss_shown_mb": rss_shown,
        "search_s": search_s,
        "search_rows": matched,
        "clear_s": clear_s,
        "sort_duration_s": sort_s,
        "sort_name_s": sort_name_s,
        "hwm_mb": rss_now_mb()[1],
    }
    window.close()
    print(RESULT + json.dumps(result), flush=True)


# --- baselines ---------------------------------------------------------------------------------

ROSBAGS_OPEN = """
from pathlib import Path
from rosbags.highlevel import AnyReader
with AnyReader([Path(sys.argv[1])]) as reader:
    count = sum(c.msgcount for c in reader.connections)
    duration = reader.duration
assert count > 0
"""

LEROBOT_META = """
import os
from pathlib import Path
import pyarrow.json as pj
import pyarrow.parquet as pq
root = Path(sys.argv[1])
files = 0
for folder, _dirs, names in os.walk(root):
    for name in names:
        os.stat(os.path.join(folder, name))
        files += 1
episodes = pj.read_json(root / "meta" / "episodes.jsonl")
stats = pj.read_json(root / "meta" / "episodes_stats.jsonl")
first = next((root / "data").rglob("*.parquet"))
pq.read_metadata(first)
assert episodes.num_rows > 0 and files > 0
"""


# --- the parent ----------------------------------------------------------------------------------


def ensure_bag(size_gb: float, storage: str) -> Path:
    bag = WORK / f"big_{storage}_{size_gb:g}gb"
    if not bag.exists():
        print(f"generating {bag} ...", flush=True)
        subprocess.run(
            [sys.executable, str(REPO / "benchmarks/gen_rosbag.py"), "big", "--size-gb",
             str(size_gb), "--storage", storage, str(bag)],
            check=True,
        )  # fmt: skip
    return bag


def ensure_inputs(size_gb: float, episodes: int) -> tuple[Path, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    bag = ensure_bag(size_gb, "mcap")
    dataset = WORK / f"lerobot_{episodes // 1000}k" if episodes % 1000 == 0 else WORK / "lerobot"
    if not (dataset / "meta" / "info.json").exists():
        print(f"generating {dataset} ...", flush=True)
        subprocess.run(
            [sys.executable, str(REPO / "benchmarks/gen_lerobot.py"), "--episodes",
             str(episodes), "--version", "v2.1", "--videos", str(dataset)],
            check=True,
        )  # fmt: skip
    return bag, dataset


def folder_size(path: Path) -> tuple[int, int]:
    total = files = 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            total += os.stat(os.path.join(folder, name)).st_size
            files += 1
    return total, files


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, step: str, time_text: str, rss_text: str, note: str = "") -> None:
        self.rows.append((step, time_text, rss_text, note))
        print(f"  {step:<46} {time_text:>12} {rss_text:>10}  {note}", flush=True)

    def print(self) -> None:
        print(f"\n{'step':<48} {'time':>12} {'peak RSS':>10}  notes")
        for step, time_text, rss_text, note in self.rows:
            print(f"{step:<48} {time_text:>12} {rss_text:>10}  {note}")


def median_of(results: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def timed(
    table: Table, step: str, runs: int, fn: Callable[[], dict[str, float]], note: str = ""
) -> dict[str, float]:
    results = [fn() for _ in range(runs)]
    wall = median_of(results, "wall_s")
    rss = median_of(results, "rss_mb") if "rss_mb" in results[0] else float("nan")
    table.add(step, f"{wall:.2f} s", f"{rss:.0f} MB", f"median of {runs}; {note}".rstrip("; "))
    return {"wall_s": wall, "rss_mb": rss}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scan-runs", type=int, default=3, help="first scans of each input")
    parser.add_argument("--seeks", type=int, default=200)
    parser.add_argument("--size-gb", type=float, default=5.0)
    parser.add_argument("--episodes", type=int, default=10000)
    parser.add_argument(
        "--sqlite3", action="store_true", help="also a 5 GiB sqlite3 bag: scan, show, viewer"
    )
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        kind, *rest = args.child
        if kind == "scrub":
            child_scrub(rest[0], rest[1], int(rest[2]))
        elif kind == "browser":
            child_browser(rest[0])
        return 0

    bag, dataset = ensure_inputs(args.size_gb, args.episodes)
    sqlite_bag = ensure_bag(args.size_gb, "sqlite3") if args.sqlite3 else None
    bag_bytes, _ = folder_size(bag)
    ds_bytes, ds_files = folder_size(dataset)
    print(f"bag: {bag} — {bag_bytes / 2**30:.2f} GiB mcap")
    print(f"dataset: {dataset} — {args.episodes} episodes, {ds_files} files, "
          f"{ds_bytes / 2**30:.2f} GiB")  # fmt: skip
    catalogs = WORK / "catalogs"
    shutil.rmtree(catalogs, ignore_errors=True)
    catalogs.mkdir()
    os.environ["ROBOTRACE_HOME"] = str(WORK / "home")
    table = Table()
    runs = args.runs

    print("\n== baselines")
    base_py = timed(table, "baseline: python + import cli", runs, lambda: python_snippet(
        "import robotrace_desktop.cli"))  # fmt: skip
    base_bag = timed(table, "baseline: rosbags AnyReader open (bag)", runs, lambda: python_snippet(
        ROSBAGS_OPEN, str(bag)), "summary + connections")  # fmt: skip
    base_ds = timed(table, "baseline: walk+stat + pyarrow jsonl (dataset)", runs,
                    lambda: python_snippet(LEROBOT_META, str(dataset)),
                    f"{ds_files} files")  # fmt: skip

    print("\n== scan (--no-explain)")
    counter = iter(range(10**6))

    def first_scan(path: Path) -> dict[str, float]:
        return cli(catalogs / f"first_{next(counter)}.sqlite", "scan", str(path), "--no-explain")

    bag_first = timed(table, "scan bag, first", args.scan_runs, lambda: first_scan(bag))
    ds_first = timed(table, "scan dataset, first", args.scan_runs, lambda: first_scan(dataset))
    both = catalogs / "both.sqlite"
    cli(both, "scan", str(bag), str(dataset), "--no-explain")
    bag_re = timed(table, "re-scan bag, unchanged", runs, lambda: cli(
        both, "scan", str(bag), "--no-explain"))  # fmt: skip
    if sqlite_bag is not None:
        timed(table, "scan sqlite3 bag, first", args.scan_runs, lambda: first_scan(sqlite_bag))
        cli(both, "scan", str(sqlite_bag), "--no-explain")
        timed(table, "re-scan sqlite3 bag, unchanged", runs, lambda: cli(
            both, "scan", str(sqlite_bag), "--no-explain"))  # fmt: skip
    ds_re = timed(table, "re-scan dataset, unchanged", runs, lambda: cli(
        both, "scan", str(dataset), "--no-explain"))  # fmt: skip

    print("\n== show")
    bag_show = timed(table, "show bag", runs, lambda: cli(both, "show", str(bag)))
    if sqlite_bag is not None:
        timed(table, "show sqlite3 bag", runs, lambda: cli(both, "show", str(sqlite_bag)))
    ds_show = timed(table, "show dataset #5000", runs, lambda: cli(
        both, "show", f"{dataset}#5000"))  # fmt: skip

    print("\n== viewer: open + scrub (offscreen, 1600x1000)")
    viewed = [("bag", str(bag)), ("dataset #5000", f"{dataset}#5000")]
    if sqlite_bag is not None:
        viewed.insert(1, ("sqlite3 bag", str(sqlite_bag)))
    for label, episode in viewed:
        r = this_script("scrub", str(both), episode, str(args.seeks))
        table.add(
            f"open {label}: every camera shows its frame", f"{r['frames_s']:.2f} s", "",
            f"{int(r['frames'])} frames in the first camera",
        )  # fmt: skip
        table.add(
            f"open {label}: plots loaded too", f"{r['open_s']:.2f} s",
            f"{r['rss_open_mb']:.0f} MB", "RSS when settled",
        )  # fmt: skip
        seek_ms = f"{r['seek_p50_ms']:.0f}/{r['seek_p95_ms']:.0f} ms"
        table.add(
            f"seek {label} p50/p95", seek_ms, "",
            f"{args.seeks} seeks, max {r['seek_max_ms']:.0f} ms, {int(r['unsettled'])} "
            f"unsettled, {len(r['slow'])} over 0.5 s",
        )  # fmt: skip
        marks = list(r["rss_at"])[:8]  # every 50 seeks
        table.add(
            f"RSS after {'/'.join(marks)} seeks", "",
            "/".join(f"{r['rss_at'][m]:.0f}" for m in marks) + " MB",
            f"{label}: peak {r['hwm_mb']:.0f} MB; shared frame cache {r['cache_mb']:.0f} of "
            f"{r['cache_budget_mb']:.0f} MB, worker caches {r['local_cache_mb']:.0f} of "
            f"{int(r['panes'])} x {LOCAL_CACHE_BYTES >> 20} MB",
        )  # fmt: skip

    print("\n== catalog browser")
    browser = [this_script("browser", str(both)) for _ in range(runs)]
    table.add(
        f"browser: window filled ({int(browser[0]['rows'])} rows)",
        f"{median_of(browser, 'shown_s'):.2f} s", f"{median_of(browser, 'hwm_mb'):.0f} MB",
        f"median of {runs}; RSS when shown {median_of(browser, 'rss_shown_mb'):.0f} MB",
    )  # fmt: skip
    table.add(
        "browser: search '#7777'", f"{median_of(browser, 'search_s') * 1e3:.0f} ms", "",
        f"{int(browser[0]['search_rows'])} row(s); clearing it "
        f"{median_of(browser, 'clear_s') * 1e3:.0f} ms",
    )  # fmt: skip
    table.add(
        "browser: sort by duration / by name",
        f"{median_of(browser, 'sort_duration_s') * 1e3:.0f}/"
        f"{median_of(browser, 'sort_name_s') * 1e3:.0f} ms", "",
    )  # fmt: skip

    table.print()
    print("\nratios (noisy machine: compare with the baselines of this run)")
    ratios = [
        ("first scan bag / rosbags open", bag_first, base_bag),
        ("re-scan bag / python+import", bag_re, base_py),
        ("first scan dataset / walk+stat+jsonl", ds_first, base_ds),
        ("re-scan dataset / walk+stat+jsonl", ds_re, base_ds),
        ("show bag / python+import", bag_show, base_py),
        ("show dataset / python+import", ds_show, base_py),
    ]
    for label, value, base in ratios:
        print(f"  {label:<40} {value['wall_s'] / base['wall_s']:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
