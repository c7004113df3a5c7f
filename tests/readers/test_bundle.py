"""Native episode bundle reader: parquet / npz / feather signals, JSONL events, videos with a t0
offset or a timestamps file, partial problems and index-without-data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from robotrace_desktop.bundle.events import write_events_jsonl
from robotrace_desktop.bundle.manifest import MANIFEST_NAME
from robotrace_desktop.bundle.tables import SignalData, write_npz, write_parquet
from robotrace_desktop.core.episode import LogEvent, Outcome, Status, StreamKind, episode_id
from robotrace_desktop.demo import FRAME_DIGITS, draw_text, encode_video, read_frame_number
from robotrace_desktop.errors import CorruptRecordingError, StreamNotFoundError
from robotrace_desktop.readers.bundle.reader import BundleReader

READER = BundleReader()
MS = 1_000_000


def numbered_frames(count: int) -> list[np.ndarray]:
    frames = []
    for i in range(count):
        img = np.full((64, 96, 3), 40, dtype=np.uint8)
        draw_text(img, f"{i:0{FRAME_DIGITS}d}", 8, 8, 14, 26, 4)
        frames.append(img)
    return frames


def make_bundle(root: Path, **manifest_overrides: Any) -> dict[str, Any]:
    """A bundle with every table format, events and two cameras; returns the written data."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    n = 100
    joints = SignalData(
        t_ns=np.arange(n, dtype=np.int64) * 10 * MS,
        fields={"position": rng.normal(size=(n, 3)), "temp": rng.normal(size=n)},
        names={"position": ["shoulder", "elbow", "wrist"]},
    )
    write_parquet(root / "signals/joints.parquet", joints, row_group_size=25)
    imu = SignalData(np.arange(50, dtype=np.int64) * 20 * MS, {"accel": rng.normal(size=(50, 3))})
    battery = SignalData(
        np.array([0, 4_000 * MS], dtype=np.int64), {"volts": np.array([24.1, 23.7])}
    )
    write_npz(root / "signals/streams.npz", {"/imu": imu, "/battery": battery})
    force = [list(rng.normal(size=3)) for _ in range(30)]
    stamps = np.arange(30, dtype=np.int64) * 33 * MS + 5 * MS
    table = pa.table(
        {
            "stamp": pa.array(stamps, pa.int64()),
            "force": pa.array(force, pa.list_(pa.float32())),
            "ok": pa.array([i % 2 == 0 for i in range(30)]),
            "label": pa.array([f"s{i}" for i in range(30)]),
        }
    )
    feather.write_feather(table, str(root / "signals/wrench.feather"))
    (root / "events").mkdir(exist_ok=True)
    write_events_jsonl(
        root / "events/log.jsonl",
        [
            LogEvent(0, "INFO", "start", "runner"),
            LogEvent(1_200 * MS, "warning", "slow", "ctrl"),
            LogEvent(2_500 * MS, "ERROR", "boom", "ctrl"),
        ],
    )
    with (root / "events/log.jsonl").open("a") as handle:
        handle.write("{not json\n")
    encode_video(root / "video/front.mp4", numbered_frames(24), fps=30)
    encode_video(root / "video/wrist.mp4", numbered_frames(10), fps=10)
    wrist_times = np.array([0, 90, 210, 300, 390, 520, 600, 700, 800, 905], dtype=np.int64) * MS
    np.save(root / "video/wrist_times.npy", wrist_times)
    manifest: dict[str, Any] = {
        "format": "robotrace-episode",
        "format_version": 1,
        "id": "00112233445566778899aabbccddeeff",
        "name": "unit bundle",
        "source": "real",
        "robot": "arm-x",
        "policy_version": "p-1.0",
        "env_version": "lab-3",
        "git_sha": "b" * 40,
        "seed": 42,
        "task": "wave",
        "success": True,
        "status": "ready",
        "start_time_ns": 1_700_000_000_000_000_000,
        "metadata": {"operator": "kim"},
        "videos": [
            {"camera": "front", "path": "video/front.mp4", "t0_ns": 500 * MS},
            {"camera": "wrist", "path": "video/wrist.mp4", "timestamps": "video/wrist_times.npy"},
        ],
        "signals": [
            {
                "name": "/joints",
                "path": "signals/joints.parquet",
                "format": "parquet",
                "kind": "sensor",
            },
            {"path": "signals/streams.npz", "format": "npz"},
            {
                "name": "/wrench",
                "path": "signals/wrench.feather",
                "format": "feather",
                "time_column": "stamp",
                "channels": ["fx", "fy", "fz", "ok"],
            },
        ],
        "events": [{"name": "/log", "path": "events/log.jsonl"}],
    }
    manifest.update(manifest_overrides)
    (root / MANIFEST_NAME).write_text(json.dumps(manifest))
    return {
        "joints": joints,
        "imu": imu,
        "battery": battery,
        "force": np.array(force),
        "stamps": stamps,
        "wrist_times": wrist_times,
    }


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_index_describes_every_stream(tmp_path: Path) -> None:
    root = tmp_path / "run1"
    make_bundle(root)
    assert READER.sniff(root) == 1.0
    assert READER.sniff(root / MANIFEST_NAME) == 1.0
    assert READER.sniff(tmp_path) is None
    info = next(READER.index(root))
    assert info.id == "00112233445566778899aabbccddeeff"
    assert (info.kind, info.episode_index, info.name) == ("bundle", None, "unit bundle")
    assert (info.source, info.robot, info.task) == ("real", "arm-x", "wave")
    assert (info.policy_version, info.env_version, info.git_sha, info.seed) == (
        "p-1.0",
        "lab-3",
        "b" * 40,
        42,
    )
    assert info.outcome == Outcome.SUCCESS and info.status == Status.READY
    assert info.start_time_ns == 1_700_000_000_000_000_000
    assert info.metadata["operator"] == "kim"
    names = [s.name for s in info.streams]
    assert names == ["front", "wrist", "/joints", "imu", "battery", "/wrench", "/log"]

    joints = info.stream("/joints")
    assert joints.kind == StreamKind.SIGNAL and joints.count == 100
    assert joints.channels == ("position/shoulder", "position/elbow", "position/wrist", "temp")
    assert (joints.t_start_ns, joints.t_end_ns) == (0, 990 * MS)
    assert joints.details["role"] == "sensor" and joints.details["row_groups"] == 4
    imu = info.stream("imu")
    assert imu.channels == ("accel[0]", "accel[1]", "accel[2]") and imu.count == 50
    assert (imu.t_start_ns, imu.t_end_ns) == (0, 980 * MS)
    assert info.stream("battery").channels == ("volts",)
    wrench = info.stream("/wrench")
    assert wrench.channels == ("fx", "fy", "fz", "ok")  # the manifest's names
    assert wrench.details["skipped_columns"] == ["label"]
    front = info.stream("front")
    assert front.kind == StreamKind.VIDEO and front.count == 24
    assert (front.t_start_ns, front.t_end_ns) == (500 * MS, 500 * MS + round(23e9 / 30))
    assert front.details["codec"] in ("h264", "mpeg4")
    wrist = info.stream("wrist")
    assert (wrist.count, wrist.t_start_ns, wrist.t_end_ns) == (10, 0, 905 * MS)
    log = info.stream("/log")
    assert log.kind == StreamKind.EVENT and log.count == 3
    # duration = the latest end over streams: battery's last sample at 4 s
    assert info.duration_ns == 4_000 * MS
    assert len(info.problems) == 1 and "unreadable event line" in info.problems[0]
    assert "log.jsonl" in info.problems[0]


