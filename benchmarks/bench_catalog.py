"""Catalog at 100k-1M episodes (issue 16): first scan of 100,000 LeRobot episodes against the
metadata floor, every ``list`` filter on 100,000 rows against the same SQL in Python, and the
catalog browser on a 1,000,000-row catalog (open, sort, memory).

    python benchmarks/bench_catalog.py [--runs 3] [--skip-scan] [--skip-browser]
                                       [--browser-rows 1000000] [--datasets DIR]

Inputs are built once under benchmarks/_work/catalog/ (git-ignored): ``lerobot/ds00..ds09``
(``gen_lerobot.py --episodes 10000``, v2.1 without videos, copied ten times: 100,000 episodes;
``--datasets DIR`` uses ten datasets already there) and synthetic catalogs of 100,000 and
``--browser-rows`` rows (``gen_catalog.py``: through ``Catalog.upsert_episodes``, no files).
Every measured step runs in a fresh process and reports its own peak RSS; each figure is the
median of ``--runs`` rounds, and each round runs the floor right before the step, so the
ratios compare like with like on a shared machine.

Floors: scan — what the scan itself must read to know the episodes: ``os.walk`` + ``stat`` of
every file of the datasets (the fingerprint), ``meta/info.json`` and pyarrow reading each
``meta/tasks.jsonl``, ``meta/episodes.jsonl`` and ``meta/episodes_stats.jsonl`` (v2.1 lists
every episode's length, so no parquet footer is read); list — the listing's SQL
(``episode_view``, the same WHERE and ORDER BY) fetched whole by ``sqlite3`` in a fresh Python.
Beside wall times the scan prints CPU seconds (user + sys of the child, all its threads): on a
shared machine they move less than wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench_scale import RESULT, rss_now_mb, run_child  # noqa: E402

WORK = Path(os.environ.get("ROBOTRACE_BENCH_WORK", REPO / "benchmarks" / "_work" / "catalog"))
DATASETS = 10
PER_DATASET = 10_000

SCAN_FLOOR = """
import os
from pathlib import Path
import pyarrow.json as pj
for arg in sys.argv[1:]:
    root = Path(arg)
    for folder, _dirs, names in os.walk(root):
        for name in names:
            os.stat(os.path.join(folder, name))
    info = json.loads((root / "meta" / "info.json").read_bytes())
    tasks = pj.read_json(root / "meta" / "tasks.jsonl")
    episodes = pj.read_json(root / "meta" / "episodes.jsonl")
    stats = pj.read_json(root / "meta" / "episodes_stats.jsonl")
    assert episodes.num_rows > 0 and info["features"]
