"""``import`` on recordings written with the real tools (h5py, PyAV, rosbags, pyarrow): cameras
re-encoded from shared files, ROS image topics and HDF5 arrays show the same frame at every time;
broken streams are skipped with a problem, never a crash; writes are atomic."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.bundle import writer as bundle_writer
from robotrace_desktop.bundle.manifest import read_manifest
from robotrace_desktop.convert.to_bundle import import_episode
from robotrace_desktop.convert.video_copy import write_camera
from robotrace_desktop.core.episode import EpisodeSource, SignalChunk
from robotrace_desktop.demo import read_frame_number
from robotrace_desktop.errors import ConfigurationError, CorruptRecordingError, StorageError
from robotrace_desktop.readers.bundle.source import open_bundle
from robotrace_desktop.video.frames import FrameSource, VideoFrame
from tests.convert.compare import (
    assert_frames_equal,
    assert_signals_equal,
    do_import,
    open_pair,
    signal_names,
    snapshot,
)
from tests.demo_cache import demo_copy
from tests.readers import lerobot_fixtures as lf
from tests.readers import ros_fixtures as rf
from tests.readers.hdf5_fixtures import write_aloha, write_robomimic


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_copy(tmp_path_factory.mktemp("demo") / "demo")


def test_demo_bundle_copies_cameras_and_keeps_every_field(demo: Path, tmp_path: Path) -> None:
    resolved, result = do_import(str(demo), tmp_path / "lib")
    manifest = read_manifest(result.folder)
    assert {v.camera: (v.t0_ns, v.timestamps) for v in manifest.videos} == {
        "front": (0, None),
        "wrist": (20_000_000, None),
    }
    for video in manifest.videos:  # whole files: copied, not re-encoded
        assert (result.folder / video.path).read_bytes() == (demo / video.path).read_bytes()
    src, dst = open_pair(resolved, result)
    with src, dst:
        assert_signals_equal(src, dst, signal_names(src))
        assert dst.read_events("/log") == src.read_events("/log")
        times = [0, 20_000_000, 3_900_000_000, 7_500_000_000, 11_990_000_000]
        assert_frames_equal(src, dst, "front", times)
        assert_frames_equal(src, dst, "wrist", times)
        frame = dst.video("front").frame_at(7_500_000_000)
        assert frame is not None and read_frame_number(frame.rgb) == 225
    info, source = dst.info, resolved.info
    for name in ("name", "source", "robot", "policy_version", "env_version", "git_sha", "seed"):
        assert getattr(info, name) == getattr(source, name), name
    assert (info.task, info.outcome, info.status) == (source.task, source.outcome, source.status)
    assert (info.start_time_ns, info.duration_ns) == (source.start_time_ns, source.duration_ns)
    assert info.metadata["failure_reason"] == source.metadata["failure_reason"]
    assert info.metadata["demo_truth"] == source.metadata["demo_truth"]
    assert info.id == result.episode_id != source.id


@pytest.mark.parametrize("compress", [False, True])
def test_hdf5_image_arrays_reencoded_losslessly(tmp_path: Path, compress: bool) -> None:
    path = tmp_path / "episode_0.hdf5"
    data = write_aloha(path, compress=compress, height=47, width=63)
    resolved, result = do_import(str(path), tmp_path / "lib")
    assert result.problems == []
    src, dst = open_pair(resolved, result)
    with src, dst:
        assert_signals_equal(src, dst, signal_names(src))
        np.testing.assert_array_equal(dst.read_signal("/observations/qpos").values, data.qpos)
        for camera in ("/observations/images/top", "/observations/images/left_wrist"):
            times = src.video(camera).frame_times_ns()
            assert_frames_equal(src, dst, camera, [int(t) + 1 for t in times])
        if not compress:  # raw arrays: the bundle's pixels are the file's pixels
            frames = dst.video("/observations/images/top")
            np.testing.assert_array_equal(frames.frame(17).rgb, data.images["top"][17])
    entry = read_manifest(result.folder).videos[0]
    assert entry.timestamps is not None and entry.path.endswith(".mp4")


def test_robomimic_demo_outcome_and_camera(tmp_path: Path) -> None:
    path = tmp_path / "robomimic.hdf5"
    demos = write_robomimic(path)
    resolved, result = do_import(f"{path}#2", tmp_path / "lib")
    src, dst = open_pair(resolved, result)
    with src, dst:
        assert dst.info.outcome.value == "success"
        np.testing.assert_array_equal(dst.read_signal("/actions").values, demos[2].actions)
        assert_frames_equal(src, dst, "/obs/agentview_image", range(0, 2_000_000_000, 50_000_000))
    assert dst.info.metadata["imported_from"]["episode_index"] == 2


def test_lerobot_v3_shared_videos_reencoded_with_exact_frame_mapping(tmp_path: Path) -> None:
    dataset = lf.write_v3(tmp_path / "v3")
    before = snapshot(dataset)
    first_in_file = {0: 0, 1: 6, 2: 14, 3: 0}  # file positions: episodes 0-2 share file 0
    for episode, spec in enumerate(lf.EPISODES):
        resolved, result = do_import(f"{dataset}#{episode}", tmp_path / "lib")
        manifest = read_manifest(result.folder)
        src, dst = open_pair(resolved, result)
        with src, dst:
            assert_signals_equal(src, dst, ["observation.state", "action"])
            assert dst.read_signal("observation.state").values[2, 1] == lf.state_value(
                episode, 2, 1
            )
            for number, camera in enumerate(lf.CAMERAS):
                frames = dst.video(camera)
                assert len(frames.frame_times_ns()) == spec.length
                for k, t in enumerate(frames.frame_times_ns().tolist()):
                    expected = first_in_file[episode] + k
                    assert lf.decode_position(frames.frame(k).rgb, number) == expected
                    assert lf.decode_position(src.video(camera).frame_at(t).rgb, number) == expected
                times = [int(t) + 7 for t in src.video(camera).frame_times_ns()]
                assert_frames_equal(src, dst, camera, [*times, -1, times[-1] + 10**9])
        assert dst.info.outcome == resolved.info.outcome
        assert dst.info.duration_ns == resolved.info.duration_ns
        reencoded = [v.timestamps is not None for v in manifest.videos]
        assert reencoded == [episode != 3] * 2  # episode 3 has file 1 to itself: copied
    assert snapshot(dataset) == before


def test_lerobot_image_column_and_ros_image_topics(tmp_path: Path) -> None:
    dataset = lf.write_v2(tmp_path / "v2", cameras=(), image_camera="observation.image")
    resolved, result = do_import(f"{dataset}#1", tmp_path / "lib")
    src, dst = open_pair(resolved, result)
    with src, dst:
        assert_frames_equal(src, dst, "observation.image", range(0, 900_000_000, 25_000_000))

    custom = {"policy_version": "pol-3", "seed": "42", "source": "sim", "success": "false"}
    bag = rf.write_rosbag2(tmp_path / "bag", custom_data=custom)
    resolved, result = do_import(str(bag), tmp_path / "lib")
    src, dst = open_pair(resolved, result)
    with src, dst:
        assert_signals_equal(src, dst, signal_names(src))
        for camera in ("/camera/rgb", "/camera/bgr", "/camera/mono", "/camera/jpeg"):
            assert_frames_equal(src, dst, camera, range(-1, 600_000_000, 20_000_000))
        np.testing.assert_array_equal(dst.video("/camera/rgb").frame(3).rgb, rf.image_pixels(3))
    info = dst.info
    assert (info.policy_version, info.seed, info.source) == ("pol-3", 42, "sim")
    assert info.outcome.value == "failure"


class _Broken(EpisodeSource):
    """A real episode whose one signal stream raises like a reader bug would."""

    def __init__(self, inner: EpisodeSource, broken: str) -> None:
        self._inner, self._broken, self.info = inner, broken, inner.info

    def read_signal(self, stream: str, start_ns: int | None = None, stop_ns: int | None = None):
        if stream == self._broken:
            raise KeyError("decoder table is empty")
        return self._inner.read_signal(stream, start_ns, stop_ns)

    def read_events(self, stream: str, start_ns: int | None = None, stop_ns: int | None = None):
        return self._inner.read_events(stream, start_ns, stop_ns)

    def video(self, stream: str) -> FrameSource:
        return self._inner.video(stream)

    def close(self) -> None:
        self._inner.close()


def test_unreadable_stream_is_skipped_with_a_problem(demo: Path, tmp_path: Path) -> None:
    resolved, _ = do_import(str(demo), tmp_path / "first")
    result = import_episode(
        resolved.info, lambda: _Broken(resolved.open(), "/action"), tmp_path / "lib"
    )
    with open_bundle(result.folder) as dst:
        names = [s.name for s in dst.info.streams]
        assert "/action" not in names and "/joint_states" in names and "front" in names
    assert any("'/action' not imported" in p and "KeyError" in p for p in result.problems)
    assert result.problems == dst.info.metadata["import_problems"]


class _Frames(FrameSource):
    """Frame 2 repeats frame 1's time (so it is the one shown); frame 4 cannot be decoded."""

    name = "cam"

    def frame_times_ns(self) -> np.ndarray:
        return np.array([0, 100, 100, 200, 300, 400], dtype=np.int64)

    def frame(self, index: int) -> VideoFrame:
        if index == 4:
            raise CorruptRecordingError("cam.bin", "frame 4 is damaged")
        rgb = np.full((6, 8, 3), index * 40, dtype=np.uint8)
        rgb[0, 0] = (index, 255 - index, 7)
        return VideoFrame(index, int(self.frame_times_ns()[index]), rgb)


