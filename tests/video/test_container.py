"""ContainerVideo: every frame equals a sequential decode, for every codec/container we meet."""

from __future__ import annotations

import random
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from robotrace_desktop.errors import CorruptRecordingError, RecordingError
from robotrace_desktop.video.cache import FrameCache
from robotrace_desktop.video.container import ContainerVideo, probe_video
from tests.video.video_fixtures import (
    CODECS,
    frame_number,
    packet_order,
    sequential_decode,
    tolerant_decode,
    truncate,
    write_video,
)

N_FRAMES = 48


def check_exact(video: ContainerVideo, reference: list[np.ndarray], indices: list[int]) -> None:
    """frame(i) for each i (in the given order) equals the reference decode, pixel for pixel."""
    for i in indices:
        got = video.frame(i)
        fi = video.file_frames[i]
        assert got.index == i
        assert got.t_ns == int(video.frame_times_ns()[i])
        assert got.rgb.shape == reference[fi].shape and got.rgb.dtype == np.uint8
        assert np.array_equal(got.rgb, reference[fi]), f"frame {i} differs from sequential decode"


def check_frame_at(video: ContainerVideo, painted: list[int] | None = None) -> None:
    """frame_at(t) is the frame whose [t_i, t_{i+1}) holds t: inside, on the boundary, just before
    the next frame; None before the first frame and after the last one's interval."""
    times = video.frame_times_ns()
    n = len(times)
    assert video.frame_at(int(times[0]) - 1) is None
    for i in sorted(random.Random(7).sample(range(n), min(n, 12))):
        start = int(times[i])
        end = int(times[i + 1]) if i + 1 < n else start + video.nominal_frame_ns()
        for t in (start, (start + end) // 2, end - 1):
            got = video.frame_at(t)
            assert got is not None and got.index == i, (t, i, got and got.index)
            if painted is not None:
                assert frame_number(got.rgb) == painted[i]
    assert video.frame_at(int(times[-1]) + video.nominal_frame_ns()) is None


def shuffled(n: int, seed: int) -> list[int]:
    """Random order with backward jumps, repeats and a few forward runs."""
    rng = random.Random(seed)
    order = rng.sample(range(n), n)
    order += [n - 1, 0, n // 2, n // 2 + 1, n // 2 + 2, 3, 2, 1]
    return order


CASES = [
    "libx264",
    "libx264-open-gop",
    "libx265",
    "libx265-open-gop",
    "libvpx-vp9",
    "libsvtav1",
    "mjpeg",
    "mpeg4",
]


@pytest.mark.parametrize("codec", CASES)
def test_codec_frames_equal_sequential_decode(tmp_path: Path, codec: str) -> None:
    suffix = CODECS[codec][0]
    path = write_video(tmp_path / f"clip{suffix}", codec, N_FRAMES)
    pts, _, _ = packet_order(path)
    if codec.startswith(("libx264", "libx265", "mpeg4")):
        assert pts != sorted(pts), "fixture has no B-frames: decode order equals pts order"
    _, reference = sequential_decode(path)
    assert [frame_number(f) for f in reference] == list(range(N_FRAMES))

    # no cache at all: every request decodes (seek, continue, fallbacks)
    with ContainerVideo(path, "cam", cache=FrameCache(0)) as video:
        assert len(video) == N_FRAMES
        check_exact(video, reference, shuffled(N_FRAMES, 1))
        assert video.stats["restarts"] == 0, "seeking had to fall back to decoding from the start"
        check_frame_at(video, list(range(N_FRAMES)))
    # a small cache: hits, YUV frames cached on the way, evictions
    with ContainerVideo(path, "cam", cache=FrameCache(300_000)) as video:
        check_exact(video, reference, shuffled(N_FRAMES, 2) + shuffled(N_FRAMES, 3))


def test_mjpeg_in_mkv(tmp_path: Path) -> None:
    path = write_video(tmp_path / "mjpeg.mkv", "mjpeg", 30)
    _, reference = sequential_decode(path)
    with ContainerVideo(path, "cam", cache=FrameCache(0)) as video:
        check_exact(video, reference, shuffled(30, 4))
        # Matroska stores milliseconds: frame k is at round(k * 1000 / 30) ms
        expected_ms = (np.arange(30) * 1000 + 15) // 30
        np.testing.assert_array_equal(video.frame_times_ns(), expected_ms * 1_000_000)


def test_open_gop_leading_frames_start_one_keyframe_earlier(tmp_path: Path) -> None:
    """HEVC CRA / x264 open-GOP: frames that follow a keyframe in decode order but are shown
    before it reference the previous GOP — they must be decoded from the previous keyframe."""
    path = write_video(tmp_path / "open.mkv", "libx265-open-gop", 40)
    with ContainerVideo(path, "cam", cache=FrameCache(0)) as video:
        index = video.index
        keys = np.flatnonzero(index.key_dec)
        latest = keys[np.searchsorted(keys, index.frame_dec, side="right") - 1]
        leading = np.flatnonzero(index.pts_dec[latest] > index.frame_pts)
        assert len(leading) > 0, "fixture has no leading (open-GOP) frames"
        assert np.all(index.seek_dec[leading] < latest[leading])
        _, reference = sequential_decode(path)
        check_exact(video, reference, [int(i) for i in leading[::-1]])


def test_sequential_steps_continue_the_decoder(tmp_path: Path) -> None:
    path = write_video(tmp_path / "seq.mp4", "libx264", N_FRAMES)
    _, reference = sequential_decode(path)
    with ContainerVideo(path, "cam", cache=FrameCache(0)) as video:
        video.frame(5)
        seeks = video.stats["seeks"] + video.stats["restarts"]
        check_exact(video, reference, list(range(6, N_FRAMES)))
        assert video.stats["seeks"] + video.stats["restarts"] == seeks
        assert video.stats["continued"] == N_FRAMES - 6
        # jumping back needs a new seek, and is still exact
        check_exact(video, reference, [4])
        assert video.stats["seeks"] == seeks + 1


def test_variable_frame_rate(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    steps = rng.integers(15, 70, size=N_FRAMES)  # ms between frames, irregular
    pts_ms = np.concatenate([[0], np.cumsum(steps)[:-1]])
    path = write_video(
        tmp_path / "vfr.mkv", "libx264", N_FRAMES, pts=pts_ms.tolist(), time_base=Fraction(1, 1000)
    )
    assert packet_order(path)[0] != sorted(packet_order(path)[0])
    _, reference = sequential_decode(path)
    with ContainerVideo(path, "cam", cache=FrameCache(0)) as video:
        np.testing.assert_array_equal(video.frame_times_ns(), pts_ms * 1_000_000)
        check_exact(video, reference, shuffled(N_FRAMES, 5))
        check_frame_at(video, list(range(N_FRAMES)))
        # the longest gap: a time late in it still shows the earlier frame
        i = int(np.argmax(steps[:-1]))
        assert video.frame_at(int(pts_ms[i + 1]) * 1_000_000 - 1).index == i


def test_clip_window_like_lerobot_v3(tmp_path: Path) -> None:
    """Three 20-frame episodes in one mp4; episode 2 is [40/30 s, 60/30 s) as float seconds."""
    path = write_video(tmp_path / "file-000.mp4", "libx264", 60)
    _, reference = sequential_decode(path)
    from_s, to_s = 40 / 30, 60 / 30
    with ContainerVideo(
        path,
        "observation.images.top",
        clip_start_ns=int(from_s * 1e9),
        clip_end_ns=int(to_s * 1e9),
        cache=FrameCache(0),
    ) as video:
        assert len(video) == 20
        assert list(video.file_frames) == list(range(40, 60))
        times = video.frame_times_ns()
        assert times[0] == 0
        np.testing.assert_allclose(times, np.arange(20) * 1e9 / 30, atol=2)
        check_exact(video, reference, shuffled(20, 6))
        assert frame_number(video.frame(0).rgb) == 40
        check_frame_at(video, list(range(40, 60)))
    # the middle episode of three, bounds rounded the other way (float seconds → ns)
    with ContainerVideo(
        path, "top", clip_start_ns=int(np.ceil(20 / 30 * 1e9)), clip_end_ns=int(40 / 30 * 1e9) + 1
    ) as video:
        assert list(video.file_frames) == list(range(20, 40))
        assert frame_number(video.frame(19).rgb) == 39


def test_empty_clip_window_is_a_clear_error(tmp_path: Path) -> None:
    path = write_video(tmp_path / "short.mp4", "libx264", 10)
    with pytest.raises(CorruptRecordingError, match=r"short\.mp4: no video frames between"):
        ContainerVideo(path, "cam", clip_start_ns=5_000_000_000, clip_end_ns=6_000_000_000)


def test_offset_shifts_episode_time(tmp_path: Path) -> None:
    path = write_video(tmp_path / "late.mp4", "libx264", 30)
    with ContainerVideo(path, "cam", offset_ns=500_000_000) as video:
        assert video.frame_times_ns()[0] == 500_000_000
        assert video.frame_at(499_999_999) is None
        assert frame_number(video.frame_at(500_000_000).rgb) == 0
        assert frame_number(video.frame_at(500_000_000 + 10 * 33_333_334).rgb) == 10


def test_override_times(tmp_path: Path) -> None:
    path = write_video(tmp_path / "logged.mp4", "libx264", 30)
    logged = np.cumsum(np.r_[0, np.full(29, 40_000_000)]) + 7
    logged[10:] += 300_000_000  # a 300 ms stall the container's nominal rate hides
    _, reference = sequential_decode(path)
    with ContainerVideo(path, "cam", override_times_ns=logged, cache=FrameCache(0)) as video:
        np.testing.assert_array_equal(video.frame_times_ns(), logged)
        assert not video.problems
        assert video.frame_at(int(logged[10]) - 1).index == 9
        assert frame_number(video.frame_at(int(logged[10])).rgb) == 10
        check_exact(video, reference, [29, 3, 17])
        check_frame_at(video, list(range(30)))
    # more logged times than frames: shown up to the frames there are, and said so
    with ContainerVideo(path, "cam", override_times_ns=np.arange(35) * 10) as video:
        assert len(video) == 30
        assert "35 logged frame timestamps for 30 video frames" in video.problems[0]
    with pytest.raises(CorruptRecordingError, match="not in increasing order"):
        ContainerVideo(path, "cam", override_times_ns=np.arange(30)[::-1].copy())


def test_truncated_mp4_without_index_fails_at_open(tmp_path: Path) -> None:
    full = write_video(tmp_path / "full.mp4", "libx264", 60)  # moov atom at the end
    cut = truncate(full, 0.7, tmp_path / "cut.mp4")
    with pytest.raises(CorruptRecordingError, match=r"cut\.mp4: cannot open video"):
        ContainerVideo(cut, "cam")
    with pytest.raises(CorruptRecordingError, match=r"cut\.mp4"):
        probe_video(cut)


@pytest.mark.parametrize(
    ("name", "codec", "options"),
    [
        ("faststart.mp4", "libx264", {"movflags": "faststart"}),
        ("av1.mp4", "libsvtav1", {"movflags": "faststart"}),
        ("cut.mkv", "libx264", {}),
        ("cut.webm", "libvpx-vp9", {}),
        ("cut.avi", "mjpeg", {}),
    ],
)
def test_truncated_file_opens_with_readable_frames(
    tmp_path: Path, name: str, codec: str, options: dict[str, str]
) -> None:
    full = write_video(tmp_path / f"full_{name}", codec, 90, container_options=options)
    cut = truncate(full, 0.7, tmp_path / name)
    reference = tolerant_decode(cut)
    with ContainerVideo(cut, "cam", cache=FrameCache(0)) as video:
        assert 20 < len(video) < 90
        assert any("truncated" in p and name in p for p in video.problems), video.problems
        pts = video.index.frame_pts
        # frames a player could not decode either (their data lies past the cut) say so clearly
        undecodable = [i for i in range(len(video)) if int(pts[i]) not in reference]
        assert len(undecodable) <= 2
        for i in [len(video) - 1, *shuffled(len(video), 8)]:
            if i in undecodable:
                with pytest.raises(CorruptRecordingError, match=rf"{name}: frame {i} .*decoded"):
                    video.frame(i)
                continue
            got = video.frame(i)
            assert np.array_equal(got.rgb, reference[int(pts[i])])
            assert frame_number(got.rgb) == round(int(video.frame_times_ns()[i]) * 30 / 1e9)
        with pytest.raises(IndexError, match=rf"{name}: frame {len(video)} out of range"):
            video.frame(len(video))
        assert video.frame_at(int(video.frame_times_ns()[-1]) + 10**9) is None


def test_unreadable_frame_is_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    """Index built from the whole file, then the file is cut: decoding past the cut says so."""
    path = write_video(tmp_path / "shrunk.mkv", "libx264", 60)
    data = path.read_bytes()
    with ContainerVideo(path, "cam", cache=FrameCache(0)) as video:
        video.frame(0)
        video.close()
        path.write_bytes(data[: len(data) // 2])  # same index object, file now shorter
        with pytest.raises(CorruptRecordingError, match=r"shrunk\.mkv: frame 59 .*could not"):
            video.frame(59)


def test_zero_byte_missing_no_video_and_garbage(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(CorruptRecordingError, match=r"empty\.mp4: video file is empty"):
        ContainerVideo(empty, "cam")
    with pytest.raises(CorruptRecordingError, match="empty"):
        probe_video(empty)
    missing = tmp_path / "gone.mp4"
    with pytest.raises(RecordingError, match=r"gone\.mp4: video file is missing"):
        ContainerVideo(missing, "cam")
    with pytest.raises(RecordingError, match="video file is missing"):
        probe_video(missing)
    garbage = tmp_path / "noise.mp4"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(CorruptRecordingError, match=r"noise\.mp4: cannot open video"):
        ContainerVideo(garbage, "cam")
    audio = tmp_path / "audio.mka"
    with av.open(str(audio), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    with pytest.raises(RecordingError, match=r"audio\.mka: no video stream in file \(streams: aud"):
        ContainerVideo(audio, "cam")


def test_probe_reads_the_header(tmp_path: Path) -> None:
    mp4 = write_video(tmp_path / "a.mp4", "libx264", 45, width=160, height=96)
    probe = probe_video(mp4)
    assert (probe.codec, probe.width, probe.height, probe.frame_count) == ("h264", 160, 96, 45)
    assert probe.fps == pytest.approx(30.0)
    assert probe.duration_ns == 1_500_000_000
    webm = write_video(tmp_path / "b.webm", "libvpx-vp9", 20)
    probe = probe_video(webm)
    assert probe.codec == "vp9" and probe.frame_count is None
    assert probe.duration_ns == pytest.approx(20 / 30 * 1e9, abs=1e6)


def test_decode_range_prefetch_and_nearest_cached(tmp_path: Path) -> None:
    path = write_video(tmp_path / "p.mp4", "libx264", N_FRAMES)
    _, reference = sequential_decode(path)
    cache = FrameCache(64 << 20)
    with ContainerVideo(path, "cam", cache=cache) as video:
        assert video.nearest_cached(10) is None
        assert video.decode_range(10, 20) == 10
        assert all(video.is_cached(i) for i in range(10, 20))
        assert video.decode_range(10, 20) == 0  # all cached already
        near = video.nearest_cached(30)
        assert near is not None and near.index == 19 and frame_number(near.rgb) == 19
        # the frames decoded on the way from the keyframe (0) to frame 10 were kept too
        assert all(video.is_cached(i) for i in range(10))
        assert video.nearest_cached(3).index == 3
        decoded_before = video.stats["decoded"]
        check_exact(video, reference, list(range(10, 20)))
        assert video.stats["decoded"] == decoded_before  # served from the cache
        assert video.prefetch([30, 31, 32, 40, 41, 99, -1]) == 5
        assert all(video.is_cached(i) for i in (30, 31, 32, 40, 41))
        # frames decoded on the way to 40 (from its keyframe at 36) are cached too, as YUV
        assert video.is_cached(38)
        check_exact(video, reference, [38, 40, 32])
    # two clips of the same file share the cache
    with ContainerVideo(path, "again", cache=cache, clip_start_ns=10**9) as other:
        assert other.is_cached(0)  # file frame 30
        assert frame_number(other.frame(0).rgb) == 30


def test_threads_share_one_container(tmp_path: Path) -> None:
    path = write_video(tmp_path / "t.mp4", "libx264", N_FRAMES)
    _, reference = sequential_decode(path)
    errors: list[BaseException] = []
    with ContainerVideo(path, "cam", cache=FrameCache(200_000)) as video:

        def worker(seed: int) -> None:
            try:
                check_exact(video, reference, shuffled(N_FRAMES, seed))
                for i in shuffled(N_FRAMES, seed + 10)[:20]:
                    near = video.nearest_cached(i)
                    if near is not None:
                        assert np.array_equal(near.rgb, reference[near.index])
            except BaseException as exc:  # surfaced in the main thread below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors[0]


def test_frames_are_read_only(tmp_path: Path) -> None:
    path = write_video(tmp_path / "ro.mp4", "libx264", 5)
    with ContainerVideo(path, "cam") as video:
        with pytest.raises(ValueError):
            video.frame(0).rgb[0, 0, 0] = 1
        with pytest.raises(ValueError):
            video.frame_times_ns()[0] = 1


def test_real_av1_lerobot_episode(shared_data: Path) -> None:
    path = (
        shared_data / "lerobot/g1_pick_bottle_v21/videos/chunk-000/"
        "observation.images.cam_high/episode_000001.mp4"
    )
    listing = sorted(p.name for p in path.parent.iterdir())
    probe = probe_video(path)
    assert (probe.codec, probe.width, probe.height, probe.frame_count) == ("av1", 640, 480, 393)
    wanted = [*random.Random(11).sample(range(393), 25), 392, 0, 200, 199, 201]
    reference: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k in wanted:
                reference[k] = frame.to_ndarray(format="rgb24")
    with ContainerVideo(path, "observation.images.cam_high", cache=FrameCache(0)) as video:
        assert len(video) == 393
        expected = (np.arange(393) * 1_000_000_000 + 15) // 30  # k/30 s, rounded to ns
        np.testing.assert_array_equal(video.frame_times_ns(), expected)
        for i in wanted:
            assert np.array_equal(video.frame(i).rgb, reference[i]), f"frame {i}"
        assert video.frame_at(13_066_666_667).index == 392
        assert video.frame_at(13_066_666_666).index == 391
        assert video.frame_at(13_100_000_000) is None
        assert np.array_equal(video.frame_at(6_666_666_667).rgb, reference[200])
        assert np.array_equal(video.frame_at(6_666_666_666).rgb, reference[199])
    assert sorted(p.name for p in path.parent.iterdir()) == listing
