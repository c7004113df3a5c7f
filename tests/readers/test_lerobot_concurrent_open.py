"""The viewer opens one LeRobot episode from several workers at once (signals, each camera):
the dataset's metadata must be parsed once, not once per worker (benchmarks/bench_scale.py
found 10,000-episode metadata parsed in parallel: 2x the time and +270 MB)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from robotrace_desktop.readers.lerobot import reader as lerobot
from robotrace_desktop.readers.lerobot.reader import LeRobotReader
from tests.readers.lerobot_fixtures import EpisodeSpec, write_v2


def open_from_threads(
    root: Path, indices: list[int], monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], dict[int, int]]:
    """Open ``indices`` from one thread each, all released at once; returns the threads that
    parsed the metadata and each episode's observation.state row count."""
    monkeypatch.setattr(lerobot, "_DATASETS", {})
    parsed: list[str] = []
    real_load = lerobot.load_dataset

    def slow_load(path: Path, **options):  # type: ignore[no-untyped-def]
        parsed.append(threading.current_thread().name)
        time.sleep(0.3)  # a big dataset: long enough for every other thread to arrive
        return real_load(path, **options)

    monkeypatch.setattr(lerobot, "load_dataset", slow_load)
    start = threading.Barrier(len(indices))
    rows: dict[int, int] = {}
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            start.wait()
            with LeRobotReader().open(root, index) as episode:
                rows[index] = len(episode.read_signal("observation.state").t_ns)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,), name=f"w{i}") for i in indices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return parsed, rows


def test_concurrent_opens_parse_the_metadata_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = [EpisodeSpec(20 + i, 0, True) for i in range(6)]
    root = write_v2(tmp_path / "ds", "v2.1", episodes=specs, cameras=())
    parsed, rows = open_from_threads(root, [0, 1, 2, 5], monkeypatch)
    assert len(parsed) == 1
    assert rows == {0: 20, 1: 21, 2: 22, 5: 25}
    # an edit under meta/ still invalidates: the next open parses again
    stats = root / "meta" / "episodes_stats.jsonl"
    stats.write_bytes(stats.read_bytes() + b"\n")
    with LeRobotReader().open(root, 3) as episode:
        assert len(episode.read_signal("observation.state").t_ns) == 23
    assert len(parsed) == 2


def test_concurrent_opens_of_the_real_dataset(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shared_data / "lerobot" / "g1_pick_bottle_v21"
    parsed, rows = open_from_threads(root, [0, 1, 2, 3], monkeypatch)
    assert len(parsed) == 1
    assert rows[3] == 459  # episode 3: 15.3 s at 30 fps (README: `show ...#3`)
    assert rows[1] == 393  # 13.1 s
