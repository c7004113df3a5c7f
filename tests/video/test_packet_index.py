"""Packet index: timestamp rules, the decode-order keyframe rule, persistence in the cache."""

from __future__ import annotations

import os
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.video import packet_index
from robotrace_desktop.video.cache import FrameCache
from robotrace_desktop.video.container import ContainerVideo
from robotrace_desktop.video.packet_index import (
    PacketIndex,
    effective_timestamps,
    index_cache_path,
    load_index,
    ticks_to_ns,
)
from tests.video.video_fixtures import frame_number, sequential_decode, write_video


def make_index(pts: list[int], keys: list[int]) -> PacketIndex:
    n = len(pts)
    key = np.zeros(n, dtype=bool)
    key[keys] = True
    return PacketIndex(
        time_base=Fraction(1, 30),
        pts_dec=np.array(pts, dtype=np.int64),
        dts_dec=np.arange(n, dtype=np.int64) - 2,
        key_dec=key,
        size_dec=np.full(n, 100, dtype=np.int64),
        pos_dec=np.arange(n, dtype=np.int64) * 100,
        discard_dec=np.zeros(n, dtype=bool),
        corrupt_dec=np.zeros(n, dtype=bool),
        synthetic=False,
        header_frames=n,
        header_duration_ns=0,
    )


def test_ticks_to_ns_is_exact_and_rounded() -> None:
    ticks = np.array([0, 512, 1024, 200704, -512], dtype=np.int64)
    assert ticks_to_ns(ticks, Fraction(1, 15360)).tolist() == [
        0,
        33_333_333,
        66_666_667,
        13_066_666_667,
        -33_333_333,
    ]
    assert ticks_to_ns(np.array([3003]), Fraction(1, 90000)).tolist() == [33_366_667]
    assert ticks_to_ns(np.array([1234]), Fraction(1, 1000)).tolist() == [1_234_000_000]
    # epoch-sized timestamps in ns time base stay exact (no float rounding)
    big = 1_700_000_000_123_456_789
    assert ticks_to_ns(np.array([big]), Fraction(1, 1_000_000_000)).tolist() == [big]
    assert ticks_to_ns(np.array([big // 1000]), Fraction(1, 1_000_000)).tolist() == [
        big // 1000 * 1000
    ]


def test_timestamp_fallback_rule() -> None:
    pts, dts, synthetic = effective_timestamps([0, None, 2], [0, 1, 2], Fraction(1))
    assert (pts, dts, synthetic) == ([0, 1, 2], [0, 1, 2], False)
    pts, dts, synthetic = effective_timestamps([0, 3, 1], [None, None, 1], Fraction(1))
    assert (pts, dts, synthetic) == ([0, 3, 1], [0, 3, 1], False)
    pts, _, synthetic = effective_timestamps([None] * 4, [None] * 4, Fraction(512))
    assert (pts, synthetic) == ([0, 512, 1024, 1536], True)


def test_presentation_order_and_closed_gop_seek_points() -> None:
    # decode order: I0 P3 B1 B2 | I6 P9 B7 B8  (pts in frame units)
    index = make_index([0, 3, 1, 2, 6, 9, 7, 8], keys=[0, 4])
    assert index.frame_pts.tolist() == [0, 1, 2, 3, 6, 7, 8, 9]
    assert index.frame_dec.tolist() == [0, 2, 3, 1, 4, 6, 7, 5]
    assert index.seek_dec.tolist() == [0, 0, 0, 0, 4, 4, 4, 4]


def test_open_gop_leading_frames_use_the_previous_keyframe() -> None:
    # decode order: I0 P3 B1 B2 | I6 B4 B5 P9 B7 B8 — B4, B5 follow I6 in decode order but are
    # shown before it: they reference P3 of the previous GOP.
    index = make_index([0, 3, 1, 2, 6, 4, 5, 9, 7, 8], keys=[0, 4])
    assert index.frame_pts.tolist() == list(range(10))
    assert index.seek_dec.tolist() == [0, 0, 0, 0, 0, 0, 4, 4, 4, 4]


def test_stream_not_starting_on_a_keyframe_decodes_from_the_start() -> None:
    index = make_index([0, 1, 2, 3, 4], keys=[2])
    assert index.seek_dec.tolist() == [-1, -1, 2, 2, 2]


def test_raw_stream_without_timestamps_counts_frames(tmp_path: Path) -> None:
    """A raw H.264 elementary stream has no timestamps: frames are timed by counting at the
    average rate and always decoded forward from the start — still exact."""
    path = write_video(tmp_path / "raw.h264", "libx264", 30)
    index = load_index(path)
    assert index.synthetic
    _, reference = sequential_decode(path)
    with ContainerVideo(path, "cam", cache=FrameCache(0)) as video:
        times = video.frame_times_ns()
        steps = np.diff(times)
        assert len(times) == 30 and times[0] == 0
        assert steps.min() > 0 and steps.max() - steps.min() <= 1  # a constant rate
        for i in random.Random(2).sample(range(30), 30):
            got = video.frame(i)
            assert np.array_equal(got.rgb, reference[i]) and frame_number(got.rgb) == i
        assert video.stats["seeks"] == 0


def test_index_is_cached_under_robotrace_home_and_reused(
    tmp_path: Path, robotrace_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    videos = tmp_path / "videos"
    path = write_video(videos / "cam.mp4", "libx264", 24)
    before = sorted(os.listdir(videos))
    first = load_index(path)
    cache_file = index_cache_path(path)
    assert cache_file.is_file()
    assert cache_file.parent == robotrace_home / "cache" / "video_index"
    assert sorted(os.listdir(videos)) == before  # nothing next to the video

    packet_index.forget_memo()  # the next loads must come from the cache file
    calls: list[Path] = []
    real_build = packet_index.build_index
    monkeypatch.setattr(packet_index, "build_index", lambda p: calls.append(p) or real_build(p))
    second = load_index(path)
    assert calls == []  # read from the cache file, no demux
    assert load_index(path) is second  # and then from memory
    np.testing.assert_array_equal(second.frame_pts, first.frame_pts)
    np.testing.assert_array_equal(second.seek_dec, first.seek_dec)
    assert second.time_base == first.time_base

    # a damaged cache file is ignored and rebuilt
    cache_file.write_bytes(b"not an npz")
    packet_index.forget_memo()
    third = load_index(path)
    assert len(calls) == 1
    np.testing.assert_array_equal(third.frame_pts, first.frame_pts)
    with np.load(cache_file, allow_pickle=False) as data:
        assert len(data["pts_dec"]) == 24

    # a changed file gets a new index (size/mtime are part of the key)
    write_video(path, "libx264", 30)
    os.utime(path, ns=(1, 1))
    assert load_index(path).frame_count == 30
    assert len(calls) == 2
    assert sorted(os.listdir(videos)) == before
    assert not list(videos.glob("*.npz"))


def test_unwritable_cache_folder_still_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_video(tmp_path / "v.mp4", "libx264", 10)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setattr(packet_index.paths, "cache_dir", lambda: blocker)
    assert load_index(path).frame_count == 10