"""

SQL_FLOOR = """
import sqlite3
conn = sqlite3.connect(sys.argv[1])
params = json.loads(sys.argv[3])
rows = conn.execute(sys.argv[2], params).fetchall()
print("ROWS", len(rows))
"""

#: (label, list flags, the same listing's SQL and parameters)
FILTERS: tuple[tuple[str, list[str], str, list[object]], ...] = (
    ("--cause action_saturation", ["--cause", "action_saturation"],
     "id IN (SELECT episode_id FROM findings WHERE cause = ? AND confidence >= 0.5)",
     ["action_saturation"]),
    ("--robot g1", ["--robot", "g1"], "robot = ?", ["g1"]),
    ("--policy pi-3.1", ["--policy", "pi-3.1"], "policy_version = ?", ["pi-3.1"]),
    ("--env env-2", ["--env", "env-2"], "env_version = ?", ["env-2"]),
    ("--status failed", ["--status", "failed"], "status = ?", ["failed"]),
    ("--outcome failure", ["--outcome", "failure"], "outcome = ?", ["failure"]),
    ("--kind lerobot --robot koch", ["--kind", "lerobot", "--robot", "koch"],
     "kind = ? AND robot = ?", ["lerobot", "koch"]),
)  # fmt: skip


#: the child's own peak RSS. Not ru_maxrss: on Linux that survives exec, so a child forked
#: from a parent holding 100 MB of captured listings reported the parent's size, not its own.
_HWM = (
    "def _hwm():\n"
    "    for line in open('/proc/self/status', encoding='ascii'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return int(line.split()[1]) / 1024\n"
)

_MEASURED = (
    "import json, os, runpy, sys, time\n" + _HWM + "start = time.perf_counter()\n"
    "sys.argv = sys.argv[1:]\n"
    "code = 0\n"
    "try:\n"
    "    runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
    "except SystemExit as exc:\n"
    "    code = exc.code or 0\n"
    "sys.stdout.flush()\n"
    "cpu = sum(os.times()[:2])\n"
    "print('RESULT ' + json.dumps({'inner_s': time.perf_counter() - start, 'rss_mb': _hwm(),"
    " 'cpu_s': cpu}))\n"
    "sys.exit(code)\n"
)


def cli(catalog: Path, *args: str) -> dict[str, float]:
    """``robotrace-desktop --catalog CATALOG ARGS`` in a fresh interpreter, with its peak RSS."""
    return run_child(
        [sys.executable, "-c", _MEASURED, "robotrace_desktop", "--catalog", str(catalog), *args]
    )


def python_snippet(code: str, *args: str) -> dict[str, float]:
    """A floor: ``code`` in a fresh interpreter (wall includes the interpreter start)."""
    wrapped = (
        "import json, os, sys, time\n" + _HWM + "_t0 = time.perf_counter()\n" + code + "\n"
        "print('RESULT ' + json.dumps({'inner_s': time.perf_counter() - _t0, 'rss_mb': _hwm(),"
        " 'cpu_s': sum(os.times()[:2])}))\n"
    )
    return run_child([sys.executable, "-c", wrapped, *args])


def ensure_datasets(given: Path | None) -> list[Path]:
    if given is not None:
        found = sorted(p for p in given.iterdir() if (p / "meta" / "info.json").is_file())
        return found[:DATASETS]
    root = WORK / "lerobot"
    first = root / "ds00"
    if not (first / "meta" / "info.json").exists():
        shutil.rmtree(first, ignore_errors=True)
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "gen_lerobot.py"),
                        "--episodes", str(PER_DATASET), str(first)], check=True)  # fmt: skip
    paths = [root / f"ds{n:02d}" for n in range(DATASETS)]
    for path in paths[1:]:
        if not path.exists():
            shutil.copytree(first, path)
    return paths


def ensure_catalog(rows: int) -> Path:
    path = WORK / f"synthetic_{rows}.sqlite"
    if not path.exists():
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "gen_catalog.py"),
                        "--episodes", str(rows), str(path)], check=True)  # fmt: skip
        cli(path, "list", "--status", "missing")  # migrate + warm once, outside the figures
    return path


def rounds(runs: int, *steps: Callable[[], dict[str, float]]) -> list[list[dict[str, float]]]:
    """``runs`` interleaved rounds of every step (floor first): results per step."""
    results: list[list[dict[str, float]]] = [[] for _ in steps]
    for _ in range(runs):
        for slot, step in zip(results, steps, strict=True):
            slot.append(step())
    return results


def med(results: list[dict[str, float]], key: str = "wall_s") -> float:
    return statistics.median(r[key] for r in results)


def bench_scan(runs: int, datasets: list[Path]) -> None:
    catalogs = WORK / "scan_catalogs"
    shutil.rmtree(catalogs, ignore_errors=True)
    catalogs.mkdir(parents=True)
    parent = datasets[0].parent
    counter = iter(range(10**6))

    def scan() -> dict[str, float]:
        target = catalogs / f"scan_{next(counter)}.sqlite"
        return cli(target, "scan", *map(str, datasets), "--no-explain")

    floor, scanned = rounds(runs, lambda: python_snippet(SCAN_FLOOR, *map(str, datasets)), scan)
    episodes = len(datasets) * PER_DATASET
    print(f"\n== first scan --no-explain of {len(datasets)} datasets under {parent} "
          f"({episodes:,} episodes), median of {runs}")  # fmt: skip
    print(f"  floor (walk+stat, info.json, pyarrow jsonl)  {med(floor):7.2f} s  "
          f"{med(floor, 'cpu_s'):6.2f} s CPU  {med(floor, 'rss_mb'):5.0f} MB")  # fmt: skip
    print(f"  scan                                         {med(scanned):7.2f} s  "
          f"{med(scanned, 'cpu_s'):6.2f} s CPU  {med(scanned, 'rss_mb'):5.0f} MB   "
          f"{med(scanned) / med(floor):.2f}x the floor (target <= 1.5x), CPU "
          f"{med(scanned, 'cpu_s') / med(floor, 'cpu_s'):.2f}x; "
          f"{episodes / med(scanned):,.0f} episodes/s")  # fmt: skip
    ratios = [s["wall_s"] / f["wall_s"] for f, s in zip(floor, scanned, strict=True)]
    print("  per round (scan / floor of the same round): "
          + ", ".join(f"{r:.2f}x" for r in ratios))  # fmt: skip


def bench_list(runs: int, catalog: Path) -> None:
    print(
        f"\n== list on {catalog.name}: median of {runs}, fresh process each (stdout read "
        "through a pipe); floor = the same SQL fetched by sqlite3 in a fresh Python"
    )
    print(f"  {'filter':<30} {'rows':>7} {'floor':>8} {'list':>8} {'ratio':>6} "
          f"{'list CPU':>8} {'RSS':>7}")  # fmt: skip
    for label, flags, where, params in FILTERS:
        sql = f"SELECT * FROM episode_view WHERE {where} ORDER BY path, episode_index"
        floor, listed = rounds(
            runs,
            lambda sql=sql, params=params: python_snippet(SQL_FLOOR, str(catalog), sql,
                                                          json.dumps(params)),
            lambda flags=flags: cli(catalog, "list", *flags),
        )  # fmt: skip
        rows = _count(catalog, flags)
        print(f"  {label:<30} {rows:>7,} {med(floor):7.2f}s {med(listed):7.2f}s "
              f"{med(listed) / med(floor):5.2f}x {med(listed, 'cpu_s'):7.2f}s "
              f"{med(listed, 'rss_mb'):5.0f}MB")  # fmt: skip


def _count(catalog: Path, flags: list[str]) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "robotrace_desktop", "--catalog", str(catalog), "list", *flags,
         "--json"], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return len(json.loads(out))


def child_browser(catalog_path: str) -> None:
    """The catalog browser on ``catalog_path``: shown and painted, then two sorts; RSS."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from robotrace_desktop.catalog.health import catalog_problem
    from robotrace_desktop.ui.catalog_browser import CatalogBrowser
    from robotrace_desktop.ui.catalog_model import COLUMN_KEYS

    app = QApplication.instance() or QApplication([])
    rss_before, _ = rss_now_mb()
    start = time.perf_counter()
    # the catalog's integrity check on its own (PRAGMA quick_check reads the whole file; it
    # runs once per version of the file, so ~0 when an earlier run checked this one), so
    # "shown" is what the browser itself costs
    catalog_problem(Path(catalog_path))
    check_s = time.perf_counter() - start
    start = time.perf_counter()
    browser = CatalogBrowser(Path(catalog_path))
    browser.resize(1600, 1000)
    browser.show()
    app.processEvents()
    browser.grab()
    shown_s = time.perf_counter() - start
    rss_shown, _ = rss_now_mb()
    timings = {}
    for key, order in (("duration", Qt.SortOrder.DescendingOrder),
                       ("name", Qt.SortOrder.AscendingOrder)):  # fmt: skip
        began = time.perf_counter()
        browser.table.sortByColumn(COLUMN_KEYS.index(key), order)
        app.processEvents()
        browser.grab()
        timings[f"sort_{key}_s"] = time.perf_counter() - began
    began = time.perf_counter()
    browser.table.verticalScrollBar().setValue(browser.table.verticalScrollBar().maximum())
    app.processEvents()
    browser.grab()
    timings["scroll_end_s"] = time.perf_counter() - began
    began = time.perf_counter()  # a search: 111 episodes of one dataset (11 of 10,000 rows)
    browser.set_search("dataset_0004 #19")
    app.processEvents()
    browser.grab()
    timings["search_s"] = time.perf_counter() - began
    began = time.perf_counter()
    browser.set_search("")
    app.processEvents()
    browser.grab()
    timings["search_cleared_s"] = time.perf_counter() - began
    began = time.perf_counter()  # open the first dataset: its episodes are read now
    first = browser.proxy.index(0, 0)
    browser.table.expand(first)
    browser.table.scrollTo(first)
    app.processEvents()
    browser.grab()
    timings["expand_s"] = time.perf_counter() - began
    timings["expanded_rows"] = browser.proxy.rowCount(first)
    began = time.perf_counter()
    browser.table.sortByColumn(COLUMN_KEYS.index("duration"), Qt.SortOrder.AscendingOrder)
    app.processEvents()
    browser.grab()
    timings["sort_expanded_s"] = time.perf_counter() - began
    result = {
        "shown_s": shown_s,
        "check_s": check_s,
        "top_rows": browser.proxy.rowCount(),
        "rss_before_mb": rss_before,
        "rss_shown_mb": rss_shown,
        "hwm_mb": rss_now_mb()[1],
        **timings,
    }
    browser.shutdown()
    print(RESULT + json.dumps(result), flush=True)