def test_reads_values_by_time_range(tmp_path: Path) -> None:
    root = tmp_path / "run2"
    data = make_bundle(root)
    before = _files(root)
    with READER.open(root) as episode:
        chunk = episode.read_signal("/joints", 235 * MS, 530 * MS)  # spans row groups 0..2
        assert chunk.t_ns.tolist() == [t * 10 * MS for t in range(24, 53)]
        np.testing.assert_array_equal(
            chunk.channel("position/elbow"), data["joints"].fields["position"][24:53, 1]
        )
        np.testing.assert_array_equal(chunk.channel("temp"), data["joints"].fields["temp"][24:53])
        imu = episode.read_signal("imu", 100 * MS, 160 * MS)
        assert imu.t_ns.tolist() == [100 * MS, 120 * MS, 140 * MS]
        np.testing.assert_array_equal(imu.values, data["imu"].fields["accel"][5:8])
        wrench = episode.read_signal("/wrench", 100 * MS, 200 * MS)
        assert wrench.t_ns.tolist() == [104 * MS, 137 * MS, 170 * MS]
        np.testing.assert_allclose(wrench.values[:, :3], data["force"][3:6].astype(np.float32))
        assert wrench.channel("ok").tolist() == [0.0, 1.0, 0.0]
        assert len(episode.read_signal("/joints", 5_000 * MS, None)) == 0
        events = episode.read_events("/log", 1_000 * MS, 3_000 * MS)
        assert [(e.level, e.text, e.source) for e in events] == [
            ("WARN", "slow", "ctrl"),
            ("ERROR", "boom", "ctrl"),
        ]
        with pytest.raises(StreamNotFoundError):
            episode.read_signal("/nope")
    assert _files(root) == before  # nothing written into the bundle


