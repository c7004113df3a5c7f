"""How a logged episode lands in the library: hard link / copy / reference in place, the
catalog row a later scan agrees with, and all-or-nothing when the disk or catalog refuses."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import robotrace_desktop as rt
from robotrace_desktop import paths
from robotrace_desktop.bundle import writer as bundle_writer
from robotrace_desktop.bundle.manifest import MANIFEST_NAME, read_manifest
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.errors import RecordingError, StorageError
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.sdk import store
from tests.sdk.sdk_fixtures import (
    READER,
    bundles,
    catalog_ids,
    joints,
    leftovers,
    painted_video,
    read,
)


def test_bundle_folder_id_and_catalog_row(tmp_path: Path) -> None:
    path, _ = joints(tmp_path / "joints.parquet")
    episode = rt.log_episode(name="Pick & place: trial #3", sensors=path, seed=3)
    assert len(episode.id) == 16 and int(episode.id, 16) >= 0
    assert episode.url == f"robotrace://episode/{episode.id}"
    assert episode.path.parent.parent == paths.library_dir().resolve()
    assert episode.path.name == f"pick-place-trial-3-{episode.id[:8]}"
    assert read_manifest(episode.path).id == episode.id
    assert catalog_ids(paths.catalog_path()) == [episode.id]
    with Catalog() as catalog:
        stored = catalog.get(episode.id)
        assert stored.name == "Pick & place: trial #3" and stored.seed == 3
        state = catalog.recording_state(str(episode.path))
        assert state is not None and state["status"] == "ok" and state["fingerprint"]
        summary = scan(catalog, [paths.library_dir()])
    assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 1)
    assert leftovers(paths.library_dir()) == []
    second = rt.log_episode(name="Pick & place: trial #3", sensors=path)
    assert second.id != episode.id and second.path != episode.path


def test_copy_hard_links_on_the_same_file_system(tmp_path: Path) -> None:
    video = painted_video(tmp_path / "front.mp4")
    sensors, _ = joints(tmp_path / "joints.parquet")
    episode = rt.log_episode(video=video, sensors=sensors)
    same_fs = os.stat(tmp_path).st_dev == os.stat(paths.home()).st_dev
    assert same_fs, "the test home and tmp_path share a file system"
    stored = episode.path / "video/front.mp4"
    assert not stored.is_symlink()
    assert stored.stat().st_ino == video.stat().st_ino
    assert (episode.path / "signals/joints.parquet").stat().st_ino == sensors.stat().st_ino


def test_copy_falls_back_to_a_real_copy_across_file_systems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link", str(src))

    monkeypatch.setattr(bundle_writer.os, "link", cross_device)
    video = painted_video(tmp_path / "front.mp4")
    episode = rt.log_episode(video=video)
    stored = episode.path / "video/front.mp4"
    assert stored.stat().st_ino != video.stat().st_ino
    assert stored.read_bytes() == video.read_bytes()


def test_reference_in_place_is_a_symlink_the_reader_follows_inside_the_library(
    tmp_path: Path,
) -> None:
    data = tmp_path / "user"
    video = painted_video(data / "front.mp4")
    sensors, values = joints(data / "joints.parquet")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (video, sensors)}
    episode = rt.log_episode(video=video, sensors=sensors, copy=False)
    link = episode.path / "signals/joints.parquet"
    assert link.is_symlink() and Path(os.readlink(link)) == sensors.resolve()
    assert (episode.path / "video/front.mp4").is_symlink()
    np.testing.assert_array_equal(read(episode, "joints").t_ns, values.t_ns)
    with READER.open(episode.path) as source:
        assert len(source.video("front").frame_times_ns()) == 20
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (video, sensors)} == before
    assert sorted(os.listdir(data)) == ["front.mp4", "joints.parquet"]  # nothing added


def test_an_escaping_symlink_outside_any_library_is_still_rejected(tmp_path: Path) -> None:
    sensors, _ = joints(tmp_path / "user/joints.parquet")
    episode = rt.log_episode(sensors=sensors, copy=False)
    moved = tmp_path / "downloads" / "bundle"
    shutil.copytree(episode.path, moved, symlinks=True)  # a third-party copy, links and all
    assert (moved / "signals/joints.parquet").is_symlink()
    with pytest.raises(RecordingError) as err:
        list(READER.index(moved))
    assert "outside the bundle" in str(err.value)
    assert str(moved / MANIFEST_NAME) in str(err.value)


def test_a_client_library_is_trusted_only_once_registered(tmp_path: Path) -> None:
    library = tmp_path / "team-lib"
    sensors, values = joints(tmp_path / "joints.parquet")
    client = rt.Client(library, catalog=tmp_path / "team.sqlite")
    episode = client.log_episode(sensors=sensors, copy=False)
    assert episode.path.is_relative_to(library.resolve())
    np.testing.assert_array_equal(read(episode, "joints").t_ns, values.t_ns)
    listed = (paths.home() / "libraries.txt").read_text().splitlines()
    assert listed == [str(library.resolve())]
    (paths.home() / "libraries.txt").unlink()  # forget it: the same bundle is now untrusted
    with pytest.raises(RecordingError, match="outside the bundle"):
        list(READER.index(episode.path))


def _disk_full(src: Path, dst: Path, mode: str) -> str:
    raise OSError(errno.ENOSPC, "No space left on device", str(dst))


def test_disk_full_is_a_storage_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = painted_video(tmp_path / "front.mp4")
    monkeypatch.setattr(bundle_writer, "place", _disk_full)
    with pytest.raises(StorageError) as err:
        rt.log_episode(video=video)
    assert "disk full" in str(err.value)
    assert str(paths.library_dir()) in str(err.value)
    assert bundles(paths.library_dir()) == []
    assert leftovers(paths.library_dir()) == []
    assert catalog_ids(paths.catalog_path()) == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.EACCES, "permission denied"), (errno.EROFS, "read-only file system")],
)
def test_permission_errors_name_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, reason: str
) -> None:
    sensors, _ = joints(tmp_path / "joints.parquet")
    real_replace = os.replace

    def refuse(src: object, dst: object) -> None:
        if Path(str(dst)).parent.parent == paths.library_dir():
            raise OSError(code, os.strerror(code), str(dst))
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(bundle_writer.os, "replace", refuse)
    with pytest.raises(StorageError) as err:
        rt.log_episode(sensors=sensors)
    assert reason in str(err.value) and str(paths.library_dir()) in str(err.value)
    assert bundles(paths.library_dir()) == [] and leftovers(paths.library_dir()) == []


def test_a_catalog_that_cannot_be_written_undoes_the_bundle(tmp_path: Path) -> None:
    sensors, _ = joints(tmp_path / "joints.parquet")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    client = rt.Client(tmp_path / "lib", catalog=blocker / "catalog.sqlite")
    with pytest.raises(StorageError) as err:
        client.log_episode(sensors=sensors)
    assert str(blocker / "catalog.sqlite") in str(err.value)
    assert bundles(tmp_path / "lib") == [] and leftovers(tmp_path / "lib") == []


def test_stale_temp_folders_are_cleaned_fresh_ones_kept(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    old = store.temp_root(library) / "rec-dead-1"
    fresh = store.temp_root(library) / "rec-live-2"
    for folder in (old, fresh):
        (folder / "stream-000").mkdir(parents=True)
        (folder / "stream-000/part-000000.parquet").write_bytes(b"x")
    os.utime(old, (0, 0))
    sensors, _ = joints(tmp_path / "joints.parquet")
    rt.Client(library, catalog=tmp_path / "c.sqlite").log_episode(sensors=sensors)
    assert leftovers(library) == [fresh]


def test_the_manifest_is_json_a_person_can_read(tmp_path: Path) -> None:
    sensors, _ = joints(tmp_path / "joints.parquet")
    episode = rt.log_episode(sensors=sensors, metadata={"operator": "kim", "gain": np.float32(2)})
    raw = json.loads((episode.path / MANIFEST_NAME).read_text())
    assert raw["metadata"]["operator"] == "kim" and raw["metadata"]["gain"] == 2.0
    assert raw["metadata"]["generator"] == "robotrace_desktop.sdk"