class _OneCamera(EpisodeSource):
    def read_signal(self, stream: str, start_ns=None, stop_ns=None) -> SignalChunk:  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def video(self, stream: str) -> FrameSource:
        return _Frames()


def test_reencode_keeps_the_frame_shown_and_reports_dropped_ones(tmp_path: Path) -> None:
    written = write_camera(_OneCamera(), "cam", tmp_path, "cam")
    assert written.method == "encode" and written.frames == 4
    assert any("share a time" in p for p in written.problems)
    assert any("could not be decoded" in p and "frame 4" in p for p in written.problems)
    times = np.load(tmp_path / written.entry.timestamps, allow_pickle=False)
    np.testing.assert_array_equal(times, [0, 100, 200, 400])
    from robotrace_desktop.video.container import ContainerVideo

    video = ContainerVideo(tmp_path / written.entry.path, "cam", override_times_ns=times)
    source = _Frames()
    for t, shown in ((0, 0), (150, 2), (250, 3), (350, 3), (450, 5)):
        np.testing.assert_array_equal(video.frame_at(t).rgb, source.frame(shown).rgb)  # type: ignore[union-attr]
    video.close()


def test_failed_write_leaves_no_partial_bundle(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved, first = do_import(str(demo), tmp_path / "lib")
    before = snapshot(first.folder)

    def disk_full(folder: Path, manifest: object) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundle_writer, "write_manifest", disk_full)
    with pytest.raises(StorageError, match="No space left"):
        import_episode(resolved.info, resolved.open, tmp_path / "lib", replace=True)
    assert [p.name for p in (tmp_path / "lib").iterdir()] == [first.folder.name]
    assert snapshot(first.folder) == before


def test_destination_inside_the_recording_is_refused(tmp_path: Path) -> None:
    dataset = lf.write_v3(tmp_path / "v3")
    before = snapshot(dataset)
    with pytest.raises(ConfigurationError, match="inside the recording"):
        do_import(f"{dataset}#0", dataset / "imported")
    assert snapshot(dataset) == before