def test_parquet_read_touches_only_overlapping_row_groups(tmp_path: Path) -> None:
    root = tmp_path / "run3"
    make_bundle(root)
    from robotrace_desktop.readers.tabular import open_table

    table = open_table(root / "signals/joints.parquet", "parquet")
    asked: list[list[int]] = []
    real = table._file.read_row_groups  # type: ignore[attr-defined]

    def spy(groups: list[int], **kwargs: Any) -> pa.Table:
        asked.append(list(groups))
        return real(groups, **kwargs)

    table._file.read_row_groups = spy  # type: ignore[attr-defined]
    t, _ = table.read(600 * MS, 700 * MS)
    assert asked == [[2]] and t[0] == 600 * MS and t[-1] == 690 * MS


def test_video_offset_and_timestamps_file(tmp_path: Path) -> None:
    root = tmp_path / "run4"
    data = make_bundle(root)
    with READER.open(root) as episode:
        front = episode.video("front")
        times = front.frame_times_ns()
        assert times[0] == 500 * MS and len(times) == 24
        assert front.frame_at(499 * MS) is None  # before the camera started
        frame = front.frame_at(500 * MS + round(3.5e9 / 30))  # inside frame 3's interval
        assert frame is not None and frame.index == 3
        assert read_frame_number(frame.rgb) == 3
        wrist = episode.video("wrist")
        assert wrist.frame_times_ns().tolist() == data["wrist_times"].tolist()
        shown = wrist.frame_at(395 * MS)
        assert shown is not None and shown.index == 4 and read_frame_number(shown.rgb) == 4


def test_missing_video_is_a_problem_and_the_rest_opens(tmp_path: Path) -> None:
    root = tmp_path / "run5"
    make_bundle(root)
    (root / "video/front.mp4").unlink()
    (root / "signals/wrench.feather").unlink()
    info = next(READER.index(root))
    problems = "\n".join(info.problems)
    assert "front.mp4" in problems and "not found" in problems
    assert "wrench.feather" in problems
    assert {s.name for s in info.streams} == {"wrist", "/joints", "imu", "battery", "/log"}
    assert info.status == Status.READY
    with READER.open(root) as episode:
        assert len(episode.read_signal("/joints")) == 100
        with pytest.raises(StreamNotFoundError):
            episode.video("front")


def test_nothing_readable_is_failed(tmp_path: Path) -> None:
    root = tmp_path / "run6"
    root.mkdir()
    (root / MANIFEST_NAME).write_text(
        json.dumps(
            {
                "format": "robotrace-episode",
                "format_version": 1,
                "name": "empty",
                "signals": [{"name": "/x", "path": "x.parquet"}],
            }
        )
    )
    info = next(READER.index(root))
    assert info.status == Status.FAILED and info.duration_ns == 0
    assert "x.parquet" in info.problems[0]
    assert info.id == episode_id(str(root.resolve()), None)  # no id in the manifest