def forget_summaries(catalog: Path) -> None:
    """Make the next browser open a first one: drop the dataset summaries the catalog keeps
    (``catalog/browse.py``; a catalog from before migration 7 has none)."""
    conn = sqlite3.connect(catalog)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'browse_clean'").fetchone():
            conn.execute("DELETE FROM browse_clean")
            conn.commit()
    finally:
        conn.close()


def bench_browser(runs: int, catalog: Path, rows: int) -> None:
    child = [sys.executable, str(Path(__file__).resolve()), "--child", str(catalog)]
    forget_summaries(catalog)
    first = run_child(child)  # summarises every dataset and keeps the summaries
    results = [run_child(child) for _ in range(runs)]
    print(f"\n== catalog browser on {rows:,} rows (offscreen 1600x1000), median of {runs}")
    print(f"  first open        {first['shown_s']:7.2f} s (no dataset summarised yet: "
          f"after a CLI scan or gen_catalog.py); peak {first['hwm_mb']:.0f} MB")  # fmt: skip
    print(f"  shown + painted   {med(results, 'shown_s'):7.2f} s (target <= 2 s); "
          f"{int(results[0]['top_rows'])} top-level rows; before it, the catalog's "
          f"integrity check at open {med(results, 'check_s'):.2f} s")  # fmt: skip
    print(f"  sort by duration  {med(results, 'sort_duration_s'):7.2f} s (target <= 1 s)")
    print(f"  sort by name      {med(results, 'sort_name_s'):7.2f} s")
    print(f"  scroll to the end {med(results, 'scroll_end_s'):7.2f} s")
    print(f"  search            {med(results, 'search_s'):7.2f} s (\"dataset_0004 #19\": 111 "
          f"episodes), cleared {med(results, 'search_cleared_s'):.2f} s")  # fmt: skip
    print(f"  expand a dataset  {med(results, 'expand_s'):7.2f} s "
          f"({int(results[0]['expanded_rows'])} episodes), sorted by duration "
          f"{med(results, 'sort_expanded_s'):.2f} s")  # fmt: skip
    print(
        f"  RSS: {med(results, 'rss_before_mb'):.0f} MB with Qt loaded, "
        f"{med(results, 'rss_shown_mb'):.0f} MB shown, peak {med(results, 'hwm_mb'):.0f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-scan", action="store_true")
    parser.add_argument("--skip-list", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--browser-rows", type=int, default=1_000_000)
    parser.add_argument("--datasets", type=Path, help="a folder holding ten LeRobot datasets")
    parser.add_argument(
        "--scan-datasets", type=int, default=DATASETS, help="scan only the first N (of 10)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_browser(args.child)
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ["ROBOTRACE_HOME"] = str(WORK / "home")
    if not args.skip_scan:
        bench_scan(args.runs, ensure_datasets(args.datasets)[: args.scan_datasets])
    if not args.skip_list:
        bench_list(args.runs, ensure_catalog(DATASETS * PER_DATASET))
    if not args.skip_browser:
        bench_browser(args.runs, ensure_catalog(args.browser_rows), args.browser_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
