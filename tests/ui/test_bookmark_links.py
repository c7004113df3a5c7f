"""Bookmarks and links between the shell and the viewer land on the exact frame.

A bookmark added with ``robotrace-desktop bookmark add`` shows in the episode's Bookmarks panel,
which copies the same link and exports the same rows; opening a link in the viewer shows the
frame it was taken on in every camera — also on frames that do not start on a whole millisecond
(frame 241 of a 30 fps camera, where the old rounded ``?t=8033ms`` showed frame 240).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from PySide6.QtGui import QGuiApplication

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.core.frame_lookup import frame_index_at
from robotrace_desktop.core.links import EpisodeLink, parse_link
from robotrace_desktop.demo import read_frame_number
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.readers.bundle.reader import BundleReader
from robotrace_desktop.session import EpisodeSession
from robotrace_desktop.ui.bookmarks_panel import NOTE_COL, TIME_COL, BookmarksPanel
from robotrace_desktop.ui.episode_view import EpisodeView
from robotrace_desktop.ui.main_window import MainWindow
from robotrace_desktop.ui.qimage import qimage_to_rgb
from tests.demo_cache import demo_copy

G1 = "lerobot/g1_pick_bottle_v21"
G1_CAMERA = "observation.images.cam_high"
SETTLE_MS = 30_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, np.ndarray]]:
    """(catalog path, episode id, camera → frame times) of the demo: front 30 fps, wrist
    15 fps from 20 ms."""
    root = tmp_path_factory.mktemp("links_demo")
    bundle = demo_copy(root / "bundle")
    path = root / "catalog.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [bundle])
        (episode,) = catalog.list_episodes()
    with BundleReader().open(bundle) as source:
        times = {cam: source.video(cam).frame_times_ns().copy() for cam in ("front", "wrist")}
    return path, episode.id, times


@pytest.fixture
def window(qtbot, demo) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    widget = MainWindow(demo[0])
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.close()


def cli(capsys: pytest.CaptureFixture[str], catalog: Path, *argv: str) -> str:
    capsys.readouterr()
    assert main(["--catalog", str(catalog), *argv]) == 0
    return capsys.readouterr().out


def open_settled(qtbot, window: MainWindow, link: str) -> EpisodeView:  # type: ignore[no-untyped-def]
    view = window.open_episode(link)
    assert view is not None
    qtbot.waitUntil(lambda: all(p.is_ready() for p in view.panes.values()), timeout=SETTLE_MS)
    qtbot.waitUntil(view.settled, timeout=SETTLE_MS)
    return view


def shown_index(view: EpisodeView, camera: str) -> int:
    """The frame the pane says it shows, checked against the number painted in its pixels."""
    shown = view.panes[camera].shown_frame()
    assert shown is not None and shown[2], f"{camera} shows no exact frame"
    image = view.panes[camera].current_image()
    assert image is not None
    assert read_frame_number(qimage_to_rgb(image)) == shown[0]
    return shown[0]


def test_a_bookmark_added_from_the_shell_shows_in_the_panel(
    qtbot, demo, capsys, tmp_path: Path
) -> None:
    path, episode_id, times = demo
    out = cli(capsys, path, "bookmark", "add", episode_id, "--t", "frame:7", "--camera", "wrist",
              "--note", "wrist sees the cube", "--json")  # fmt: skip
    added = json.loads(out)
    assert added["t_ns"] == int(times["wrist"][7]) == 486_666_667
    with Catalog(path) as catalog:
        panel = BookmarksPanel(EpisodeSession(catalog, catalog.get(episode_id)))
        qtbot.addWidget(panel)
        panel.set_frame_times(times)
        assert [m.id for m in panel.bookmarks()] == [added["bookmark_id"]]
        assert panel.table.item(0, NOTE_COL).text() == "wrist sees the cube"
        assert panel.table.item(0, TIME_COL).text() == "0.487 s"
        panel.table.selectRow(0)
        assert panel.copy_link() == added["link"] == QGuiApplication.clipboard().text()
        assert added["link"].endswith("?t=486.666667ms")
        # the panel's export and the shell's are the same rows (one implementation)
        from_panel = json.loads(panel.export_to(tmp_path / "panel.json").read_text())
        shell = json.loads(cli(capsys, path, "bookmark", "export", episode_id, "--format", "json"))
        assert from_panel == shell == [added]
        assert added["frame_index"] == {"front": 14, "wrist": 7}
    cli(capsys, path, "bookmark", "delete", str(added["bookmark_id"]))


@pytest.mark.parametrize(("camera", "index"), [("front", 241), ("front", 1), ("wrist", 7)])
def test_a_link_opens_the_viewer_on_the_frame_it_was_taken_on(
    qtbot, demo, window: MainWindow, camera: str, index: int
) -> None:
    _, episode_id, times = demo
    t_ns = int(times[camera][index])
    link = EpisodeLink(episode_id, t_ns).url()
    assert parse_link(link).t_ns == t_ns
    view = open_settled(qtbot, window, link)
    assert view.timeline.time_ns() == t_ns
    assert shown_index(view, camera) == index
    for other, other_times in times.items():  # and every camera shows its frame of that moment
        assert shown_index(view, other) == frame_index_at(other_times, t_ns)


def test_the_viewer_opens_a_g1_link_on_frame_241(
    qtbot, shared_data: Path, tmp_path: Path, capsys
) -> None:
    """The issue's case on the real AV1 video: the bookmark's exported link shows frame 241's
    pixels (the old ``?t=8033ms`` showed frame 240)."""
    dataset = shared_data / G1
    path = tmp_path / "g1.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [dataset])
    added = json.loads(
        cli(capsys, path, "bookmark", "add", f"{dataset}#1", "--t", "frame:241", "--json")
    )
    (exported,) = json.loads(cli(capsys, path, "bookmark", "export", "--all", "--format", "json"))
    assert exported["link"] == added["link"] and exported["link"].endswith("?t=8033.333333ms")
    video = dataset / f"videos/chunk-000/{G1_CAMERA}/episode_000001.mp4"
    with av.open(str(video)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number == 241:
                expected = frame.to_ndarray(format="rgb24")
                break
    window = MainWindow(path)
    qtbot.addWidget(window)
    window.show()
    try:
        view = open_settled(qtbot, window, exported["link"])
        shown = view.panes[G1_CAMERA].shown_frame()
        assert shown is not None and shown[:2] == (241, 8_033_333_333) and shown[2]
        image = view.panes[G1_CAMERA].current_image()
        assert image is not None and np.array_equal(qimage_to_rgb(image), expected)
    finally:
        window.close()
