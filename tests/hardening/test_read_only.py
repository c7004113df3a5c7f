"""The read-only guarantee: whatever a person does with RoboTrace — scan (with Explain), re-scan,
open every episode and read every stream, export frames and signals, explain, verify (with a
re-roll that saves replays), tag, bookmark, open the viewer — not one byte, mtime or entry
changes under the scanned folders. That covers the real third-party recordings (including the
`-wal`/`-shm` sidecars that empty_bag_sqlite3 ships) and generated ones in every format."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import robotrace_desktop as rt
from robotrace_desktop.catalog.bookmarks import add_bookmark, list_bookmarks
from robotrace_desktop.catalog.store import Catalog, EpisodeFilter
from robotrace_desktop.cli import main
from robotrace_desktop.core.episode import Status, StreamKind
from robotrace_desktop.readers.registry import reader_by_kind
from tests.catalog_files import copy_catalog
from tests.hardening.snapshot import Entry, differences, snapshot
from tests.readers.hdf5_fixtures import write_aloha
from tests.readers.lerobot_fixtures import write_v3
from tests.readers.ros_fixtures import write_rosbag1, write_rosbag2
from tests.sdk.sdk_fixtures import painted_video
from tests.verify.verify_fixtures import write_policy_set

S = 1_000_000_000
G1 = "lerobot/g1_pick_bottle_v21"
POLICY = "def hold(obs):\n    return obs['observation.state']\n"


def generated_tree(root: Path, scratch: Path) -> Path:
    """One recording of every format, written with the real writers."""
    root.mkdir()
    write_rosbag2(root / "ros2_mcap", "mcap")
    write_rosbag2(root / "ros2_sqlite3", "sqlite3")
    write_rosbag1(root / "run.bag")
    (root / "aloha").mkdir()
    write_aloha(root / "aloha" / "episode_0.hdf5", steps=30)
    write_v3(root / "koch_v3")
    write_policy_set(root / "baseline", "v1", "baseline", episodes=4, steps=40)
    write_policy_set(root / "candidate", "v2", "drop10", episodes=4, steps=40, seed_offset=0)
    video = painted_video(scratch / "front.mp4", frames=20, fps=10)
    with rt.start_episode(name="sdk-run", policy_version="sdk") as rec:
        rec.add_video(video)
        for k in range(40):
            rec.log(k * 50_000_000, {"joint_states/position": [k, -k], "reward": k * 0.5})
    assert rec.episode is not None
    shutil.copytree(rec.episode.path, root / "bundle")
    return root


def read_everything(catalog: Catalog) -> int:
    """Open every readable episode and read every stream whole; returns the streams read."""
    streams = 0
    for listed in catalog.list_episodes():
        if listed.status in (Status.FAILED, Status.MISSING):
            continue
        info = catalog.get(listed.id)
        reader = reader_by_kind(info.kind)
        with reader.open(Path(info.path), info.episode_index) as source:
            for stream in info.streams:
                if info.problems and any(stream.name in p for p in info.problems):
                    continue  # a stream the reader already said it cannot read
                if stream.kind == StreamKind.SIGNAL:
                    source.read_signal(stream.name)
                elif stream.kind == StreamKind.EVENT:
                    source.read_events(stream.name)
                else:
                    frames = source.video(stream.name)
                    times = frames.frame_times_ns()
                    if len(times):
                        frames.frame(0)
                        frames.frame(len(times) - 1)
                streams += 1
    return streams


def test_nothing_anyone_does_writes_into_the_scanned_folders(
    shared_data: Path,
    shared_data_before_scan: dict[str, Entry],
    scanned_shared_data: tuple[Path, dict[str, object]],
    tmp_path: Path,
    qtbot,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The real recordings' first scan with Explain is the session's (``scanned_shared_data``,
    the same ``scan`` command): this test starts from a copy of that catalog and compares
    against the snapshot taken before it ran, so that scan is checked too; the generated
    recordings are scanned and explained fresh here."""
    shared_data = shared_data.resolve()  # the catalog keeps resolved paths (CI links ../shared)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    generated = generated_tree(tmp_path / "recordings", scratch)
    home = tmp_path / "home"
    home.mkdir()
    catalog_path = copy_catalog(scanned_shared_data[0], home / "catalog.sqlite")
    roots = (shared_data, generated)
    original = {**shared_data_before_scan, **snapshot(generated)}
    assert f"{shared_data}/rosbag2/empty_bag_sqlite3/empty_bag_0.db3-shm" in original
    assert str(shared_data) in original and str(generated) in original

    def step(name: str, action: Callable[[], object]) -> object:
        result = action()
        changed = differences(original, snapshot(*roots))
        assert not changed, f"{name} wrote into the recordings:\n" + "\n".join(changed[:20])
        return result

    def cli(*args: str) -> int:
        code = main(["--catalog", str(catalog_path), *args])
        capsys.readouterr()
        return code

    # the session's scan with Explain of the real recordings (checked by the first step), a scan
    # with Explain of both roots (the generated ones are new), then a re-scan (unchanged) and a
    # forced one (everything re-read)
    assert step("scan", lambda: cli("scan", str(shared_data), str(generated))) == 0
    assert step("re-scan", lambda: cli("scan", *map(str, roots))) == 0
    step("forced re-scan", lambda: cli("scan", "--force", "--no-explain", *map(str, roots)))
    with Catalog(catalog_path) as catalog:
        episodes = catalog.list_episodes()
        kinds = {e.kind for e in episodes}
        assert {"rosbag2", "rosbag1", "lerobot", "hdf5", "bundle"} <= kinds, kinds
        assert step("reading every stream", lambda: read_everything(catalog)) > 200  # type: ignore[operator]
        g1 = catalog.find(str(shared_data / G1), 1)
        iiwa = catalog.find(str(shared_data / "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"), None)
        turtles = catalog.find(str(shared_data / "ros1/example.bag"), None)
        empty = catalog.find(str(shared_data / "rosbag2/empty_bag_sqlite3"), None)
        bundle = next(e for e in episodes if e.kind == "bundle")
        aloha = next(e for e in episodes if e.kind == "hdf5")
    assert g1 and iiwa and turtles and empty

    out = tmp_path / "out"
    for episode, camera in ((g1, "observation.images.cam_high"), (bundle, "front")):
        code = step(
            f"frame {episode.name}",
            lambda e=episode, c=camera: cli(
                "frame", e.id, "--t", "1s", "--t", "frame:3", "--camera", c, "-o", str(out)
            ),
        )
        assert code == 0, episode.path
    assert step("frame aloha", lambda: cli("frame", aloha.id, "--t", "0.2s", "-o", str(out))) == 0
    for episode in (g1, iiwa, turtles, aloha, bundle):
        code = step(
            f"export {episode.name}",
            lambda e=episode: cli("export", e.id, "-o", str(out / f"{e.id}.parquet")),
        )
        assert code == 0, episode.path
    step(
        "export csv on a grid",
        lambda: cli(
            "export", iiwa.id, "--grid", "10ms", "-o", str(out / "iiwa.csv"), "--format", "csv"
        ),
    )
    for episode in (g1, iiwa, turtles, empty, aloha):
        step(f"explain {episode.name}", lambda e=episode: cli("explain", e.id, "--json"))
    step("explain --all", lambda: cli("explain", "--all", "--workers", "1"))

    policy = scratch / "policy.py"
    policy.write_text(POLICY)
    code = step(
        "verify",
        lambda: cli("verify", "--baseline", "v1", "--candidate", "v2", "--workers", "1", "--json"),
    )
    assert code in (0, 1)
    code = step(
        "verify re-roll",
        lambda: cli(
            "verify",
            "--baseline",
            "v1",
            "--policy",
            f"{policy}:hold",
            "--candidate-name",
            "hold-1",
            "--workers",
            "1",
            "--json",
        ),
    )
    assert code == 0
    with Catalog(catalog_path) as catalog:
        replays = catalog.list_episodes(EpisodeFilter(policy="hold-1"))
        assert len(replays) == 4
        assert all(Path(r.path).is_relative_to(home) for r in replays)  # never beside the data

    step(
        "tag",
        lambda: cli(
            "tag",
            g1.id,
            iiwa.id,
            empty.id,
            "--tag",
            "look",
            "--outcome",
            "failure",
            "--policy-version",
            "g1-v0",
        ),
    )
    with Catalog(catalog_path) as catalog:
        assert catalog.get(g1.id).outcome.value == "failure" and catalog.tags(g1.id) == ["look"]
        step("bookmark", lambda: add_bookmark(catalog, iiwa.id, 2 * S, "torque spike"))
        assert [b.note for b in list_bookmarks(catalog, iiwa.id)] == ["torque spike"]

    step(
        "viewer",
        lambda: viewer_session(
            qtbot, catalog_path, g1.id, [iiwa.id, empty.id, turtles.id, aloha.id, bundle.id]
        ),
    )
    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    step(
        "open --screenshot",
        lambda: subprocess.run(
            [
                sys.executable,
                "-m",
                "robotrace_desktop",
                "--catalog",
                str(catalog_path),
                "open",
                g1.id,
                "--t",
                "2s",
                "--screenshot",
                str(shot),
                "--new-window",
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        ),
    )
    assert shot.stat().st_size > 10_000
    # the catalog's own folder is where things went
    assert (home / "library" / "replays").is_dir()
    assert len(list(out.glob("*.png"))) >= 5


def viewer_session(qtbot, catalog_path: Path, bookmark_on: str, others: list[str]) -> None:  # type: ignore[no-untyped-def]
    """The viewer as a person uses it: open episodes in tabs (video, plots, logs), move the
    playhead, bookmark a moment with the viewer's action, close everything."""
    from robotrace_desktop.ui.main_window import MainWindow

    window = MainWindow(catalog_path)
    qtbot.addWidget(window)
    window.show()
    for episode in others:
        opened = window.open_episode(episode, 1 * S)
        assert opened is not None, episode
        qtbot.waitUntil(opened.settled, timeout=30_000)
    view = window.open_episode(bookmark_on, 3 * S)
    assert view is not None and view.bookmarks is not None
    qtbot.waitUntil(view.settled, timeout=30_000)
    mark = view.bookmarks.add_at(view.timeline.time_ns(), "bottle slips")
    assert mark.t_ns == 3 * S and mark.episode_id == bookmark_on
    while window.tabs.count() > 1:
        window.close_tab(window.tabs.count() - 1)
    window.close()