def test_corrupt_json_names_the_manifest(tmp_path: Path) -> None:
    root = tmp_path / "run7"
    root.mkdir()
    (root / MANIFEST_NAME).write_text('{"format": "robotrace-episode", ')
    with pytest.raises(CorruptRecordingError) as err:
        list(READER.index(root))
    assert str(root / MANIFEST_NAME) in str(err.value) and "not valid JSON" in str(err.value)


def test_invalid_id_falls_back_to_path_id(tmp_path: Path) -> None:
    root = tmp_path / "run8"
    make_bundle(root, id="not hex!")
    assert next(READER.index(root)).id == episode_id(str(root.resolve()), None)


def test_corrupt_signal_file_is_a_problem(tmp_path: Path) -> None:
    root = tmp_path / "run9"
    make_bundle(root)
    (root / "signals/joints.parquet").write_bytes(b"PAR1 this is not parquet")
    info = next(READER.index(root))
    assert any("joints.parquet" in p and "parquet" in p for p in info.problems)
    assert "/joints" not in {s.name for s in info.streams}


def test_npz_object_arrays_are_never_unpickled(tmp_path: Path) -> None:
    root = tmp_path / "run10"
    root.mkdir()
    np.savez(
        root / "s.npz",
        **{
            "a/_t_ns": np.arange(3, dtype=np.int64),
            "a/v": np.arange(3.0),
            "a/evil": np.array([{"x": 1}, None, 3], dtype=object),
        },
    )
    (root / MANIFEST_NAME).write_text(
        json.dumps(
            {
                "format": "robotrace-episode",
                "format_version": 1,
                "signals": [{"name": "a", "path": "s.npz"}],
            }
        )
    )
    info = next(READER.index(root))
    assert info.stream("a").channels == ("v",)
    assert info.stream("a").details["skipped_arrays"] == ["evil"]
    with READER.open(root) as episode:
        assert episode.read_signal("a").values[:, 0].tolist() == [0.0, 1.0, 2.0]


def test_manifest_channel_count_mismatch_is_a_problem(tmp_path: Path) -> None:
    root = tmp_path / "run11"
    make_bundle(root)
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    manifest["signals"][2]["channels"] = ["only_one"]
    (root / MANIFEST_NAME).write_text(json.dumps(manifest))
    info = next(READER.index(root))
    assert info.stream("/wrench").channels == ("force[0]", "force[1]", "force[2]", "ok")
    assert any("lists 1 channels" in p and "/wrench" in p for p in info.problems)


def test_unsorted_times_are_sorted_on_read(tmp_path: Path) -> None:
    root = tmp_path / "run12"
    root.mkdir()
    write_npz(
        root / "s.npz",
        {"u": SignalData(np.array([30, 10, 20], dtype=np.int64), {"v": np.array([3.0, 1.0, 2.0])})},
    )
    (root / MANIFEST_NAME).write_text(
        json.dumps(
            {
                "format": "robotrace-episode",
                "format_version": 1,
                "signals": [{"name": "u", "path": "s.npz", "format": "npz"}],
            }
        )
    )
    info = next(READER.index(root))
    assert (info.stream("u").t_start_ns, info.stream("u").t_end_ns) == (10, 30)
    with READER.open(root) as episode:
        chunk = episode.read_signal("u", 15, None)
        assert chunk.t_ns.tolist() == [20, 30] and chunk.values[:, 0].tolist() == [2.0, 3.0]


def test_truncated_video_is_a_problem(tmp_path: Path) -> None:
    root = tmp_path / "run13"
    make_bundle(root)
    video = root / "video/front.mp4"
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    info = next(READER.index(root))
    assert any(p.startswith("video 'front'") and "front.mp4" in p for p in info.problems)
    assert "front" not in {s.name for s in info.streams}
    assert info.stream("/joints").count == 100 and info.stream("wrist").count == 10


def test_registry_picks_the_bundle_reader(tmp_path: Path) -> None:
    from robotrace_desktop.readers.registry import reader_for

    root = tmp_path / "run14"
    make_bundle(root)
    assert isinstance(reader_for(root), BundleReader)
